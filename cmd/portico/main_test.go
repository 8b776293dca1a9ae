package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
	"github.com/portico-db/portico/core/mysqlwire"
)

const (
	mariadbEnv    = "PORTICO_TEST_MARIADB"
	testService   = "Read-Connection-Router"
	testListener  = "Read-Connection-Listener"
	sessionsPath  = "/v1/sessions"
	stateReady    = "Session ready for routing"
	eventDeadline = time.Second
)

// testMariaDB returns host:port of the real MariaDB the tests run against.
func testMariaDB(tb testing.TB) string {
	tb.Helper()
	addr := os.Getenv(mariadbEnv)
	if addr == "" {
		tb.Fatal("PORTICO_TEST_MARIADB is not set: run `go tool task test`")
	}
	return addr
}

// startApp runs a whole Portico in front of the test MariaDB, on ports the
// kernel picks, and stops it when the test ends. opts adjust the
// configuration first.
func startApp(tb testing.TB, opts ...func(*config.Config)) *app {
	tb.Helper()
	host, portStr, err := net.SplitHostPort(testMariaDB(tb))
	if err != nil {
		tb.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &config.Config{
		AdminHost: "127.0.0.1",
		AdminPort: 0,
		DataDir:   testDataDir(tb),
		Topology: core.Topology{
			Servers:   []core.Server{{Name: "mariadb1", Address: host, Port: port}},
			Services:  []core.Service{{Name: testService, Router: "readconnroute", Servers: []string{"mariadb1"}, User: "maxuser", Password: "maxpwd"}},
			Listeners: []core.Listener{{Name: testListener, Service: testService, Address: "127.0.0.1", Port: 0}},
		},
	}
	for _, o := range opts {
		o(cfg)
	}
	var logOut io.Writer = tb.Output()
	if _, ok := tb.(*testing.B); ok {
		logOut = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := start(ctx, cfg, logger)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		done := make(chan error, 1)
		go func() { done <- a.wait() }()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("app: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("app did not stop within 10s")
		}
	})
	return a
}

func (a *app) listenerAddr() string { return a.listenerAddrs[testListener].String() }

// greetingSniffer remembers the connection id of the first greeting read
// through the connections it wraps: what the driver saw.
type greetingSniffer struct {
	mu  sync.Mutex
	ids []uint32
}

func (s *greetingSniffer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: s}, nil
}

func (s *greetingSniffer) connectionIDs() []uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.ids)
}

type sniffConn struct {
	net.Conn
	s    *greetingSniffer
	buf  []byte
	done bool
}

func (c *sniffConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if !c.done {
		c.buf = append(c.buf, b[:n]...)
		if _, payload, perr := mysqlwire.ReadPacket(bytes.NewReader(c.buf), 0); perr == nil {
			c.done = true
			if g, gerr := mysqlwire.ParseGreeting(payload); gerr == nil {
				c.s.mu.Lock()
				c.s.ids = append(c.s.ids, g.ConnectionID)
				c.s.mu.Unlock()
			}
		}
	}
	return n, err
}

// openDB opens a go-sql-driver pool on addr, from a DSN as a user would
// write it.
func openDB(tb testing.TB, addr, passwd string, sniff *greetingSniffer) *sql.DB {
	tb.Helper()
	cfg, err := mysql.ParseDSN("maxuser:" + passwd + "@tcp(" + addr + ")/portico_demo")
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	if sniff != nil {
		cfg.DialFunc = sniff.dial
	}
	var logOut io.Writer = tb.Output()
	if _, ok := tb.(*testing.B); ok {
		logOut = io.Discard
	}
	cfg.Logger = log.New(logOut, "[mysql] ", 0)
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(connector)
	tb.Cleanup(func() { db.Close() })
	return db
}

// apiSession is a session resource as a JSON:API client reads it.
type apiSession struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Relationships struct {
		Services struct {
			Data []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"data"`
		} `json:"services"`
	} `json:"relationships"`
	Attributes struct {
		State     string  `json:"state"`
		User      string  `json:"user"`
		Remote    string  `json:"remote"`
		Connected string  `json:"connected"`
		Idle      float64 `json:"idle"`
	} `json:"attributes"`
}

func adminAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(config.DefaultAdminUser+":"+config.DefaultAdminPasswd))
}

func getSessions(tb testing.TB, a *app) []apiSession {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.adminAddr.String()+sessionsPath, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", adminAuth())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		tb.Fatalf("GET %s: %s: %s", sessionsPath, resp.Status, body)
	}
	var doc struct {
		Data []apiSession `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		tb.Fatal(err)
	}
	return doc.Data
}

