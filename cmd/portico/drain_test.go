package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// asPorticoEnv makes the test binary run as portico itself, with the
// arguments it was started with, so the signal tests can stop a real
// process without building one.
const asPorticoEnv = "PORTICO_TEST_AS_PORTICO"

func TestMain(m *testing.M) {
	if os.Getenv(asPorticoEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// freePort returns a loopback port nothing listens on, for a configuration
// file, which cannot ask for port 0.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// porticoProcess is portico running in a process of its own.
type porticoProcess struct {
	cmd      *exec.Cmd
	listener string // host:port of its listener
	stderr   *syncBuffer
	exited   chan error
}

// startProcess runs portico in front of the test MariaDB with args, and
// waits for its banner.
func startProcess(t *testing.T, args ...string) *porticoProcess {
	t.Helper()
	host, port, err := net.SplitHostPort(testMariaDB(t))
	if err != nil {
		t.Fatal(err)
	}
	listenPort := freePort(t)
	cnf := filepath.Join(t.TempDir(), "portico.cnf")
	err = os.WriteFile(cnf, fmt.Appendf(nil, `[maxscale]
admin_host=127.0.0.1
admin_port=%d
datadir=%s
admin_secure_gui=false

[mariadb1]
type=server
address=%s
port=%s

[svc]
type=service
router=readconnroute
servers=mariadb1
user=maxuser
password=maxpwd

[lst]
type=listener
service=svc
address=127.0.0.1
port=%d
`, freePort(t), testDataDir(t), host, port, listenPort), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], append([]string{"--config", cnf, "--log-level", "debug"}, args...)...)
	cmd.Env = append(os.Environ(), asPorticoEnv+"=1")
	p := &porticoProcess{cmd: cmd, listener: net.JoinHostPort("127.0.0.1", strconv.Itoa(listenPort)),
		stderr: &syncBuffer{}, exited: make(chan error, 1)}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	running := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if !ok && strings.HasPrefix(sc.Text(), "Portico is running") {
				ok = true
				running <- true
			}
		}
		if !ok {
			running <- false
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	select {
	case ok := <-running:
		if !ok {
			t.Fatalf("portico exited before its banner:\n%s", p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no banner within 30s:\n%s", p.stderr.String())
	}
	return p
}

// waitExit waits up to d for the process to end and checks it exited 0.
func (p *porticoProcess) waitExit(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("portico exited with %v, want 0:\n%s", err, p.stderr.String())
		}
	case <-time.After(d):
		t.Fatalf("portico did not exit within %v:\n%s", d, p.stderr.String())
	}
}

// refusedSoon waits until connecting to addr is refused.
func refusedSoon(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if c != nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("connect to the listener: %v, want it refused once portico is stopping", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGTERMDrains stops a portico process with SIGTERM while a client
// session is open: the listener refuses new clients at once, a running
// statement completes, and the process exits 0 once the session has ended,
// or kills it at the drain timeout and still exits 0.
func TestSIGTERMDrains(t *testing.T) {
	tests := []struct {
		name  string
		drain string
		// sleep is how long the client's statement runs after the signal;
		// 0 leaves the session idle.
		sleep bool
		// wantLog is what portico says about the drain.
		wantLog string
	}{
		{name: "a running statement completes", drain: "30s", sleep: true, wantLog: "no longer accepting clients"},
		{name: "an idle session is killed at the timeout", drain: "1s", wantLog: "drain timeout: killing the sessions left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProcess(t, "--drain-timeout", tt.drain)
			db := openDB(t, p.listener, "maxpwd", nil)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var thread uint32
			if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&thread); err != nil {
				t.Fatal(err)
			}
			sleepDone := make(chan error, 1)
			if tt.sleep {
				go func() {
					var r int
					err := conn.QueryRowContext(ctx, "SELECT SLEEP(2)").Scan(&r)
					if err == nil && r != 0 {
						err = fmt.Errorf("SLEEP(2) returned %d: interrupted", r)
					}
					sleepDone <- err
				}()
				waitSleeping(t, thread)
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			refusedSoon(t, p.listener)
			if tt.sleep {
				if err := <-sleepDone; err != nil {
					t.Errorf("the statement running at SIGTERM: %v, want it to complete", err)
				}
				// Still draining: the session works until it ends.
				if err := conn.PingContext(ctx); err != nil {
					t.Errorf("ping during the drain: %v", err)
				}
				conn.Close()
				db.Close()
			}
			p.waitExit(t, 20*time.Second)
			if !tt.sleep {
				if err := conn.PingContext(ctx); err == nil {
					t.Error("the idle session still works after the drain timeout")
				}
			}
			if !strings.Contains(p.stderr.String(), tt.wantLog) {
				t.Errorf("portico's log does not say %q:\n%s", tt.wantLog, p.stderr.String())
			}
		})
	}
}

// waitSleeping waits until MariaDB runs SELECT SLEEP on thread.
func waitSleeping(t *testing.T, thread uint32) {
	t.Helper()
	direct := openDB(t, testMariaDB(t), "maxpwd", nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		err := direct.QueryRowContext(t.Context(),
			"SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'", thread).Scan(&n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the statement did not start on MariaDB")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAdminShutdown stops a Portico whose admin interface has the
// connections a dashboard leaves open, and checks that none of them holds
// the shutdown to its bound.
func TestAdminShutdown(t *testing.T) {
	tests := []struct {
		name string
		// open makes a connection and returns a check that it was closed.
		open func(t *testing.T, a *app) func(t *testing.T)
	}{
		{
			// Browsers open a spare connection ahead of the next request.
			name: "connection that never sent a request",
			open: func(t *testing.T, a *app) func(t *testing.T) {
				c, err := net.Dial("tcp", a.adminAddr.String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return func(t *testing.T) { expectHangUp(t, c) }
			},
		},
		{
			name: "idle keep-alive connection",
			open: func(t *testing.T, a *app) func(t *testing.T) {
				c, err := net.Dial("tcp", a.adminAddr.String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				if _, err := io.WriteString(c, "GET /v1/sessions HTTP/1.1\r\nHost: portico\r\nAuthorization: "+adminAuth()+"\r\n\r\n"); err != nil {
					t.Fatal(err)
				}
				// Enough of the reply to know the request was served.
				buf := make([]byte, 12)
				if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "HTTP/1.1 200" {
					t.Fatalf("reply %q, %v", buf, err)
				}
				return func(t *testing.T) {
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					if _, err := io.Copy(io.Discard, c); err != nil {
						t.Errorf("the keep-alive connection: %v, want it closed", err)
					}
				}
			},
		},
		{
			name: "session stream",
			open: func(t *testing.T, a *app) func(t *testing.T) {
				c, _, err := websocket.Dial(t.Context(), "ws://"+a.adminAddr.String()+sessionsPath+"/stream", &websocket.DialOptions{
					HTTPHeader: http.Header{"Authorization": {adminAuth()}},
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.CloseNow() })
				if _, _, err := c.Read(t.Context()); err != nil {
					t.Fatalf("snapshot: %v", err)
				}
				return func(t *testing.T) {
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
					defer cancel()
					for {
						if _, _, err := c.Read(ctx); err != nil {
							if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
								t.Errorf("stream ended with %v, want 1001 going away", err)
							}
							return
						}
					}
				}
			},
		},
		{
			// A browser tab the system has suspended, say.
			name: "session stream whose client stopped reading",
			open: func(t *testing.T, a *app) func(t *testing.T) {
				c, _, err := websocket.Dial(t.Context(), "ws://"+a.adminAddr.String()+sessionsPath+"/stream", &websocket.DialOptions{
					HTTPHeader: http.Header{"Authorization": {adminAuth()}},
				})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.CloseNow() })
				if _, _, err := c.Read(t.Context()); err != nil {
					t.Fatalf("snapshot: %v", err)
				}
				return func(t *testing.T) {}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			a, err := start(ctx, adminConfig(t), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
			if err != nil {
				t.Fatal(err)
			}
			closed := tt.open(t, a)
			cancel()
			closed(t)
			waitApp(t, a, 15*time.Second)
			if strings.Contains(logs.String(), "shutdown timed out") {
				t.Errorf("the admin interface waited for its shutdown bound:\n%s", logs.String())
			}
		})
	}
}

// expectHangUp checks that the peer closes c without a word.
func expectHangUp(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("read %d bytes, %v; want the connection closed", n, err)
	}
}

// waitApp waits for a to stop, and fails if it did not within d or stopped
// with an error.
func waitApp(t *testing.T, a *app, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- a.wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("app: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("app did not stop within %v", d)
	}
}

func TestDrainTimeoutFlag(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{name: "negative", value: "-1s", want: "--drain-timeout cannot be negative"},
		{name: "not a duration", value: "soon", want: "invalid value \"soon\" for flag -drain-timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			err := run(t.Context(), []string{"--config", writeConfig(t, testDataDir(t)), "--drain-timeout", tt.value},
				strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("err = %v, stderr %q; want %q", err, stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
}
