package proxy_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// handshakeResponse320 is a pre-4.1 HandshakeResponse: two capability bytes
// without CLIENT_PROTOCOL_41, a 3-byte max packet size, the user and an old
// 8-byte scramble.
var handshakeResponse320 = []byte{
	0x8d, 0xa0, // capabilities without ClientProtocol41
	0xff, 0xff, 0xff, // max packet size
	'm', 'a', 'x', 'u', 's', 'e', 'r', 0,
	'S', 'C', 'R', 'A', 'M', 'B', 'L', 'E', 0,
}

func TestClientHandshakeFaults(t *testing.T) {
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	cliResp := captured(t, "handshake_response_mariadb_cli.bin")
	// A valid response padded to exactly the 64 KiB handshake limit: bytes
	// after the connection attributes are ignored by servers and by the
	// proxy's parser.
	atLimit := append(bytes.Clone(goResp), make([]byte, 64<<10-len(goResp))...)
	httpRequest := []byte("GET / HTTP/1.1\r\nHost: portico\r\n\r\n")

	tests := []struct {
		name string
		// send is written raw after the client has read the greeting.
		send      []byte
		halfClose bool
		// wantErrno 0 means the proxy must just hang up.
		wantErrno uint16
		wantSeq   byte
		wantMsg   string
	}{
		{name: "truncated in the fixed header", send: packet(1, goResp[:20]), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "truncated in the user name", send: packet(1, goResp[:36]), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "truncated in the auth response", send: packet(1, goResp[:45]), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "connection attributes cut short", send: packet(1, cliResp[:len(cliResp)-1]), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "empty payload", send: packet(1, nil), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "garbage", send: packet(1, bytes.Repeat([]byte{0xFF}, 64)), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "pre-4.1 HandshakeResponse320", send: packet(1, handshakeResponse320), wantErrno: 1043, wantSeq: 2, wantMsg: "Bad handshake"},
		{name: "SSLRequest", send: packet(1, captured(t, "ssl_request_mariadb_cli.bin")), wantErrno: 1043, wantSeq: 2, wantMsg: "TLS"},
		{name: "header declares 64 KiB + 1", send: []byte{0x01, 0x00, 0x01, 0x01}, wantErrno: 1043, wantSeq: 2, wantMsg: "larger than 65536 bytes"},
		{name: "header declares 16 MiB", send: []byte{0xFF, 0xFF, 0xFF, 0x01}, wantErrno: 1043, wantSeq: 2, wantMsg: "larger than 65536 bytes"},
		// "GET" reads as a 5.5 MB length and ' ' as sequence id 0x20.
		{name: "HTTP request", send: httpRequest, wantErrno: 1043, wantSeq: 0x21, wantMsg: "larger than 65536 bytes"},
		// The limit is inclusive: this reaches the backend, whose refusal
		// comes back verbatim.
		{name: "exactly 64 KiB is accepted", send: packet(1, atLimit), wantErrno: 1045, wantSeq: 2, wantMsg: "Access denied"},
		{name: "cut mid-packet, then half-closed", send: append([]byte{100, 0, 0, 1}, goResp[:10]...), halfClose: true},
		{name: "half-closed without a word", halfClose: true},
	}
	be := startBackend(t, "fake1", replay(captured(t, "greeting_mariadb.bin"), captured(t, "err_access_denied_mariadb.bin")))
	p := startProxy(t, proxy.Config{}, be.srv)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, p)
			readGreeting(t, c)
			if _, err := c.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			if tt.halfClose {
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wantErrno != 0 {
				e := expectErr(t, c, tt.wantErrno, tt.wantSeq)
				if !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantMsg)
				}
				if tt.wantErrno == mysqlwire.ERHandshakeError && e.SQLState != mysqlwire.SSNetError {
					t.Errorf("SQLSTATE = %q, want %q", e.SQLState, mysqlwire.SSNetError)
				}
			}
			expectClosed(t, c)
			waitSessions(t, p.reg, 0)
		})
	}
}

