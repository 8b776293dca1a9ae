//go:build linux

package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// The tests in this file break sessions the ways production breaks them and
// check three things each time: what the client is told, that the session
// leaves the registry with a change event a subscriber sees, and that the
// goroutines and file descriptors it used are all released. They need
// Linux for /proc/self/fd and for a connect that stalls on loopback.

// resources is what a test holds before it starts sessions.
type resources struct{ goroutines, fds int }

func openFDs(tb testing.TB) int {
	tb.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(entries)
}

func measure(tb testing.TB) resources {
	tb.Helper()
	return resources{goroutines: runtime.NumGoroutine(), fds: openFDs(tb)}
}

// released waits until no more goroutines run and no more descriptors are
// open than at r, and fails with a goroutine dump and the open descriptors
// if that does not happen.
func (r resources) released(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fds := runtime.NumGoroutine(), openFDs(tb)
		if g <= r.goroutines && fds <= r.fds {
			return
		}
		if time.Now().After(deadline) {
			var dump strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
			var links []string
			entries, _ := os.ReadDir("/proc/self/fd")
			for _, e := range entries {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				links = append(links, e.Name()+" -> "+l)
			}
			tb.Fatalf("leak: %d goroutines (baseline %d), %d open fds (baseline %d)\nfds:\n%s\ngoroutines:\n%s",
				g, r.goroutines, fds, r.fds, strings.Join(links, "\n"), dump.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watcher follows the registry as a stream client does, through a
// subscription, and remembers which sessions it was told of.
type watcher struct {
	sub     *core.Subscription
	known   map[core.SessionID]bool
	added   []core.SessionID // in the order they were added
	removed map[core.SessionID]bool
}

func watch(t *testing.T, reg *core.Registry) *watcher {
	t.Helper()
	sub, snap := reg.Subscribe(nil)
	t.Cleanup(sub.Close)
	w := &watcher{sub: sub, known: map[core.SessionID]bool{}, removed: map[core.SessionID]bool{}}
	for _, s := range snap.Sessions {
		w.known[s.ID] = true
	}
	return w
}

func (w *watcher) next() {
	ch := w.sub.Next()
	if ch.Reset {
		panic("the test's subscriber fell behind")
	}
	for _, id := range ch.Removed {
		delete(w.known, id)
		w.removed[id] = true
	}
	for _, s := range ch.Added {
		w.known[s.ID] = true
		w.added = append(w.added, s.ID)
	}
}

// until applies changes as they come until cond holds.
func (w *watcher) until(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		w.next()
		if cond() {
			return
		}
		select {
		case <-w.sub.Ready():
		case <-timeout:
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// waitAdded returns the first session added since the watcher started.
func (w *watcher) waitAdded(t *testing.T) core.SessionID {
	t.Helper()
	w.until(t, 5*time.Second, "a session to be added", func() bool { return len(w.added) > 0 })
	return w.added[0]
}

// waitRemoved waits for the change event that removes id.
func (w *watcher) waitRemoved(t *testing.T, id core.SessionID) {
	t.Helper()
	w.until(t, 10*time.Second, "session "+id.String()+" to be removed", func() bool { return w.removed[id] })
}

// waitEmpty waits until the watcher's view holds no session and checks the
// registry agrees.
func (w *watcher) waitEmpty(t *testing.T, reg *core.Registry) {
	t.Helper()
	w.until(t, 20*time.Second, "every session to be removed", func() bool { return len(w.known) == 0 })
	if n := len(sessions(reg)); n != 0 {
		t.Errorf("%d sessions are still registered", n)
	}
}

// sideConn is a connection straight to MariaDB, for KILL and for looking at
// the processlist. It is opened before a test measures its resources and
// held throughout, so the pool never opens another.
func sideConn(t *testing.T, srv core.Server) *sql.Conn {
	t.Helper()
	db := openDB(t, net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)), "maxpwd", "")
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// threadRunning reports whether MariaDB still has thread id, and what it
// runs.
func threadRunning(t *testing.T, side *sql.Conn, id uint32) (bool, string) {
	t.Helper()
	var info sql.NullString
	err := side.QueryRowContext(t.Context(), "SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&info)
	if errors.Is(err, sql.ErrNoRows) {
		return false, ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return true, info.String
}

func backendThread(t *testing.T, reg *core.Registry, id core.SessionID) uint32 {
	t.Helper()
	var thread uint32
	waitFor(t, 5*time.Second, "the session's backend thread", func() bool {
		s, err := reg.Get(id)
		if err != nil {
			t.Fatalf("session %d: %v", id, err)
		}
		if len(s.Backends) == 1 && s.State == core.StateReady {
			thread = s.Backends[0].ThreadID
		}
		return thread != 0
	})
	return thread
}

// longResult is a result set far larger than every buffer between MariaDB
// and the client, so that MariaDB is still sending it whenever the test
// acts. The sequence engine makes it without a table.
const longResult = "SELECT seq, REPEAT('x', 100) FROM portico_demo.seq_1_to_100000000"

// isConnectionLost reports whether err is how go-sql-driver reports a
// connection that went away, or MariaDB's ERR saying it was killed.
func isConnectionLost(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1927 // ER_CONNECTION_KILLED
	}
	return errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, driver.ErrBadConn)
}

// TestBackendDies kills the backend thread of a relaying session from a side
// connection, with the client idle, waiting for a statement, and reading a
// long result set.
func TestBackendDies(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		name string
		// run starts the client's work on conn and returns a channel that
		// yields its outcome; nil means the client is idle.
		run func(ctx context.Context, conn *sql.Conn) <-chan error
		// busy says when MariaDB is far enough in for the kill.
		busy func(info string) bool
	}{
		{name: "idle"},
		{
			name: "mid-query",
			run: func(ctx context.Context, conn *sql.Conn) <-chan error {
				done := make(chan error, 1)
				go func() {
					var r int
					done <- conn.QueryRowContext(ctx, "SELECT SLEEP(10)").Scan(&r)
				}()
				return done
			},
			busy: func(info string) bool { return strings.HasPrefix(info, "SELECT SLEEP") },
		},
		{
			name: "mid-result-set",
			run: func(ctx context.Context, conn *sql.Conn) <-chan error {
				done := make(chan error, 1)
				go func() { done <- readSlowly(ctx, conn, 1000) }()
				return done
			},
			busy: func(info string) bool { return strings.HasPrefix(info, "SELECT seq") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			side := sideConn(t, srv)
			p := startProxy(t, proxy.Config{}, srv)
			w := watch(t, p.reg)
			before := measure(t)

			db := openDB(t, p.addr, "maxpwd", "")
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			id := w.waitAdded(t)
			thread := backendThread(t, p.reg, id)
			var done <-chan error
			if tt.run != nil {
				done = tt.run(ctx, conn)
				waitFor(t, 10*time.Second, "MariaDB to run the statement", func() bool {
					_, info := threadRunning(t, side, thread)
					return tt.busy(info)
				})
			}
			if _, err := side.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatUint(uint64(thread), 10)); err != nil {
				t.Fatal(err)
			}
			if done != nil {
				if err := <-done; !isConnectionLost(err) {
					t.Errorf("the client's statement ended with %v, want the connection lost", err)
				}
			}
			// The backend's hang-up reaches the registry without the
			// client doing anything more.
			w.waitRemoved(t, id)
			if err := conn.PingContext(ctx); !isConnectionLost(err) {
				t.Errorf("ping after the backend died: %v, want the connection lost", err)
			}
			conn.Close()
			db.Close()
			w.waitEmpty(t, p.reg)
			before.released(t)
		})
	}
}

// readSlowly reads longResult on conn, pausing after every batch rows, until
// reading fails or ctx ends. It returns why it stopped; a result set that
// ends cleanly is an error, since the test always breaks it.
func readSlowly(ctx context.Context, conn *sql.Conn, batch int) error {
	rows, err := conn.QueryContext(ctx, longResult)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
		if n%batch == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return fmt.Errorf("all %d rows arrived", n)
}

// stalledPort returns a server on a loopback port whose accept queue is
// full: the kernel drops further SYNs, so a connect to it neither succeeds
// nor fails until the dialer gives up.
func stalledPort(t *testing.T, name string) core.Server {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "stalled listener")
	defer f.Close()
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	// A backlog of 0 queues one connection; nothing ever accepts it.
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				port := ln.Addr().(*net.TCPAddr).Port
				return core.Server{Name: name, Address: "127.0.0.1", Port: port}
			}
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the accept queue never filled: connects do not stall")
	return core.Server{}
}

