package main

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core/synthetic"
)

var dashboardURL = regexp.MustCompile(`Dashboard: http://(\S+)/\n`)

// TestSimulate runs `portico simulate` on a free port and watches its
// sessions through the REST API.
func TestSimulate(t *testing.T) {
	const sessions = 300
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"simulate", "--config", writeConfig(t, testDataDir(t)), "--admin", "127.0.0.1:0",
			"--sessions", strconv.Itoa(sessions), "--rate", "2000", "--log-level", "warn"}, nil, &out, &errOut)
	}()

	// The API helpers need only the admin address, which the banner gives.
	view := &app{}
	for deadline := time.Now().Add(10 * time.Second); view.adminAddr == nil; {
		if m := dashboardURL.FindStringSubmatch(out.String()); m != nil {
			addr, err := net.ResolveTCPAddr("tcp", m[1])
			if err != nil {
				t.Fatal(err)
			}
			view.adminAddr = addr
			break
		}
		select {
		case err := <-done:
			t.Fatalf("simulate ended before serving: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dashboard URL within 10s; stdout:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), "Simulating 300 sessions with 2000 changes/s") {
		t.Errorf("banner does not say what is simulated:\n%s", out.String())
	}

	// A session being replaced is closed a moment before its successor
	// opens, so one reading may be one short.
	first := waitAPI(t, view, 5*time.Second, "300 sessions", func(l []apiSession) bool { return len(l) == sessions })
	t.Run("sessions", func(t *testing.T) {
		users, services := map[string]bool{}, map[string]bool{}
		for _, s := range first {
			users[strings.TrimSuffix(s.Attributes.User, "_ro")] = true
			for _, svc := range s.Relationships.Services.Data {
				services[svc.ID] = true
			}
		}
		if len(users) < 4 {
			t.Errorf("users %v, want several", users)
		}
		want := []string{synthetic.ServiceReadWrite, synthetic.ServiceReadOnly, synthetic.ServiceAnalytics}
		if len(services) != len(want) {
			t.Errorf("services %v, want %v", services, want)
		}
		for _, name := range want {
			if !services[name] {
				t.Errorf("no session of service %s; services %v", name, services)
			}
		}
	})
	t.Run("changes", func(t *testing.T) {
		before := map[string]apiSession{}
		for _, s := range first {
			before[s.ID] = s
		}
		// Idle times move by themselves; ids, users and states move only
		// when the simulation changes something.
		waitAPI(t, view, 5*time.Second, "changed session", func(l []apiSession) bool {
			for _, s := range l {
				if b, ok := before[s.ID]; !ok || b.Attributes.User != s.Attributes.User || b.Attributes.State != s.Attributes.State {
					return true
				}
			}
			return false
		})
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("simulate: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("simulate did not stop within 10s of its context")
	}
}

func TestSimulateFlags(t *testing.T) {
	testFlagErrors(t, "simulate", []flagCase{
		{"help", []string{"--help"}, true, []string{
			"Usage: portico simulate [--sessions N] [--rate N] [--admin HOST:PORT]", "No MariaDB is needed",
			"admin / mariadb", "-sessions n", "(default 10000)", "-rate n", "(default 1000)", "-admin host:port",
			"port 0 picks a free one", "-seed seed", "-config file", "-log-level level",
		}},
		{"negative sessions", []string{"--sessions", "-1"}, false, []string{"cannot be negative"}},
		{"negative rate", []string{"--rate", "-5"}, false, []string{"cannot be negative"}},
		{"bad admin address", []string{"--admin", "nowhere"}, false, []string{"--admin", "missing port"}},
		{"bad admin port", []string{"--admin", "127.0.0.1:http"}, false, []string{"bad port"}},
		{"argument", []string{"now"}, false, []string{`unexpected argument "now"`}},
	})
}
