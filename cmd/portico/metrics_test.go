package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMetricsCountRealSessions runs real clients through the whole Portico in
// front of the real MariaDB and scrapes /metrics as Prometheus would: a
// statement is counted and timed, a wrong password is an authentication
// failure, a DELETE through the API is a kill, and none of it is forgotten
// once the sessions have closed.
func TestMetricsCountRealSessions(t *testing.T) {
	a := startApp(t)
	svc := `{service="` + testService + `"}`
	series := func(name string) string { return name + svc }
	before := scrapeMetrics(t, a)
	for _, name := range []string{"portico_connects_total", "portico_auth_failures_total", "portico_kills_total",
		"portico_queries_total", "portico_query_duration_seconds_count"} {
		if v, ok := before[series(name)]; !ok || v != 0 {
			t.Errorf("%s = %v (present: %v) before any client, want 0", series(name), v, ok)
		}
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// Two statements: one in the text protocol, one prepared and executed.
	db := openDB(t, a.listenerAddr(), "maxpwd", nil)
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "SELECT ? + 1", 1).Scan(&n); err != nil || n != 2 {
		t.Fatalf("SELECT ? + 1 = %d, %v", n, err)
	}
	live := scrapeMetrics(t, a)

	if err := openDB(t, a.listenerAddr(), "wrong", nil).PingContext(ctx); err == nil {
		t.Fatal("a wrong password logged in")
	}
	db.Close()
	waitAPI(t, a, eventDeadline, "no sessions", func(l []apiSession) bool { return len(l) == 0 })

	// oneSession runs one statement (DO 1) before it is killed.
	_, id := oneSession(t, a)
	deleteSession(t, a, id, "")
	waitAPI(t, a, eventDeadline, "no sessions", func(l []apiSession) bool { return len(l) == 0 })

	after := scrapeMetrics(t, a)
	want := map[string]float64{
		series("portico_connects_total"):               3,
		series("portico_auth_failures_total"):          1,
		series("portico_kills_total"):                  1,
		series("portico_queries_total"):                3,
		series("portico_query_duration_seconds_count"): 3,
	}
	want[`portico_sessions{service="`+testService+`",state="`+stateReady+`"}`] = 0
	for s, v := range want {
		if got, ok := after[s]; !ok || got != v {
			t.Errorf("%s = %v (present: %v), want %v", s, got, ok, v)
		}
	}
	if got := after[`portico_query_duration_seconds_bucket{service="`+testService+`",le="+Inf"}`]; got != 3 {
		t.Errorf("the +Inf bucket holds %v statements, want 3", got)
	}
	// What the first client did while it was live is still counted, and
	// more since: counters never go down when sessions close.
	for _, s := range []string{
		`portico_bytes_total{direction="in",service="` + testService + `"}`,
		`portico_bytes_total{direction="out",service="` + testService + `"}`,
		`portico_packets_total{direction="in",service="` + testService + `"}`,
		`portico_packets_total{direction="out",service="` + testService + `"}`,
		series("portico_queries_total"),
		series("portico_query_duration_seconds_sum"),
	} {
		if live[s] <= 0 || after[s] <= live[s] {
			t.Errorf("%s was %v with the first client live and is %v after more clients closed; want it positive and growing", s, live[s], after[s])
		}
	}
}

// scrapeMetrics GETs /metrics with the admin's credentials and returns the
// samples of the text format by series (name and labels as printed).
func scrapeMetrics(t *testing.T, a *app) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+a.adminAddr.String()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", adminAuth())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, body)
	}
	samples := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			t.Fatalf("sample line without a value: %q", l)
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("sample line %q: %v", l, err)
		}
		samples[l[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}