// TestBackendUnavailableAtHandshake checks that a backend that refuses the
// connection, lets the connect hang or accepts and says nothing costs the
// client one ERR, within the connect or auth timeout.
func TestBackendUnavailableAtHandshake(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name      string
		server    func(t *testing.T) core.Server
		wantErrno uint16
		// wantLog is in the proxy's log of the session's end: why it failed.
		wantLog string
		// lingers: the session lives until a timeout, so a subscriber
		// always sees it come and go.
		lingers bool
	}{
		{name: "refused", server: func(t *testing.T) core.Server { return closedPort(t, "backend") },
			wantErrno: mysqlwire.CRConnHostError, wantLog: "connection refused"},
		{name: "connect stalls", server: func(t *testing.T) core.Server { return stalledPort(t, "backend") },
			wantErrno: mysqlwire.CRConnHostError, wantLog: "i/o timeout", lingers: true},
		{name: "greeting never comes", server: func(t *testing.T) core.Server { return startBackend(t, "backend", silent).srv },
			wantErrno: mysqlwire.ERHandshakeError, wantLog: "i/o timeout", lingers: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			p := startProxy(t, proxy.Config{ConnectTimeout: timeout, AuthTimeout: timeout,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}, tt.server(t))
			w := watch(t, p.reg)
			before := measure(t)

			db := openDB(t, p.addr, "maxpwd", "")
			done := make(chan error, 1)
			go func() {
				conn, err := db.Conn(t.Context())
				if err == nil {
					conn.Close()
				}
				done <- err
			}()
			if tt.lingers {
				w.waitRemoved(t, w.waitAdded(t))
			}
			err := <-done
			var me *mysql.MySQLError
			if !errors.As(err, &me) || me.Number != tt.wantErrno {
				t.Errorf("connect: %v, want MySQL error %d", err, tt.wantErrno)
			}
			db.Close()
			w.waitEmpty(t, p.reg)
			waitFor(t, 5*time.Second, "the session's end to be logged", func() bool { return strings.Contains(logs.String(), "session ended") })
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log does not say %q:\n%s", tt.wantLog, logs.String())
			}
			before.released(t)
		})
	}
}