func TestBackendFaults(t *testing.T) {
	greeting := captured(t, "greeting_mariadb.bin")
	badVersion := bytes.Clone(greeting)
	badVersion[0] = 9
	tooMany := packet(0, []byte("\xff\x10\x04Too many connections"))
	blocked := packet(0, mysqlwire.ErrPacket(1129, "HY000", "Host '10.0.0.1' is blocked because of many connection errors"))

	tests := []struct {
		name string
		// serve scripts the backend; nil means nothing listens.
		serve     func(net.Conn)
		wantErrno uint16
		wantMsg   string
		// wantRaw, if set, is exactly what the client must receive.
		wantRaw []byte
	}{
		{name: "unreachable", wantErrno: 2003, wantMsg: "could not connect to any server of service 'svc'"},
		{name: "hangs up without a greeting", serve: sendAndClose(nil), wantErrno: 1043, wantMsg: "Lost connection to server 'backend'"},
		{name: "speaks HTTP", serve: sendAndClose([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")), wantErrno: 1043, wantMsg: "Lost connection to server 'backend'"},
		{name: "sends a packet that is not a greeting", serve: sendAndClose(packet(0, []byte("hello"))), wantErrno: 1043, wantMsg: "Bad handshake from server 'backend'"},
		{name: "sends protocol version 9", serve: sendAndClose(packet(0, badVersion)), wantErrno: 1043, wantMsg: "Bad handshake from server 'backend'"},
		{name: "hangs up mid-greeting", serve: sendAndClose(packet(0, greeting)[:30]), wantErrno: 1043, wantMsg: "Lost connection to server 'backend'"},
		{name: "refuses with ERR 1040 too many connections", serve: sendAndClose(tooMany), wantRaw: tooMany},
		{name: "refuses with ERR 1129 host blocked", serve: sendAndClose(blocked), wantRaw: blocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := closedPort(t, "backend")
			if tt.serve != nil {
				srv = startBackend(t, "backend", tt.serve).srv
			}
			p := startProxy(t, proxy.Config{}, srv)
			c := dial(t, p)
			start := time.Now()
			if tt.wantRaw != nil {
				pkts := readUntilClosed(t, c, 3*time.Second)
				if got := bytes.Join(pkts, nil); len(pkts) != 1 || !bytes.Equal(packet(0, pkts[0]), tt.wantRaw) {
					t.Errorf("client got %q, want exactly %q", got, tt.wantRaw)
				}
			} else {
				e := expectErr(t, c, tt.wantErrno, 0)
				if !strings.Contains(e.Message, tt.wantMsg) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantMsg)
				}
				expectClosed(t, c)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("the client waited %v for its answer", d)
			}
			waitSessions(t, p.reg, 0)
		})
	}
}

func TestServersAreTriedInOrder(t *testing.T) {
	greeting := captured(t, "greeting_mariadb.bin")
	tests := []struct {
		name       string
		servers    func(t *testing.T) []core.Server
		wantServer string
		wantErrMsg []string
	}{
		{
			name: "first server down",
			servers: func(t *testing.T) []core.Server {
				return []core.Server{closedPort(t, "down"), startBackend(t, "up", replay(greeting, nil)).srv}
			},
			wantServer: "up",
		},
		{
			name: "first server up",
			servers: func(t *testing.T) []core.Server {
				return []core.Server{startBackend(t, "up", replay(greeting, nil)).srv, closedPort(t, "down")}
			},
			wantServer: "up",
		},
		{
			name: "every server down",
			servers: func(t *testing.T) []core.Server {
				return []core.Server{closedPort(t, "down1"), closedPort(t, "down2")}
			},
			wantErrMsg: []string{"Portico could not connect to any server of service 'svc'"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, proxy.Config{}, tt.servers(t)...)
			c := dial(t, p)
			if tt.wantServer == "" {
				e := expectErr(t, c, mysqlwire.CRConnHostError, 0)
				for _, m := range tt.wantErrMsg {
					if !strings.Contains(e.Message, m) {
						t.Errorf("message = %q, want it to contain %q", e.Message, m)
					}
				}
				expectClosed(t, c)
				waitSessions(t, p.reg, 0)
				return
			}
			_, g := readGreeting(t, c)
			s, err := p.reg.Get(core.SessionID(g.ConnectionID))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Backends) != 1 || s.Backends[0].Server != tt.wantServer {
				t.Errorf("backends = %+v, want one on %s", s.Backends, tt.wantServer)
			}
		})
	}
}

