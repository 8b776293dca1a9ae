package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
)

// TestMetricsScrape scrapes the real handler with sessions in the registry
// and checks the series computed from them.
func TestMetricsScrape(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	nine, ten := f.openSeed(t)
	nine.CountIn(100, 2)
	nine.CountOut(1000, 5)
	nine.CountQuery()
	nine.CountQuery()
	ten.CountIn(50, 1)
	ten.CountQuery()
	ro := f.reg.Open(core.Session{Service: "Read-Only", State: core.StateAllocated})
	ro.CountOut(7, 1)

	// The stream connection shows up in portico_stream_connections; the
	// first frame proves the server admitted it.
	c := f.dial(t, "", basicHeader())
	readFrame(t, c, 5*time.Second)

	resp := f.get(t, "", "/metrics", admin)
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d; body:\n%s", resp.status, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q; want the text exposition format", ct)
	}
	want := []string{
		`portico_sessions{service="RW-Split-Router",state="Session ready for routing"} 2`,
		`portico_sessions{service="Read-Only",state="Session Allocated"} 1`,
		`portico_sessions_opened_total{service="RW-Split-Router"} 10`,
		`portico_sessions_opened_total{service="Read-Only"} 1`,
		`portico_session_bytes{direction="in"} 150`,
		`portico_session_bytes{direction="out"} 1007`,
		`portico_session_packets{direction="in"} 3`,
		`portico_session_packets{direction="out"} 6`,
		`portico_session_queries{service="RW-Split-Router"} 3`,
		`portico_session_queries{service="Read-Only"} 0`,
		`portico_stream_connections 1`,
		`# TYPE go_goroutines gauge`,
		`# TYPE process_cpu_seconds_total counter`,
	}
	lines := strings.Split(string(resp.body), "\n")
	for _, w := range want {
		t.Run(w, func(t *testing.T) {
			for _, l := range lines {
				if l == w {
					return
				}
			}
			t.Errorf("missing line %q in:\n%s", w, metricLines(resp.body, "portico_"))
		})
	}
}

// metricLines keeps the exposition's lines with prefix, for failure output.
func metricLines(body []byte, prefix string) string {
	var out []string
	for l := range bytes.Lines(body) {
		if bytes.HasPrefix(l, []byte(prefix)) {
			out = append(out, strings.TrimSpace(string(l)))
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsAuth checks that /metrics asks for the API's credentials unless
// admin_metrics_auth=false turns them off.
func TestMetricsAuth(t *testing.T) {
	tests := []struct {
		name        string
		withoutAuth bool
		method      string
		auth        auth
		want        int
	}{
		{"auth on, no credentials", false, http.MethodGet, noAuth, http.StatusUnauthorized},
		{"auth on, wrong password", false, http.MethodGet, basic(adminUser, "wrong"), http.StatusUnauthorized},
		{"auth on, admin", false, http.MethodGet, admin, http.StatusOK},
		{"auth on, HEAD without credentials", false, http.MethodHead, noAuth, http.StatusUnauthorized},
		{"auth on, HEAD as admin", false, http.MethodHead, admin, http.StatusOK},
		{"auth off, no credentials", true, http.MethodGet, noAuth, http.StatusOK},
		{"auth off, HEAD", true, http.MethodHead, noAuth, http.StatusOK},
		{"auth off, admin", true, http.MethodGet, admin, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := core.NewRegistry(time.Now)
			api := server.New(server.Config{
				Sessions:           reg,
				Topology:           testTopology(),
				Users:              newUsers(t),
				InsecureGUI:        true,
				Logger:             slog.New(slog.DiscardHandler),
				MetricsWithoutAuth: tt.withoutAuth,
			})
			srv := httptest.NewServer(api.Handler())
			t.Cleanup(srv.Close)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.auth(req)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body:\n%s", resp.StatusCode, tt.want, body)
			}
			if tt.want == http.StatusOK && tt.method == http.MethodGet && !bytes.Contains(body, []byte("# TYPE portico_stream_connections gauge")) {
				t.Errorf("body is not the exposition:\n%s", body)
			}
		})
	}
}