// login opens a raw client session through p, so the test controls every
// byte and how the socket ends.
func login(t *testing.T, p *testProxy) *net.TCPConn {
	t.Helper()
	c := dial(t, p)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := mysqlwire.ClientHandshake(ctx, c, "maxuser", "maxpwd"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// TestClientGoesAway ends the client side of relaying sessions in the ways
// clients do without COM_QUIT.
func TestClientGoesAway(t *testing.T) {
	srv := testMariaDB(t)
	query := func(sql string) []byte { return packet(0, append([]byte{mysqlwire.ComQuery}, sql...)) }
	tests := []struct {
		name string
		// act breaks the session; it returns what the client read.
		act func(t *testing.T, c *net.TCPConn) [][]byte
		// wantRows is how many rows the client must have received whole.
		wantRows int
		// endsFirst is set when the session must end on the client's
		// hang-up, while the backend still runs its statement, not on
		// the statement's reply.
		endsFirst string
	}{
		{
			// A client may send its last query and shut its side of the
			// connection: the reply must still arrive.
			name: "half-closes after a query",
			act: func(t *testing.T, c *net.TCPConn) [][]byte {
				if _, err := c.Write(query("SELECT 1, SLEEP(0.2)")); err != nil {
					t.Fatal(err)
				}
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				return readUntilClosed(t, c, 10*time.Second)
			},
			wantRows: 1,
		},
		{
			// The client's side is then neither read nor written, so
			// only its hang-up tells the proxy that it is gone.
			name: "half-closes, then resets while its query runs",
			act: func(t *testing.T, c *net.TCPConn) [][]byte {
				if _, err := c.Write(query("SELECT SLEEP(8)")); err != nil {
					t.Fatal(err)
				}
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				if err := c.SetLinger(0); err != nil {
					t.Fatal(err)
				}
				c.Close()
				return nil
			},
			endsFirst: "SELECT SLEEP(8)",
		},
		{
			name: "vanishes while idle",
			act: func(t *testing.T, c *net.TCPConn) [][]byte {
				c.Close()
				return nil
			},
		},
		{
			name: "vanishes mid-result-set",
			act: func(t *testing.T, c *net.TCPConn) [][]byte {
				if _, err := c.Write(query(longResult)); err != nil {
					t.Fatal(err)
				}
				var buf [64 << 10]byte
				if _, err := c.Read(buf[:]); err != nil {
					t.Fatal(err)
				}
				c.Close()
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			side := sideConn(t, srv)
			p := startProxy(t, proxy.Config{}, srv)
			w := watch(t, p.reg)
			before := measure(t)

			c := login(t, p)
			id := w.waitAdded(t)
			thread := backendThread(t, p.reg, id)
			got := tt.act(t, c)
			if rows := countRows(t, got); rows != tt.wantRows {
				t.Errorf("the client received %d rows, want %d: %q", rows, tt.wantRows, got)
			}
			w.waitRemoved(t, id)
			if tt.endsFirst != "" {
				if _, info := threadRunning(t, side, thread); info != tt.endsFirst {
					t.Errorf("when the session ended the backend ran %q, want %q still running", info, tt.endsFirst)
				}
			}
			// Nothing is left running on MariaDB for a client that is gone.
			waitFor(t, 10*time.Second, "the backend thread to end", func() bool {
				running, _ := threadRunning(t, side, thread)
				return !running
			})
			c.Close()
			w.waitEmpty(t, p.reg)
			before.released(t)
		})
	}
}

// countRows checks that pkts are one whole text result set, or nothing,
// and returns its number of rows.
func countRows(t *testing.T, pkts [][]byte) int {
	t.Helper()
	if len(pkts) == 0 {
		return 0
	}
	// Column count, its definitions, an EOF unless deprecated, rows, and
	// the final EOF or OK.
	cols := int(pkts[0][0])
	last := pkts[len(pkts)-1]
	if len(last) == 0 || last[0] != mysqlwire.EOFHeader || len(pkts) < 1+cols+1 {
		t.Fatalf("not a whole result set: %q", pkts)
	}
	rows := 0
	for _, pkt := range pkts[1+cols : len(pkts)-1] {
		if len(pkt) > 0 && pkt[0] == mysqlwire.EOFHeader && len(pkt) < 9 {
			continue // the EOF after the column definitions
		}
		rows++
	}
	return rows
}

// TestKillDuringLongResult kills, as DELETE /v1/sessions/{id} does, a
// session that is streaming a long result set to a slow client. The client
// must see its connection lost and MariaDB must stop the statement.
func TestKillDuringLongResult(t *testing.T) {
	srv := testMariaDB(t)
	side := sideConn(t, srv)
	p := startProxy(t, proxy.Config{}, srv)
	w := watch(t, p.reg)
	before := measure(t)

	db := openDB(t, p.addr, "maxpwd", "")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := w.waitAdded(t)
	thread := backendThread(t, p.reg, id)
	done := make(chan error, 1)
	go func() { done <- readSlowly(ctx, conn, 1000) }()
	waitFor(t, 10*time.Second, "MariaDB to stream the result", func() bool {
		_, info := threadRunning(t, side, thread)
		return strings.HasPrefix(info, "SELECT seq")
	})
	if err := p.reg.Kill(id); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !isConnectionLost(err) {
		t.Errorf("the result set ended with %v, want the connection lost", err)
	}
	w.waitRemoved(t, id)
	waitFor(t, 10*time.Second, "the backend thread to be gone", func() bool {
		running, _ := threadRunning(t, side, thread)
		return !running
	})
	conn.Close()
	db.Close()
	w.waitEmpty(t, p.reg)
	before.released(t)
}

// TestConnectionStorm opens and closes 5,000 connections as fast as the
// machine allows: most log in to MariaDB through the proxy and leave, some
// with COM_QUIT and some without, and some hang up right after connecting.
// Every session must leave the registry and everything must be released.
func TestConnectionStorm(t *testing.T) {
	srv := testMariaDB(t)
	side := sideConn(t, srv)
	var maxConns int
	if err := side.QueryRowContext(t.Context(), "SELECT @@max_connections").Scan(&maxConns); err != nil {
		t.Fatal(err)
	}
	const total = 5000
	// Each worker holds at most one backend connection, plus the side
	// connection, plus whatever other tests on the server use.
	workers := min(50, maxConns/2)
	p := startProxy(t, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, srv)
	w := watch(t, p.reg)
	before := measure(t)

	var next, loggedIn, hungUp atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				if err := stormOne(t.Context(), p.addr, i); err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
					return
				}
				if i%4 == 0 {
					hungUp.Add(1)
				} else {
					loggedIn.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	w.waitEmpty(t, p.reg)
	t.Logf("%d connections (%d logged in, %d hung up at once) with %d workers in %v",
		total, loggedIn.Load(), hungUp.Load(), workers, time.Since(start).Round(time.Millisecond))
	if c := p.reg.ServiceCounts()[serviceName]; c.Total != total || c.Current != 0 {
		t.Errorf("service counts %+v, want %d in all and none current", c, total)
	}
	before.released(t)
}

// stormOne is one connection of the storm; i decides how it ends.
func stormOne(ctx context.Context, addr string, i int64) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if i%4 == 0 {
		return nil
	}
	if err := mysqlwire.ClientHandshake(ctx, c, "maxuser", "maxpwd"); err != nil {
		return err
	}
	if i%4 == 1 {
		return nil // gone without a word
	}
	return mysqlwire.WritePacket(c, 0, []byte{mysqlwire.ComQuit})
}

// flakyListener fails its first accepts with err, then accepts for real.
type flakyListener struct {
	net.Listener
	err      error
	failures atomic.Int32
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.failures.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", l.err)}
	}
	return l.Listener.Accept()
}

