package monitor_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/monitor"
)

func TestClassify(t *testing.T) {
	running := map[string]string{"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes"}
	tests := []struct {
		name     string
		readOnly bool
		replicas []map[string]string
		want     core.Role
	}{
		{name: "writable, replicates from nothing", want: core.RoleMaster},
		{name: "read only", readOnly: true, want: core.RoleSlave},
		{name: "replicating", replicas: []map[string]string{running}, want: core.RoleSlave},
		{name: "read only and replicating", readOnly: true, replicas: []map[string]string{running}, want: core.RoleSlave},
		{name: "I/O thread connecting", replicas: []map[string]string{{"Slave_IO_Running": "Connecting", "Slave_SQL_Running": "Yes"}}, want: core.RoleSlave},
		{name: "only the SQL thread runs", replicas: []map[string]string{{"Slave_IO_Running": "No", "Slave_SQL_Running": "Yes"}}, want: core.RoleSlave},
		{name: "replication stopped", replicas: []map[string]string{{"Slave_IO_Running": "No", "Slave_SQL_Running": "No"}}, want: core.RoleMaster},
		{name: "one of several connections runs", replicas: []map[string]string{
			{"Slave_IO_Running": "No", "Slave_SQL_Running": "No"}, running}, want: core.RoleSlave},
		{name: "columns missing", replicas: []map[string]string{{}}, want: core.RoleMaster},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := monitor.Classify(tt.readOnly, tt.replicas); got != tt.want {
				t.Errorf("Classify = %v, want %v", got, tt.want)
			}
		})
	}
}

// testMariaDB is the real server the tests run against; it is required.
func testMariaDB(t *testing.T, name string) core.Server {
	t.Helper()
	addr := os.Getenv("PORTICO_TEST_MARIADB")
	if addr == "" {
		t.Fatal("PORTICO_TEST_MARIADB is not set: run `go tool task test`")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return core.Server{Name: name, Address: host, Port: n}
}

// closedPort is a server on a loopback port nothing listens on.
func closedPort(t *testing.T, name string) core.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return core.Server{Name: name, Address: "127.0.0.1", Port: port}
}

// stalled is a server that accepts connections and never says a word.
func stalled(t *testing.T, name string) core.Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return core.Server{Name: name, Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port}
}

func TestCheckRealServers(t *testing.T) {
	tests := []struct {
		name     string
		srv      func(t *testing.T) core.Server
		password string
		timeout  time.Duration // of the check; 5s when 0
		want     string
		wantErr  string
		// wantTimeout: the connection's deadline or the context's, which
		// is set to the same time, may be noticed first.
		wantTimeout bool
	}{
		{name: "real MariaDB", srv: func(t *testing.T) core.Server { return testMariaDB(t, "db") }, password: "maxpwd", want: "Master, Running"},
		{name: "wrong password", srv: func(t *testing.T) core.Server { return testMariaDB(t, "db") }, password: "wrong",
			want: "Down", wantErr: "Access denied"},
		{name: "closed port", srv: func(t *testing.T) core.Server { return closedPort(t, "db") }, password: "maxpwd",
			want: "Down", wantErr: "connection refused"},
		{name: "stalled server", srv: func(t *testing.T) core.Server { return stalled(t, "db") }, password: "maxpwd",
			timeout: 300 * time.Millisecond, want: "Down", wantTimeout: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timeout := 5 * time.Second
			if tt.timeout > 0 {
				timeout = tt.timeout
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			st, err := monitor.Check(ctx, tt.srv(t), "maxuser", tt.password)
			if st.String() != tt.want || !st.Monitored {
				t.Errorf("state = %q (%+v), want %q from a monitor", st, st, tt.want)
			}
			if tt.wantTimeout {
				if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v, want a timeout", err)
				}
				return
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("err = %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// syncBuffer is a log destination the monitor's goroutines may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRunPublishesStates(t *testing.T) {
	servers := []core.Server{testMariaDB(t, "up"), closedPort(t, "refused"), stalled(t, "stalled")}
	topo := &core.Topology{Servers: servers}
	states := core.NewServerStates()
	var logs syncBuffer
	cfg := monitor.Config{
		Monitor: core.Monitor{Name: "mon", Module: "mariadbmon", Servers: []string{"up", "refused", "stalled"},
			User: "maxuser", Password: "maxpwd", Interval: 20 * time.Millisecond, ConnectTimeout: 2 * time.Second},
		Topology: topo,
		States:   states,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		monitor.Run(ctx, cfg)
	}()
	want := map[string]string{"up": "Master, Running", "refused": "Down", "stalled": "Down"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, _ := states.All()
		got := map[string]string{}
		for name, st := range all {
			got[name] = st.String()
		}
		if len(got) == len(want) && got["up"] == want["up"] && got["refused"] == want["refused"] && got["stalled"] == want["stalled"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("states = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Wait for a few more rounds: a state that does not change is logged
	// once, not every interval.
	v := states.Version()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	if states.Version() != v {
		t.Errorf("version moved from %d to %d while no server changed", v, states.Version())
	}
	out := logs.String()
	for _, line := range []string{
		`level=INFO msg="server state changed" monitor=mon server=up state="Master, Running" previous=unknown`,
		`level=WARN msg="server state changed" monitor=mon server=refused state=Down`,
		`level=WARN msg="server state changed" monitor=mon server=stalled state=Down`,
	} {
		if strings.Count(out, line) != 1 {
			t.Errorf("log has %d lines with %q, want 1:\n%s", strings.Count(out, line), line, out)
		}
	}
}
