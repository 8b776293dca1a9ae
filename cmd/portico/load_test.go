package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
)

// listSessions is GET /v1/sessions with every attribute.
func listSessions(t *testing.T, a *app) []fullSession {
	t.Helper()
	r := adminGet(t, http.DefaultClient, "http://"+a.adminAddr.String()+sessionsPath, true)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d: %s", sessionsPath, r.status, r.body)
	}
	var doc struct {
		Data []fullSession `json:"data"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Data
}

// TestLoad runs `portico load` through a whole Portico in front of the test
// MariaDB and watches its sessions through the REST API.
func TestLoad(t *testing.T) {
	const sessions = 12
	a := startApp(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"load", "--addr", a.listenerAddr(), "--sessions", strconv.Itoa(sessions),
			"--churn", "3", "--rate", "500", "--wait", "10s", "--summary", "500ms", "--log-level", "warn"}, nil, &out, &errOut)
	}()

	// Every account has its share of the sessions: 12 in turn over 4.
	first := waitAPI(t, a, 10*time.Second, "12 sessions of the 4 demo accounts", func(l []apiSession) bool {
		users := map[string]bool{}
		for _, s := range l {
			users[s.Attributes.User] = true
		}
		return len(l) == sessions && len(users) == 4
	})
	if !strings.Contains(out.String(), "Load: 12 sessions through "+a.listenerAddr()+" as shop_app@shop, shop_ro@shop") {
		t.Errorf("stdout does not say what it loads:\n%s", out.String())
	}

	t.Run("databases and profiles", func(t *testing.T) {
		databases, profiles := map[string]bool{}, map[string]bool{}
		for _, s := range listSessions(t, a) {
			if s.Attributes.Database != nil {
				databases[*s.Attributes.Database] = true
			}
			attrs := s.Attributes.Client.ConnectionAttributes
			if attrs["program_name"] != "portico-load" {
				t.Errorf("session %s: connection attributes %v, want program_name portico-load", s.ID, attrs)
			}
			profiles[attrs["profile"]] = true
		}
		if !databases["shop"] || !databases["analytics"] || len(databases) != 2 {
			t.Errorf("databases %v, want shop and analytics", databases)
		}
		for p := range profiles {
			if !slices.Contains([]string{"busy", "idle", "short-lived", "slow", "reporting"}, p) {
				t.Errorf("profile %q is none of the known ones", p)
			}
		}
	})

	t.Run("queries_total grows", func(t *testing.T) {
		before := map[string]uint64{}
		for _, s := range listSessions(t, a) {
			before[s.ID] = s.Attributes.QueriesTotal
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			grew := 0
			for _, s := range listSessions(t, a) {
				if q, ok := before[s.ID]; ok && s.Attributes.QueriesTotal > q {
					grew++
				}
			}
			if grew >= 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queries_total grew on %d sessions within 10s, want 2", grew)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("sessions are replaced", func(t *testing.T) {
		// At 3 replacements a second, half of them are new within seconds,
		// and there are still about as many.
		waitAPI(t, a, 10*time.Second, "6 of the first 12 sessions replaced", func(l []apiSession) bool {
			gone := len(first)
			for _, s := range l {
				if _, ok := findSession(first, s.ID); ok {
					gone--
				}
			}
			return gone >= 6 && len(l) >= sessions-2 && len(l) <= sessions+2
		})
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("load: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("load did not stop within 10s of its context")
	}
	waitAPI(t, a, 5*time.Second, "empty session list", func(l []apiSession) bool { return len(l) == 0 })
	if !strings.Contains(out.String(), "Load stopped after") {
		t.Errorf("stdout has no final summary:\n%s", out.String())
	}
	// The read-only accounts' refused writes are expected warnings; nothing
	// is worse.
	if strings.Contains(errOut.String(), "level=ERROR") {
		t.Errorf("load logged errors:\n%s", errOut.String())
	}
}

func TestLoadFlags(t *testing.T) {
	testFlagErrors(t, "load", []flagCase{
		{"help", []string{"--help"}, true, []string{
			"Usage: portico load [--addr HOST:PORT] [--sessions N]", "busy", "idle", "short-lived", "slow", "reporting",
			"demo.sql", "-addr host:port", "first listener of the configuration", "-sessions n", "(default 50)",
			"-churn n", "(default 0.5)", "-rate n", "-users accounts", "shop_app:demo@shop", "-duration duration",
			"-wait duration", "-summary interval", "-config file", "-log-level level",
		}},
		{"negative sessions", []string{"--sessions", "-1"}, false, []string{"cannot be negative"}},
		{"negative churn", []string{"--churn", "-0.5"}, false, []string{"cannot be negative"}},
		{"bad users", []string{"--users", "shop_app"}, false, []string{"--users", "want user:password[@database]"}},
		{"argument", []string{"now"}, false, []string{`unexpected argument "now"`}},
	})
}

func TestFirstListener(t *testing.T) {
	tests := []struct {
		name      string
		listeners []core.Listener
		want      string
		wantErr   bool
	}{
		{name: "loopback", listeners: []core.Listener{{Address: "127.0.0.1", Port: 4006}, {Address: "127.0.0.1", Port: 4008}}, want: "127.0.0.1:4006"},
		{name: "every IPv4 address", listeners: []core.Listener{{Address: "0.0.0.0", Port: 4006}}, want: "127.0.0.1:4006"},
		{name: "every IPv6 address", listeners: []core.Listener{{Address: "::", Port: 4006}}, want: "127.0.0.1:4006"},
		{name: "no address", listeners: []core.Listener{{Port: 4006}}, want: "127.0.0.1:4006"},
		{name: "IPv6 loopback", listeners: []core.Listener{{Address: "::1", Port: 4006}}, want: "[::1]:4006"},
		{name: "none", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := firstListener(&config.Config{Topology: core.Topology{Listeners: tt.listeners}})
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("firstListener = %q, %v; want %q (error: %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