func TestGreetingRewrite(t *testing.T) {
	tests := []struct {
		name string
		// file is the captured greeting the fake backend sends; empty means
		// the real MariaDB.
		file string
	}{
		{name: "MariaDB greeting", file: "greeting_mariadb.bin"},
		{name: "greeting offering TLS", file: "greeting_mariadb_ssl.bin"},
		{name: "greeting of the go-sql-driver capture", file: "greeting_mariadb_go_session.bin"},
		{name: "real MariaDB"},
	}
	const cleared = mysqlwire.ClientSSL | mysqlwire.ClientCompress
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var orig []byte
			var srv core.Server
			if tt.file != "" {
				orig = captured(t, tt.file)
				srv = startBackend(t, "fake1", replay(orig, nil)).srv
			} else {
				srv = testMariaDB(t)
				orig = directGreeting(t, srv)
			}
			want, err := mysqlwire.ParseGreeting(orig)
			if err != nil {
				t.Fatal(err)
			}
			p := startProxy(t, proxy.Config{}, srv)
			seen := map[uint32]bool{}
			for i := range 3 {
				c := dial(t, p)
				raw, got := readGreeting(t, c)
				if seen[got.ConnectionID] {
					t.Errorf("client %d got connection id %d again", i, got.ConnectionID)
				}
				seen[got.ConnectionID] = true
				s, err := p.reg.Get(core.SessionID(got.ConnectionID))
				if err != nil {
					t.Fatalf("client %d: connection id %d is not a session id: %v", i, got.ConnectionID, err)
				}
				if got.Capabilities&cleared != 0 {
					t.Errorf("capabilities %#x still offer TLS or compression", got.Capabilities)
				}
				if got.Capabilities != want.Capabilities&^cleared {
					t.Errorf("capabilities = %#x, want %#x with only SSL and COMPRESS cleared", got.Capabilities, want.Capabilities)
				}
				if len(s.Backends) != 1 || s.Backends[0].Server != srv.Name || s.Backends[0].ThreadID == 0 {
					t.Errorf("backends = %+v, want the thread on %s", s.Backends, srv.Name)
				}
				if tt.file == "" {
					// Scrambles and thread ids differ per connection.
					if got.ServerVersion != want.ServerVersion || got.AuthPluginName != want.AuthPluginName ||
						got.MariaDBCapabilities != want.MariaDBCapabilities || len(raw) != len(orig) {
						t.Errorf("greeting = %+v, want it to match a direct one: %+v", got, want)
					}
					continue
				}
				if s.Backends[0].ThreadID != want.ConnectionID {
					t.Errorf("backend thread id = %d, want %d from the backend's greeting", s.Backends[0].ThreadID, want.ConnectionID)
				}
				// Everything but the connection id and capabilities is the
				// backend's, byte for byte.
				got.ConnectionID, got.Capabilities = want.ConnectionID, want.Capabilities
				if !equalGreetings(got, want) || len(raw) != len(orig) {
					t.Errorf("greeting changed beyond id and capabilities:\n got %+v\nwant %+v", got, want)
				}
				if n := differingBytes(raw, orig); n > 6 {
					t.Errorf("%d bytes differ, want at most 6 (4 for the id, 2 for the capabilities)", n)
				}
			}
		})
	}
}

func equalGreetings(a, b mysqlwire.Greeting) bool {
	return a.ProtocolVersion == b.ProtocolVersion && a.ServerVersion == b.ServerVersion &&
		a.ConnectionID == b.ConnectionID && a.Capabilities == b.Capabilities &&
		a.MariaDBCapabilities == b.MariaDBCapabilities && a.Charset == b.Charset &&
		a.StatusFlags == b.StatusFlags && bytes.Equal(a.AuthPluginData, b.AuthPluginData) &&
		a.AuthPluginName == b.AuthPluginName
}

func differingBytes(a, b []byte) int {
	n := 0
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n + max(len(a), len(b)) - min(len(a), len(b))
}

// directGreeting reads srv's greeting without the proxy.
func directGreeting(t *testing.T, srv core.Server) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, g := readPacket(t, c)
	return g
}