// waitAPI polls GET /v1/sessions until cond holds.
func waitAPI(tb testing.TB, a *app, d time.Duration, what string, cond func([]apiSession) bool) []apiSession {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		list := getSessions(tb, a)
		if cond(list) {
			return list
		}
		if time.Now().After(deadline) {
			tb.Fatalf("GET %s: no %s within %v; last: %+v", sessionsPath, what, d, list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamFrame is any frame of /v1/sessions/stream.
type streamFrame struct {
	Type    string       `json:"type"`
	Data    []apiSession `json:"data"`
	Added   []apiSession `json:"added"`
	Updated []apiSession `json:"updated"`
	Removed []string     `json:"removed"`
}

// openStream subscribes to the session stream with Basic credentials and
// returns its frames, snapshot first.
func openStream(t *testing.T, a *app) <-chan streamFrame {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c, _, err := websocket.Dial(ctx, "ws://"+a.adminAddr.String()+sessionsPath+"/stream", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {adminAuth()}},
	})
	if err != nil {
		cancel()
		t.Fatalf("dial stream: %v", err)
	}
	frames := make(chan streamFrame, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(frames)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			var f streamFrame
			if err := json.Unmarshal(b, &f); err != nil {
				t.Errorf("stream frame %q: %v", b, err)
				return
			}
			frames <- f
		}
	}()
	t.Cleanup(func() {
		c.Close(websocket.StatusNormalClosure, "")
		cancel()
		<-done
	})
	first := nextFrame(t, frames, 2*time.Second)
	if first.Type != "snapshot" {
		t.Fatalf("first stream frame is %q, want snapshot", first.Type)
	}
	return frames
}

func nextFrame(t *testing.T, frames <-chan streamFrame, d time.Duration) streamFrame {
	t.Helper()
	select {
	case f, ok := <-frames:
		if !ok {
			t.Fatal("stream closed")
		}
		return f
	case <-time.After(d):
		t.Fatalf("no stream frame within %v", d)
	}
	panic("unreachable")
}

// waitFrame reads frames until match accepts one or d passes.
func waitFrame(t *testing.T, frames <-chan streamFrame, d time.Duration, what string, match func(streamFrame) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatalf("stream closed while waiting for %s", what)
			}
			if match(f) {
				return
			}
		case <-deadline:
			t.Fatalf("stream: no %s within %v", what, d)
		}
	}
}

func findSession(list []apiSession, id string) (apiSession, bool) {
	for _, s := range list {
		if s.ID == id {
			return s, true
		}
	}
	return apiSession{}, false
}