// TestAcceptErrors checks that running out of descriptors or buffers makes
// the listener pause, not stop, and that any other accept error stops it.
func TestAcceptErrors(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		errno      syscall.Errno
		keepsGoing bool
	}{
		{syscall.EMFILE, true},
		{syscall.ENFILE, true},
		{syscall.ENOBUFS, true},
		{syscall.ENOMEM, true},
		{syscall.ECONNABORTED, true},
		{syscall.EINVAL, false},
	}
	for _, tt := range tests {
		t.Run(tt.errno.Error(), func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ln := &flakyListener{Listener: inner, err: tt.errno}
			ln.failures.Store(5)
			topo := &core.Topology{
				Servers:   []core.Server{srv},
				Services:  []core.Service{{Name: serviceName, Router: "readconnroute", Servers: []string{srv.Name}}},
				Listeners: []core.Listener{{Name: "lst", Service: serviceName, Address: "127.0.0.1"}},
			}
			logs := &lockedBuffer{}
			px := proxy.New(proxy.Config{Registry: core.NewRegistry(nil), Topology: topo,
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- px.Serve(ctx, ln, topo.Listeners[0]) }()
			if !tt.keepsGoing {
				select {
				case err := <-served:
					if !errors.Is(err, tt.errno) {
						t.Errorf("Serve = %v, want it to stop with %v", err, tt.errno)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("Serve went on after an accept error it cannot recover from")
				}
				inner.Close()
				return
			}
			db := openDB(t, inner.Addr().String(), "maxpwd", "")
			var one int
			if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("SELECT 1 = %d, %v after the accept errors", one, err)
			}
			if n := ln.failures.Load(); n >= 0 {
				t.Errorf("%d injected errors were never returned", n+1)
			}
			if got := strings.Count(logs.String(), "accept failed; retrying"); got != 5 {
				t.Errorf("%d retries logged, want 5:\n%s", got, logs.String())
			}
			db.Close()
			cancel()
			if err := <-served; err != nil {
				t.Errorf("Serve = %v after cancel, want nil", err)
			}
		})
	}
}