func TestHandshakeTimeouts(t *testing.T) {
	const authTimeout = 300 * time.Millisecond
	greeting := captured(t, "greeting_mariadb.bin")
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	tests := []struct {
		name  string
		serve func(net.Conn)
		// greet: the client waits for the greeting, then sends send.
		greet     bool
		send      []byte
		wantErrno uint16
	}{
		{name: "backend accepts and says nothing", serve: silent, wantErrno: 1043},
		{name: "backend never answers the handshake response", serve: replay(greeting, nil), greet: true, send: packet(1, goResp)},
		{name: "client never sends its handshake response", serve: replay(greeting, nil), greet: true},
		{name: "client stops mid-packet", serve: replay(greeting, nil), greet: true, send: []byte{100, 0, 0, 1, 'x'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := startBackend(t, "fake1", tt.serve)
			p := startProxy(t, proxy.Config{AuthTimeout: authTimeout}, be.srv)
			start := time.Now()
			c := dial(t, p)
			if tt.greet {
				readGreeting(t, c)
				if _, err := c.Write(tt.send); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wantErrno != 0 {
				e := expectErr(t, c, tt.wantErrno, 0)
				if !strings.Contains(e.Message, "during handshake") {
					t.Errorf("message = %q, want it to say the handshake failed", e.Message)
				}
			}
			// An ERR is welcome where none is required, but the proxy must
			// hang up and say nothing else.
			for _, pkt := range readUntilClosed(t, c, authTimeout+3*time.Second) {
				if _, err := mysqlwire.ParseErrPacket(pkt); err != nil {
					t.Errorf("proxy sent %q, want nothing but an ERR", pkt)
				}
			}
			if d := time.Since(start); d < authTimeout/2 {
				t.Errorf("closed after %v, before the %v auth timeout could have fired", d, authTimeout)
			}
			waitSessions(t, p.reg, 0)
		})
	}
}

func TestShutdown(t *testing.T) {
	const clients = 5
	greeting := captured(t, "greeting_mariadb.bin")
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	okPkt := captured(t, "ok_after_auth_mariadb.bin")
	tests := []struct {
		name string
		// serve scripts the backend; nil means the real MariaDB.
		serve func(net.Conn)
		// greet and login say how far each raw client gets.
		greet, login bool
		state        core.State
	}{
		{name: "sessions waiting for the backend's greeting", serve: silent, state: core.StateAllocated},
		{name: "sessions waiting for the client's handshake response", serve: replay(greeting, nil), greet: true, state: core.StateAllocated},
		{name: "relaying sessions (replay backend)", serve: replay(greeting, okPkt), greet: true, login: true, state: core.StateReady},
		{name: "relaying sessions (real MariaDB)", state: core.StateReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			var srv core.Server
			var be *fakeBackend
			if tt.serve != nil {
				be = startBackend(t, "fake1", tt.serve)
				srv = be.srv
			} else {
				srv = testMariaDB(t)
			}
			// The default auth timeout is far longer than the shutdown may
			// take, so no session can end by timing out.
			p := startProxy(t, proxy.Config{}, srv)

			var raw []net.Conn
			var db *sql.DB
			var conns []*sql.Conn
			if tt.serve == nil {
				db = openDB(t, p.addr, "maxpwd", "portico_demo")
				db.SetMaxOpenConns(clients)
				for range clients {
					conn, err := db.Conn(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					conns = append(conns, conn)
				}
			} else {
				for range clients {
					c := dial(t, p)
					if tt.greet {
						readGreeting(t, c)
					}
					if tt.login {
						if _, err := c.Write(packet(1, goResp)); err != nil {
							t.Fatal(err)
						}
						if _, pkt := readPacket(t, c); len(pkt) == 0 || pkt[0] != mysqlwire.OKHeader {
							t.Fatalf("want OK after login, got %q", pkt)
						}
					}
					raw = append(raw, c)
				}
				waitFor(t, 3*time.Second, "the backend to accept every session", func() bool { return be.accepted.Load() == clients })
			}
			waitFor(t, 3*time.Second, "every session to be registered", func() bool {
				list := sessions(p.reg)
				if len(list) != clients {
					return false
				}
				for _, s := range list {
					if s.State != tt.state {
						return false
					}
				}
				return true
			})

			start := time.Now()
			if err := p.stop(); err != nil {
				t.Fatalf("Serve: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Serve took %v to return after cancel", d)
			}
			if n := len(sessions(p.reg)); n != 0 {
				t.Errorf("%d sessions still registered after Serve returned", n)
			}
			for _, c := range raw {
				readUntilClosed(t, c, 3*time.Second)
				c.Close()
			}
			for _, conn := range conns {
				if err := conn.PingContext(context.Background()); err == nil {
					t.Error("a driver connection still works after shutdown")
				}
				conn.Close()
			}
			if db != nil {
				db.Close()
			}
			if be != nil {
				be.Close()
			}
			waitGoroutines(t, baseline)
		})
	}
}

func TestServeUnknownService(t *testing.T) {
	tests := []struct {
		name    string
		service string
	}{
		{name: "undefined service", service: "nope"},
		{name: "empty service name", service: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			px := proxy.New(proxy.Config{Registry: core.NewRegistry(nil), Topology: &core.Topology{}})
			err = px.Serve(context.Background(), ln, core.Listener{Name: "lst", Service: tt.service})
			if err == nil || !strings.Contains(err.Error(), "listener lst") {
				t.Errorf("Serve = %v, want an error naming the listener", err)
			}
		})
	}
}

