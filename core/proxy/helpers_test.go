package proxy_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

const mariadbEnv = "PORTICO_TEST_MARIADB"

// TestMain gives the event loops processors of their own, as cmd/portico
// does, so the tests relay the way Portico does.
func TestMain(m *testing.M) {
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + proxy.LoopThreads(proxy.DefaultLoops()))
	os.Exit(m.Run())
}

// testMariaDB returns the real MariaDB the integration cases run against.
// It is required, never optional: a missing server fails the test.
func testMariaDB(tb testing.TB) core.Server {
	tb.Helper()
	addr := os.Getenv(mariadbEnv)
	if addr == "" {
		tb.Fatal("PORTICO_TEST_MARIADB is not set: run `go tool task test`")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatalf("%s=%q: %v", mariadbEnv, addr, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		tb.Fatalf("%s=%q: bad port: %v", mariadbEnv, addr, err)
	}
	return core.Server{Name: "mariadb1", Address: host, Port: n}
}

// captured returns a payload captured from a real MariaDB; see
// core/mysqlwire/testdata/README.md.
func captured(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "mysqlwire", "testdata", name))
	if err != nil {
		tb.Fatalf("read captured packet: %v", err)
	}
	return b
}

// packet frames payload as one physical packet.
func packet(seq byte, payload []byte) []byte {
	var b bytes.Buffer
	if err := mysqlwire.WritePacket(&b, seq, payload); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// fakeBackend is a tiny scripted server: each accepted connection is handed
// to serve, and closed when serve returns or the backend is closed.
type fakeBackend struct {
	srv      core.Server
	ln       net.Listener
	wg       sync.WaitGroup
	accepted atomic.Int32

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
}

func startBackend(tb testing.TB, name string, serve func(net.Conn)) *fakeBackend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	b := &fakeBackend{
		srv:   core.Server{Name: name, Address: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port},
		ln:    ln,
		conns: map[net.Conn]struct{}{},
	}
	b.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.mu.Lock()
			if b.closed {
				b.mu.Unlock()
				c.Close()
				return
			}
			b.conns[c] = struct{}{}
			b.mu.Unlock()
			b.accepted.Add(1)
			b.wg.Go(func() {
				defer func() {
					b.mu.Lock()
					delete(b.conns, c)
					b.mu.Unlock()
					c.Close()
				}()
				serve(c)
			})
		}
	})
	tb.Cleanup(b.Close)
	return b
}