func TestSessionLifecycle(t *testing.T) {
	a := startApp(t)
	tests := []struct {
		name  string
		stmts []string
	}{
		{name: "SELECT 1", stmts: []string{"SELECT 1"}},
		{name: "temporary table", stmts: []string{
			"CREATE TEMPORARY TABLE t (id INT PRIMARY KEY, v TEXT)",
			"INSERT INTO t VALUES (1, 'one'), (2, 'two')",
			"UPDATE t SET v = 'deux' WHERE id = 2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := openStream(t, a)
			sniff := &greetingSniffer{}
			db := openDB(t, a.listenerAddr(), "maxpwd", sniff)
			db.SetMaxOpenConns(1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, stmt := range tt.stmts {
				if _, err := db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			var backendThread uint32
			if err := db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&backendThread); err != nil {
				t.Fatal(err)
			}
			ids := sniff.connectionIDs()
			if len(ids) != 1 {
				t.Fatalf("driver saw %d greetings, want 1", len(ids))
			}
			id := strconv.FormatUint(uint64(ids[0]), 10)

			list := waitAPI(t, a, eventDeadline, "ready session "+id, func(list []apiSession) bool {
				s, ok := findSession(list, id)
				return ok && s.Attributes.State == stateReady
			})
			s, _ := findSession(list, id)
			if len(list) != 1 {
				t.Errorf("GET %s lists %d sessions, want 1", sessionsPath, len(list))
			}
			if s.Type != "sessions" || s.Attributes.User != "maxuser" || s.Attributes.Remote != "127.0.0.1" {
				t.Errorf("session = %+v", s)
			}
			if rel := s.Relationships.Services.Data; len(rel) != 1 || rel[0].ID != testService || rel[0].Type != "services" {
				t.Errorf("services relationship = %+v, want %s", rel, testService)
			}
			reg, err := a.registry.Get(core.SessionID(ids[0]))
			if err != nil {
				t.Fatal(err)
			}
			// CONNECTION_ID() is the backend's thread, not the session id.
			if len(reg.Backends) != 1 || reg.Backends[0].ThreadID != backendThread {
				t.Errorf("registry backends = %+v, want thread %d (SELECT CONNECTION_ID())", reg.Backends, backendThread)
			}

			var added, ready bool
			waitFrame(t, frames, eventDeadline, "session "+id+" added and ready", func(f streamFrame) bool {
				if s, ok := findSession(f.Added, id); ok {
					added = true
					ready = s.Attributes.State == stateReady
				}
				if s, ok := findSession(f.Updated, id); ok && added {
					ready = s.Attributes.State == stateReady
				}
				return added && ready
			})

			db.Close()
			waitFrame(t, frames, eventDeadline, "session "+id+" removed", func(f streamFrame) bool {
				return slices.Contains(f.Removed, id)
			})
			waitAPI(t, a, eventDeadline, "empty session list", func(list []apiSession) bool { return len(list) == 0 })
		})
	}
}

func TestFailedLogin(t *testing.T) {
	a := startApp(t)
	tests := []struct {
		name      string
		passwd    string
		wantErrno uint16
	}{
		{name: "wrong password", passwd: "wrong", wantErrno: mysqlwire.ERAccessDenied},
		{name: "empty password", passwd: "", wantErrno: mysqlwire.ERAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := openStream(t, a)
			db := openDB(t, a.listenerAddr(), tt.passwd, nil)
			err := db.Ping()
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != tt.wantErrno {
				t.Fatalf("ping: %v, want MySQL error %d", err, tt.wantErrno)
			}
			waitAPI(t, a, eventDeadline, "empty session list", func(list []apiSession) bool { return len(list) == 0 })
			if _, list := a.registry.List(); len(list) != 0 {
				t.Errorf("registry still holds %+v", list)
			}
			// Whatever the stream showed of the attempt, it never showed it
			// ready and it ends with it gone.
			known := map[string]bool{}
			quiet := time.After(3 * eventDeadline / 2)
			for done := false; !done; {
				select {
				case f, ok := <-frames:
					if !ok {
						t.Fatal("stream closed")
					}
					for _, s := range slices.Concat(f.Added, f.Updated) {
						known[s.ID] = true
						if s.Attributes.State == stateReady {
							t.Errorf("stream showed the failed session %s as ready", s.ID)
						}
					}
					for _, id := range f.Removed {
						delete(known, id)
					}
				case <-quiet:
					done = true
				}
			}
			if len(known) != 0 {
				t.Errorf("stream still shows sessions %v", known)
			}
		})
	}
}