// TestDrain closes the listener under a proxy with open sessions, as a
// graceful shutdown does: new clients are refused at once, running sessions
// go on, and Serve returns nil once the last one has ended.
func TestDrain(t *testing.T) {
	srv := testMariaDB(t)
	topo := &core.Topology{
		Servers:   []core.Server{srv},
		Services:  []core.Service{{Name: serviceName, Router: "readconnroute", Servers: []string{srv.Name}}},
		Listeners: []core.Listener{{Name: "lst", Service: serviceName, Address: "127.0.0.1"}},
	}
	reg := core.NewRegistry(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px := proxy.New(proxy.Config{Registry: reg, Topology: topo})
	served := make(chan error, 1)
	go func() { served <- px.Serve(t.Context(), ln, topo.Listeners[0]) }()
	db := openDB(t, ln.Addr().String(), "maxpwd", "")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sleepDone := make(chan error, 1)
	go func() {
		var r int
		sleepDone <- conn.QueryRowContext(ctx, "SELECT SLEEP(1)").Scan(&r)
	}()
	waitFor(t, 5*time.Second, "the sleep to start", func() bool {
		list := sessions(reg)
		return len(list) == 1 && list[0].Busy
	})
	ln.Close()
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("connect after the listener closed: %v, want it refused", err)
	}
	if err := <-sleepDone; err != nil {
		t.Errorf("the running statement failed during the drain: %v", err)
	}
	if err := conn.PingContext(ctx); err != nil {
		t.Errorf("the session stopped working during the drain: %v", err)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a session was open", err)
	default:
	}
	conn.Close()
	db.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil after a drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its last session ended")
	}
	if n := len(sessions(reg)); n != 0 {
		t.Errorf("%d sessions left after the drain", n)
	}
}

