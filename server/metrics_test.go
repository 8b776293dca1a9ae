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

// TestMetricsScrape scrapes the real handler over a real registry and
// checks the series computed from it, before and after sessions close.
func TestMetricsScrape(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	nine, ten := f.openSeed(t)
	nine.CountIn(100, 2)
	nine.CountOut(1000, 5)
	nine.CountQuery()
	nine.QueryDone(3 * time.Millisecond)
	nine.CountQuery()
	nine.QueryDone(20 * time.Second)
	ten.CountIn(50, 1)
	ten.CountQuery()
	ten.AuthFailed()
	ro := f.reg.Open(core.Session{Service: "Read-Only", State: core.StateAllocated})
	ro.CountOut(7, 1)

	// The stream connection shows up in portico_stream_subscribers; the
	// first frame proves the server admitted it. A client resuming from
	// another process's revision is reset.
	c := f.dial(t, "", basicHeader())
	readFrame(t, c, 5*time.Second)
	reset := f.dialQuery(t, "", basicHeader(), "?since=0123456789abcdef:1")
	if fr := readFrame(t, reset, 5*time.Second); fr.Type != "reset" {
		t.Fatalf("resuming from another epoch: %s frame, want reset", fr.Type)
	}

	live := map[string]string{
		`portico_sessions{service="RW-Split-Router",state="Session ready for routing"}`: "2",
		`portico_sessions{service="RW-Split-Router",state="Session Allocated"}`:         "0",
		`portico_sessions{service="Read-Only",state="Session Allocated"}`:               "1",
		// Configured services have series before their first session.
		`portico_sessions{service="Read-Connection-Router",state="Session ready for routing"}`: "0",
		`portico_connects_total{service="Read-Connection-Router"}`:                             "0",
		`portico_query_duration_seconds_count{service="Read-Connection-Router"}`:               "0",
		`portico_query_duration_seconds_bucket{service="Read-Connection-Router",le="10"}`:      "0",

		`portico_connects_total{service="RW-Split-Router"}`:                            "10",
		`portico_connects_total{service="Read-Only"}`:                                  "1",
		`portico_auth_failures_total{service="RW-Split-Router"}`:                       "1",
		`portico_auth_failures_total{service="Read-Only"}`:                             "0",
		`portico_kills_total{service="RW-Split-Router"}`:                               "0",
		`portico_bytes_total{direction="in",service="RW-Split-Router"}`:                "150",
		`portico_bytes_total{direction="out",service="RW-Split-Router"}`:               "1000",
		`portico_bytes_total{direction="out",service="Read-Only"}`:                     "7",
		`portico_packets_total{direction="in",service="RW-Split-Router"}`:              "3",
		`portico_packets_total{direction="out",service="RW-Split-Router"}`:             "5",
		`portico_queries_total{service="RW-Split-Router"}`:                             "3",
		`portico_queries_total{service="Read-Only"}`:                                   "0",
		`portico_query_duration_seconds_bucket{service="RW-Split-Router",le="0.0001"}`: "0",
		`portico_query_duration_seconds_bucket{service="RW-Split-Router",le="0.0025"}`: "0",
		`portico_query_duration_seconds_bucket{service="RW-Split-Router",le="0.005"}`:  "1",
		`portico_query_duration_seconds_bucket{service="RW-Split-Router",le="10"}`:     "1",
		`portico_query_duration_seconds_bucket{service="RW-Split-Router",le="+Inf"}`:   "2",
		`portico_query_duration_seconds_sum{service="RW-Split-Router"}`:                "20.003",
		`portico_query_duration_seconds_count{service="RW-Split-Router"}`:              "2",
		`portico_stream_subscribers`:                                                   "2",
		`portico_stream_resets_total{reason="epoch"}`:                                  "1",
		`portico_stream_resets_total{reason="lagging"}`:                                "0",
		`portico_stream_lagging_total`:                                                 "0",
		`portico_stream_dropped_total`:                                                 "0",
	}
	checkMetrics(t, f.scrape(t), live)

	// An operator's kill through the API counts once the session is gone
	// too, and so does every counter of the closed sessions.
	if r := f.do(t, http.MethodDelete, "", "/v1/sessions/10", admin); r.status != http.StatusOK {
		t.Fatalf("DELETE /v1/sessions/10: %d %s", r.status, r.body)
	}
	ten.Close()
	nine.Close()
	closed := map[string]string{
		`portico_sessions{service="RW-Split-Router",state="Session ready for routing"}`: "0",
		`portico_sessions{service="RW-Split-Router",state="Stopping session"}`:          "0",
		`portico_kills_total{service="RW-Split-Router"}`:                                "1",
		`portico_connects_total{service="RW-Split-Router"}`:                             "10",
		`portico_auth_failures_total{service="RW-Split-Router"}`:                        "1",
		`portico_bytes_total{direction="in",service="RW-Split-Router"}`:                 "150",
		`portico_packets_total{direction="out",service="RW-Split-Router"}`:              "5",
		`portico_queries_total{service="RW-Split-Router"}`:                              "3",
		`portico_query_duration_seconds_count{service="RW-Split-Router"}`:               "2",
	}
	checkMetrics(t, f.scrape(t), closed)
}

// scrape GETs /metrics as admin and returns its samples, keyed by series
// as the text format spells it (name and labels).
func (f *fixture) scrape(t *testing.T) map[string]string {
	t.Helper()
	resp := f.get(t, "", "/metrics", admin)
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d; body:\n%s", resp.status, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q; want the text exposition format", ct)
	}
	for _, w := range []string{"# TYPE portico_query_duration_seconds histogram", "# TYPE portico_bytes_total counter",
		"# TYPE go_goroutines gauge", "# TYPE process_cpu_seconds_total counter"} {
		if !bytes.Contains(resp.body, []byte(w+"\n")) {
			t.Errorf("no %q in the exposition", w)
		}
	}
	samples := make(map[string]string)
	for l := range strings.Lines(string(resp.body)) {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			t.Fatalf("sample line without a value: %q", l)
		}
		samples[l[:i]] = l[i+1:]
	}
	return samples
}

func checkMetrics(t *testing.T, got, want map[string]string) {
	t.Helper()
	for series, v := range want {
		t.Run(series, func(t *testing.T) {
			if g, ok := got[series]; !ok || g != v {
				t.Errorf("%s = %q (present: %v), want %s", series, g, ok, v)
			}
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
			if tt.want == http.StatusOK && tt.method == http.MethodGet && !bytes.Contains(body, []byte("# TYPE portico_stream_subscribers gauge")) {
				t.Errorf("body is not the exposition:\n%s", body)
			}
		})
	}
}
