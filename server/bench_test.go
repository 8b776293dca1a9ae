package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
)

// benchServer serves a registry of n synthetic sessions without a network, so
// the figures are the handler's own.
func benchServer(b *testing.B, n int) http.Handler {
	b.Helper()
	reg := core.NewRegistry(nil)
	users := []string{"maxuser", "app", "report", "etl"}
	for i := range n {
		reg.Open(core.Session{
			Service: "Read-Connection-Router", State: core.StateReady,
			User: users[i%len(users)], Remote: "127.0.0.1",
		})
	}
	return server.New(server.Config{
		Sessions: reg,
		Topology: testTopology(),
		Users:    newUsers(b),
		// The token is fetched over plain HTTP from the recorder.
		InsecureGUI: true,
	}).Handler()
}

// benchGet authenticates with a bearer token: a Basic login costs a bcrypt
// comparison, which would swamp the handler's own time.
func benchGet(b *testing.B, h http.Handler, target string) {
	b.Helper()
	login := httptest.NewRequest(http.MethodGet, "/v1/auth", nil)
	login.SetBasicAuth(adminUser, adminPass)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, login)
	var doc struct {
		Meta struct {
			Token string `json:"token"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Meta.Token == "" {
		b.Fatalf("GET /v1/auth: status %d: %s", rec.Code, rec.Body)
	}
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+doc.Meta.Token)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkListSessions10k(b *testing.B) {
	benchGet(b, benchServer(b, 10_000), "/v1/sessions?pretty=false")
}

// The target: a 50-row page at 100k sessions in under 1 ms, with
// allocations that do not grow with the number of sessions.
func BenchmarkPage50(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			benchGet(b, benchServer(b, n), "/v1/sessions?pretty=false&page[size]=50&page[number]=7")
		})
	}
}

func BenchmarkFilter100k(b *testing.B) {
	q := url.Values{"filter": {`/attributes/user="report"`}, "page[size]": {"50"}, "pretty": {"false"}}
	benchGet(b, benchServer(b, 100_000), "/v1/sessions?"+q.Encode())
}