// pipeliningConn sends then right behind the client's first write, its
// handshake response, and shuts its side: a client that pipelines its one
// statement and is done before its login has been answered.
type pipeliningConn struct {
	*net.TCPConn
	then   []byte
	writes int
}

func (c *pipeliningConn) Write(b []byte) (int, error) {
	c.writes++
	if c.writes > 1 {
		return 0, errors.New("pipeliningConn: the handshake wrote twice")
	}
	if _, err := c.TCPConn.Write(append(bytes.Clone(b), c.then...)); err != nil {
		return 0, err
	}
	return len(b), c.CloseWrite()
}

// TestClientShutsDuringLogin covers a client whose side is already shut
// when its session would move to an event loop: the backend answers the
// login late, so the proxy has read the client's statement and its end by
// then. The session is handed over all the same, the reply arrives, and a
// reset while the statement runs still ends the session at once.
func TestClientShutsDuringLogin(t *testing.T) {
	greeting := captured(t, "greeting_mariadb_go_session.bin")
	// lateOK answers the login after the client is done, then, once
	// released, the statement with reply, if any, and waits for the proxy
	// to hang up.
	lateOK := func(reply []byte, release <-chan struct{}) func(net.Conn) {
		return func(c net.Conn) {
			if mysqlwire.WritePacket(c, 0, greeting) != nil {
				return
			}
			r := bufio.NewReader(c)
			if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
			if mysqlwire.WritePacket(c, 2, []byte{0, 0, 0, 2, 0, 0, 0}) != nil {
				return
			}
			if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
				return
			}
			<-release
			if reply != nil {
				if _, err := c.Write(reply); err != nil {
					return
				}
			}
			_, _ = io.Copy(io.Discard, r)
		}
	}
	tests := []struct {
		name     string
		cfg      proxy.Config
		reply    []byte // nil: the statement runs until the proxy hangs up
		wantRows int
	}{
		{name: "the reply arrives (event loop)", reply: resultSet(1, 10), wantRows: 1},
		{name: "the reply arrives (goroutines)", cfg: proxy.Config{NoEventLoop: true}, reply: resultSet(1, 10), wantRows: 1},
		{name: "a reset ends it while the statement runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			be := startBackend(t, "server1", lateOK(tt.reply, release))
			p := startProxy(t, tt.cfg, be.srv)
			w := watch(t, p.reg)
			before := measure(t)
			c := dial(t, p)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			stmt := packet(0, append([]byte{mysqlwire.ComQuery}, "SELECT 1"...))
			if err := mysqlwire.ClientHandshake(ctx, &pipeliningConn{TCPConn: c, then: stmt}, "maxuser", "maxpwd"); err != nil {
				t.Fatal(err)
			}
			id := w.waitAdded(t)
			close(release)
			var got [][]byte
			if tt.reply == nil {
				if err := c.SetLinger(0); err != nil {
					t.Fatal(err)
				}
				c.Close()
			} else {
				got = readUntilClosed(t, c, 10*time.Second)
			}
			if rows := countRows(t, got); rows != tt.wantRows {
				t.Errorf("the client received %d rows, want %d: %q", rows, tt.wantRows, got)
			}
			w.waitRemoved(t, id)
			c.Close()
			w.waitEmpty(t, p.reg)
			before.released(t)
		})
	}
}