// openDB returns a go-sql-driver pool on addr as maxuser.
func openDB(tb testing.TB, addr, passwd, dbName string) *sql.DB {
	tb.Helper()
	cfg := mysql.NewConfig()
	cfg.User = "maxuser"
	cfg.Passwd = passwd
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.DBName = dbName
	cfg.Timeout = 5 * time.Second
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	db := sql.OpenDB(connector)
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestRealMariaDBLogin(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		name      string
		passwd    string
		dbName    string
		wantErrno uint16
	}{
		{name: "login and query", passwd: "maxpwd", dbName: "portico_demo"},
		{name: "login without a database", passwd: "maxpwd"},
		{name: "wrong password", passwd: "wrong", dbName: "portico_demo", wantErrno: 1045},
		{name: "unknown database", passwd: "maxpwd", dbName: "portico_no_such_db", wantErrno: 1049},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, proxy.Config{}, srv)
			db := openDB(t, p.addr, tt.passwd, tt.dbName)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if tt.wantErrno != 0 {
				var me *mysql.MySQLError
				if !errors.As(err, &me) || me.Number != tt.wantErrno {
					t.Fatalf("connect: %v, want MySQL error %d", err, tt.wantErrno)
				}
				waitSessions(t, p.reg, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var threadID uint32
			var dbName sql.NullString
			if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID(), DATABASE()").Scan(&threadID, &dbName); err != nil {
				t.Fatal(err)
			}
			if dbName.String != tt.dbName {
				t.Errorf("DATABASE() = %q, want %q", dbName.String, tt.dbName)
			}
			list := waitSessions(t, p.reg, 1)
			s := list[0]
			if s.State != core.StateReady || s.User != "maxuser" || s.Database != tt.dbName || s.Remote != "127.0.0.1" || s.Service != serviceName {
				t.Errorf("session = %+v", s)
			}
			if len(s.Backends) != 1 || s.Backends[0].Server != srv.Name || s.Backends[0].ThreadID != threadID {
				t.Errorf("backends = %+v, want thread %d on %s", s.Backends, threadID, srv.Name)
			}
			conn.Close()
			db.Close()
			waitSessions(t, p.reg, 0)
		})
	}
}

// TestBackendGoesAway ends the backend side of a relaying session in ways a
// real server does, and checks the client is hung up on and the session
// removed.
func TestBackendGoesAway(t *testing.T) {
	srv := testMariaDB(t)
	direct := openDB(t, net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)), "maxpwd", "")
	tests := []struct {
		name string
		end  func(t *testing.T, ctx context.Context, threadID uint32, conn *sql.Conn)
	}{
		{
			name: "KILL from another connection",
			end: func(t *testing.T, ctx context.Context, threadID uint32, _ *sql.Conn) {
				if _, err := direct.ExecContext(ctx, "KILL "+strconv.FormatUint(uint64(threadID), 10)); err != nil {
					t.Fatal(err)
				}
			},
		},
		{
			name: "wait_timeout expires",
			end: func(t *testing.T, ctx context.Context, _ uint32, conn *sql.Conn) {
				if _, err := conn.ExecContext(ctx, "SET SESSION wait_timeout = 1"); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, proxy.Config{}, srv)
			db := openDB(t, p.addr, "maxpwd", "portico_demo")
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var threadID uint32
			if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&threadID); err != nil {
				t.Fatal(err)
			}
			tt.end(t, ctx, threadID, conn)
			// The backend's hang-up must reach the registry without any
			// client activity.
			waitFor(t, 5*time.Second, "the session to be removed", func() bool { return len(sessions(p.reg)) == 0 })
			if err := conn.PingContext(ctx); err == nil {
				t.Error("the client connection still works after its backend went away")
			}
		})
	}
}