func TestConcurrentQueries(t *testing.T) {
	a := startApp(t)
	tests := []struct {
		name       string
		goroutines int
		pool       int
		queries    int
	}{
		{name: "50 goroutines over 10 connections", goroutines: 50, pool: 10, queries: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openDB(t, a.listenerAddr(), "maxpwd", nil)
			db.SetMaxOpenConns(tt.pool)
			db.SetMaxIdleConns(tt.pool)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			errs := make(chan error, tt.goroutines)
			for g := range tt.goroutines {
				wg.Go(func() {
					for q := range tt.queries {
						if err := oneQuery(ctx, db, g, q); err != nil {
							errs <- fmt.Errorf("goroutine %d query %d: %w", g, q, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := len(getSessions(t, a)); n < 1 || n > tt.pool {
				t.Errorf("%d sessions while the pool is open, want 1..%d", n, tt.pool)
			}
			db.Close()
			waitAPI(t, a, 2*time.Second, "empty session list", func(list []apiSession) bool { return len(list) == 0 })
		})
	}
}

// oneQuery runs one of a few query shapes: text protocol, prepared
// statements (binary protocol) and a result larger than one relay buffer.
func oneQuery(ctx context.Context, db *sql.DB, g, q int) error {
	switch q % 3 {
	case 0:
		var n int
		if err := db.QueryRowContext(ctx, "SELECT "+strconv.Itoa(g*1000+q)).Scan(&n); err != nil {
			return err
		}
		if n != g*1000+q {
			return fmt.Errorf("got %d, want %d", n, g*1000+q)
		}
	case 1:
		var s string
		want := fmt.Sprintf("g%d-q%d", g, q)
		if err := db.QueryRowContext(ctx, "SELECT CONCAT('g', ?, '-q', ?)", g, q).Scan(&s); err != nil {
			return err
		}
		if s != want {
			return fmt.Errorf("got %q, want %q", s, want)
		}
	default:
		var n int
		if err := db.QueryRowContext(ctx, "SELECT LENGTH(REPEAT('x', 100000)), REPEAT('x', 100000)").Scan(&n, new(string)); err != nil {
			return err
		}
		if n != 100000 {
			return fmt.Errorf("got length %d, want 100000", n)
		}
	}
	return nil
}

func TestMariaDBCLI(t *testing.T) {
	mariadb, err := exec.LookPath("mariadb")
	if err != nil {
		t.Fatalf("the mariadb CLI is needed (`go tool task test` installs it): %v", err)
	}
	a := startApp(t)
	host, port, err := net.SplitHostPort(a.listenerAddr())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		passwd     string
		sql        string
		wantOut    string
		wantStderr string
	}{
		{name: "SELECT 1", passwd: "maxpwd", sql: "SELECT 1", wantOut: "1\n1\n"},
		{name: "USE and DATABASE()", passwd: "maxpwd", sql: "USE portico_demo; SELECT DATABASE()", wantOut: "DATABASE()\nportico_demo\n"},
		{name: "wrong password", passwd: "wrong", sql: "SELECT 1", wantStderr: "ERROR 1045"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, mariadb, "--no-defaults", "--protocol=TCP", "-h", host, "-P", port,
				"-u", "maxuser", "-p"+tt.passwd, "-e", tt.sql)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tt.wantStderr == "" {
				if err != nil {
					t.Fatalf("mariadb: %v\n%s", err, stderr.String())
				}
				if stdout.String() != tt.wantOut {
					t.Errorf("stdout = %q, want %q", stdout.String(), tt.wantOut)
				}
			} else {
				if err == nil {
					t.Fatalf("mariadb succeeded, want %s", tt.wantStderr)
				}
				if !strings.Contains(stderr.String(), tt.wantStderr) {
					t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
				}
			}
			waitAPI(t, a, eventDeadline, "empty session list", func(list []apiSession) bool { return len(list) == 0 })
		})
	}
}

func TestRunBadConfig(t *testing.T) {
	tests := []struct {
		name    string
		content string
		wantMsg string
	}{
		{name: "port is not a number", content: "# Portico\n[maxscale]\nadmin_port=eighty\n", wantMsg: "not a port number"},
		{name: "line without '='", content: "[srv]\ntype=server\naddress 127.0.0.1\n", wantMsg: "expected 'key=value'"},
		{name: "section defined twice", content: "[a]\ntype=server\n[a]\n", wantMsg: "already defined on line 1"},
		{name: "unknown type", content: "\n[x]\ntype=gateway\n", wantMsg: `unknown type "gateway"`},
		{name: "undefined server", content: "[svc]\ntype=service\nservers=nope\nrouter=readconnroute\n", wantMsg: `server "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "portico.cnf")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"--config", path}, strings.NewReader(""), &stdout, &stderr)
			if err == nil {
				t.Fatal("run succeeded with a bad config")
			}
			if want := path + ":3:"; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %s", err, want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not say %q", err, tt.wantMsg)
			}
			if stdout.Len() != 0 {
				t.Errorf("run printed %q, want nothing before failing", stdout.String())
			}
		})
	}
}

// benchmarkSelect1 runs SELECT 1 over one connection to addr.
func benchmarkSelect1(b *testing.B, addr string) {
	db := openDB(b, addr, "maxpwd", nil)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	ctx := context.Background()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueryThroughProxy(b *testing.B) {
	benchmarkSelect1(b, startApp(b).listenerAddr())
}

func BenchmarkQueryDirect(b *testing.B) {
	benchmarkSelect1(b, testMariaDB(b))
}