// Close stops accepting, hangs up on every connection and waits for the
// handlers. It is safe to call twice.
func (b *fakeBackend) Close() {
	b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// replay sends greeting, answers the client's first packet with reply (unless
// nil), then reads until the proxy hangs up.
func replay(greeting, reply []byte) func(net.Conn) {
	return func(c net.Conn) {
		if mysqlwire.WritePacket(c, 0, greeting) != nil {
			return
		}
		seq, _, err := mysqlwire.ReadPacket(c, 0)
		if err != nil {
			return
		}
		if reply != nil && mysqlwire.WritePacket(c, seq+1, reply) != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
	}
}

// sendAndClose writes raw bytes and hangs up.
func sendAndClose(raw []byte) func(net.Conn) {
	return func(c net.Conn) { _, _ = c.Write(raw) }
}

// silent accepts and never says anything.
func silent(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// closedPort returns a server on a 127.0.0.1 port nothing listens on.
func closedPort(tb testing.TB, name string) core.Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return core.Server{Name: name, Address: "127.0.0.1", Port: port}
}

// testProxy is a real proxy serving one listener for service "svc", whose
// servers are tried in the order given.
type testProxy struct {
	addr   string
	p      *proxy.Proxy
	reg    *core.Registry
	cancel context.CancelFunc
	done   chan error

	once    sync.Once
	stopErr error
}

const serviceName = "svc"

func startProxy(tb testing.TB, cfg proxy.Config, servers ...core.Server) *testProxy {
	tb.Helper()
	return startProxyService(tb, cfg, core.Service{User: "maxuser", Password: "maxpwd"}, servers...)
}

// startProxyService is startProxy with the service's other fields (its
// credentials, say) taken from svc.
func startProxyService(tb testing.TB, cfg proxy.Config, svc core.Service, servers ...core.Server) *testProxy {
	tb.Helper()
	var names []string
	for _, s := range servers {
		names = append(names, s.Name)
	}
	svc.Name, svc.Router, svc.Servers = serviceName, "readconnroute", names
	topo := &core.Topology{
		Servers:   servers,
		Services:  []core.Service{svc},
		Listeners: []core.Listener{{Name: "lst", Service: serviceName, Address: "127.0.0.1"}},
	}
	reg := core.NewRegistry(nil)
	cfg.Registry = reg
	cfg.Topology = topo
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProxy{addr: ln.Addr().String(), reg: reg, cancel: cancel, done: make(chan error, 1)}
	px := proxy.New(cfg)
	p.p = px
	go func() { p.done <- px.Serve(ctx, ln, topo.Listeners[0]) }()
	waitFor(tb, 5*time.Second, "the proxy to serve", func() bool { return proxy.Serving(px) })
	tb.Cleanup(func() {
		if err := p.stop(); err != nil {
			tb.Errorf("stop proxy: %v", err)
		}
		ln.Close()
	})
	return p
}

// stop cancels the proxy's context and waits for Serve to return.
func (p *testProxy) stop() error {
	p.once.Do(func() {
		p.cancel()
		select {
		case err := <-p.done:
			p.stopErr = err
		case <-time.After(10 * time.Second):
			p.stopErr = errors.New("Serve did not return within 10s of cancel")
		}
	})
	return p.stopErr
}

// dial connects a raw client to the proxy. Every read and write is bounded
// so a wedged proxy fails the test instead of hanging it.
func dial(tb testing.TB, p *testProxy) *net.TCPConn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func readPacket(tb testing.TB, c net.Conn) (byte, []byte) {
	tb.Helper()
	seq, pkt, err := mysqlwire.ReadPacket(c, 0)
	if err != nil {
		tb.Fatalf("read packet: %v", err)
	}
	return seq, pkt
}

// readGreeting reads the greeting the proxy relays and parses it.
func readGreeting(tb testing.TB, c net.Conn) ([]byte, mysqlwire.Greeting) {
	tb.Helper()
	seq, pkt := readPacket(tb, c)
	if seq != 0 {
		tb.Errorf("greeting seq = %d, want 0", seq)
	}
	g, err := mysqlwire.ParseGreeting(pkt)
	if err != nil {
		tb.Fatalf("client cannot parse the greeting it got: %v", err)
	}
	return pkt, g
}

// expectErr reads one packet and checks it is an ERR with errno and seq.
func expectErr(tb testing.TB, c net.Conn, errno uint16, seq byte) mysqlwire.ErrorPacket {
	tb.Helper()
	gotSeq, pkt, err := mysqlwire.ReadPacket(c, 0)
	if err != nil {
		tb.Fatalf("want ERR %d, got read error: %v", errno, err)
	}
	e, err := mysqlwire.ParseErrPacket(pkt)
	if err != nil {
		tb.Fatalf("want ERR %d, got packet %q", errno, pkt)
	}
	if e.Code != errno {
		tb.Errorf("errno = %d (%s), want %d", e.Code, e, errno)
	}
	if gotSeq != seq {
		tb.Errorf("ERR seq = %d, want %d", gotSeq, seq)
	}
	return e
}

// isHangUp reports whether err is how a reader learns the peer closed.
func isHangUp(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// expectClosed checks that the proxy closes the connection within 3s without
// sending anything more.
func expectClosed(tb testing.TB, c net.Conn) {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var buf [256]byte
	n, err := c.Read(buf[:])
	if n > 0 {
		tb.Fatalf("want the connection closed, got %d more bytes: %q", n, buf[:n])
	}
	if !isHangUp(err) {
		tb.Fatalf("want the connection closed, got %v", err)
	}
}

// readUntilClosed returns every packet the proxy sends until it closes the
// connection, failing if it does not close within d.
func readUntilClosed(tb testing.TB, c net.Conn, d time.Duration) [][]byte {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	raw, err := io.ReadAll(c)
	if err != nil && !isHangUp(err) {
		tb.Fatalf("want the connection closed within %v, got %v after %q", d, err, raw)
	}
	var pkts [][]byte
	r := bytes.NewReader(raw)
	for r.Len() > 0 {
		_, pkt, err := mysqlwire.ReadPacket(r, 0)
		if err != nil {
			tb.Fatalf("proxy sent bytes that are not packets: %v (%q)", err, raw)
		}
		pkts = append(pkts, pkt)
	}
	return pkts
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sessions(reg *core.Registry) []core.Session {
	_, list := reg.List()
	return list
}

// waitSessions waits until the registry holds exactly n sessions.
func waitSessions(tb testing.TB, reg *core.Registry, n int) []core.Session {
	tb.Helper()
	var list []core.Session
	waitFor(tb, 3*time.Second, strconv.Itoa(n)+" sessions in the registry", func() bool {
		list = sessions(reg)
		return len(list) == n
	})
	return list
}

// waitGoroutines waits until no more goroutines run than baseline, and dumps
// them all if that does not happen.
func waitGoroutines(tb testing.TB, baseline int) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			var dump strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&dump, 1)
			tb.Fatalf("%d goroutines still running, baseline %d:\n%s", runtime.NumGoroutine(), baseline, dump.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sleepOnBackend runs SELECT SLEEP(20) on one connection of db, through a
// proxy, and returns once the backend runs it, with the backend's thread
// id and where the statement's outcome will arrive. direct is a
// connection straight to the server: however the test ends, it kills the
// sleep so that it cannot outlive the test.
func sleepOnBackend(t *testing.T, db, direct *sql.DB) (uint32, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var threadID uint32
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&threadID); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = direct.Exec("KILL " + strconv.FormatUint(uint64(threadID), 10)) })
	done := make(chan error, 1)
	go func() {
		_, err := conn.ExecContext(ctx, "SELECT SLEEP(20)")
		done <- err
	}()
	waitFor(t, 5*time.Second, "the sleep to run on the backend", func() bool { return sleeping(t, direct, threadID) })
	return threadID, done
}

// sleeping reports whether backend thread id runs a SELECT SLEEP.
func sleeping(t *testing.T, direct *sql.DB, id uint32) bool {
	t.Helper()
	return processCount(t, direct, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'", id) > 0
}

// processCount runs a COUNT(*) query about backend thread id.
func processCount(t *testing.T, direct *sql.DB, query string, id uint32) int {
	t.Helper()
	var n int
	if err := direct.QueryRowContext(t.Context(), query, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