// TestKill ends sessions through the registry, as DELETE /v1/sessions/{id}
// does, in each phase of their life. The proxy must hang up on the client
// at once, not at the auth timeout, and leave other sessions alone.
func TestKill(t *testing.T) {
	greeting := captured(t, "greeting_mariadb.bin")
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	okPkt := captured(t, "ok_after_auth_mariadb.bin")
	tests := []struct {
		name         string
		serve        func(net.Conn)
		greet, login bool
	}{
		{name: "waiting for the backend's greeting", serve: silent},
		{name: "waiting for the client's handshake response", serve: replay(greeting, nil), greet: true},
		{name: "relaying", serve: replay(greeting, okPkt), greet: true, login: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := startBackend(t, "fake1", tt.serve)
			p := startProxy(t, proxy.Config{}, be.srv)
			// Ids are assigned as the proxy's goroutines get to them, so
			// clients connect one at a time to know which session is whose.
			var conns []net.Conn
			var ids []core.SessionID
			for i := range 2 {
				c := dial(t, p)
				if tt.greet {
					readGreeting(t, c)
				}
				if tt.login {
					if _, err := c.Write(packet(1, goResp)); err != nil {
						t.Fatal(err)
					}
					readPacket(t, c)
				}
				conns = append(conns, c)
				waitFor(t, 3*time.Second, "the backend connection", func() bool { return be.accepted.Load() == int32(i+1) })
				for _, s := range waitSessions(t, p.reg, i+1) {
					if !slices.Contains(ids, s.ID) {
						ids = append(ids, s.ID)
					}
				}
			}
			start := time.Now()
			if err := p.reg.Kill(ids[0]); err != nil {
				t.Fatal(err)
			}
			readUntilClosed(t, conns[0], 2*time.Second)
			list := waitSessions(t, p.reg, 1)
			if d := time.Since(start); d > time.Second {
				t.Errorf("kill took %v", d)
			}
			if list[0].ID != ids[1] {
				t.Errorf("session %d is left, want %d", list[0].ID, ids[1])
			}
			_ = conns[1].SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			var buf [1]byte
			if _, err := conns[1].Read(buf[:]); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the other session's connection: %v, want it open and quiet", err)
			}
		})
	}
}

// TestKillStopsBackendQuery kills, through the registry, a session whose
// backend runs SELECT SLEEP(20). Closing the sockets alone leaves the
// statement running on MariaDB; the proxy must KILL the backend thread with
// the service's credentials, and say so in the log when it cannot.
func TestKillStopsBackendQuery(t *testing.T) {
	srv := testMariaDB(t)
	direct := openDB(t, net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)), "maxpwd", "")
	tests := []struct {
		name     string
		svc      core.Service
		wantGone bool
		wantLog  string
	}{
		{name: "service credentials", svc: core.Service{User: "maxuser", Password: "maxpwd"}, wantGone: true, wantLog: "backend thread killed"},
		{name: "no service credentials", svc: core.Service{}, wantLog: "service has no user and password"},
		{name: "wrong service password", svc: core.Service{User: "maxuser", Password: "wrong"}, wantLog: "Access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			p := startProxyService(t, proxy.Config{
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			}, tt.svc, srv)
			db := openDB(t, p.addr, "maxpwd", "")
			threadID, sleepDone := sleepOnBackend(t, db, direct)
			ids := sessions(p.reg)
			if len(ids) != 1 {
				t.Fatalf("%d sessions, want 1", len(ids))
			}
			start := time.Now()
			if err := p.reg.Kill(ids[0].ID); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 100*time.Millisecond {
				t.Errorf("Kill blocked for %v", d)
			}
			if err := <-sleepDone; err == nil {
				t.Error("SELECT SLEEP(20) succeeded through a killed session")
			}
			waitSessions(t, p.reg, 0)
			waitFor(t, 5*time.Second, "the kill to be logged", func() bool { return strings.Contains(logs.String(), tt.wantLog) })
			if tt.wantGone {
				waitFor(t, 5*time.Second, "the backend thread to be gone", func() bool {
					return processCount(t, direct, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", threadID) == 0
				})
				return
			}
			// Without a working KILL the statement keeps running: the
			// very gap this feature closes.
			time.Sleep(500 * time.Millisecond)
			if !sleeping(t, direct, threadID) {
				t.Error("the sleep stopped without a KILL; the test no longer shows why the KILL is needed")
			}
			if !strings.Contains(logs.String(), "could not be killed") || !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("no warning that the backend thread could not be killed:\n%s", logs.String())
			}
		})
	}
}
