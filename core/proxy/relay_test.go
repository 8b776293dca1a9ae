package proxy_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// turn is one side's turn in a conversation captured from MariaDB; see
// core/mysqlwire/testdata/README.md.
type turn struct {
	fromClient bool
	wire       []byte
}

func transcript(tb testing.TB, name string) []turn {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "mysqlwire", "testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var turns []turn
	for len(b) > 0 {
		n := int(binary.LittleEndian.Uint32(b[1:5]))
		turns = append(turns, turn{fromClient: b[0] == 'C', wire: b[5 : 5+n]})
		b = b[5+n:]
	}
	return turns
}

type wirePacket struct {
	seq     byte
	payload []byte
}

func packets(tb testing.TB, wire []byte) []wirePacket {
	tb.Helper()
	var out []wirePacket
	r := bytes.NewReader(wire)
	for r.Len() > 0 {
		seq, p, err := mysqlwire.ReadPacket(r, 0)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, wirePacket{seq, p})
	}
	return out
}

// replayBackend plays the server's side of a transcript: it answers each
// client turn, checked byte for byte, with the server turn that followed
// it. Consecutive client turns may arrive at once (pipelining); the
// replies then go out at once too.
func replayBackend(t *testing.T, turns []turn, groups [][2]int) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Write(turns[0].wire); err != nil {
			return
		}
		for _, g := range groups {
			var want, reply []byte
			for _, tn := range turns[g[0]:g[1]] {
				if tn.fromClient {
					want = append(want, tn.wire...)
				} else {
					reply = append(reply, tn.wire...)
				}
			}
			got := make([]byte, len(want))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Errorf("backend: turns %v: %v", g, err)
				return
			}
			if !bytes.Equal(got, want) {
				t.Errorf("backend: turns %v: got %q, want %q", g, head(got), head(want))
				return
			}
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
		_, _ = io.Copy(io.Discard, c)
	}
}

func head(b []byte) []byte { return b[:min(len(b), 40)] }

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRetainingProxy is startProxy with statements retained and the log
// collected.
func startRetainingProxy(t *testing.T, retain int, srv core.Server) (*testProxy, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	topo := &core.Topology{
		Servers:   []core.Server{srv},
		Services:  []core.Service{{Name: serviceName, Router: "readconnroute", Servers: []string{srv.Name}, RetainLastStatements: retain}},
		Listeners: []core.Listener{{Name: "lst", Service: serviceName, Address: "127.0.0.1"}},
	}
	reg := core.NewRegistry(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProxy{addr: ln.Addr().String(), reg: reg, cancel: cancel, done: make(chan error, 1)}
	px := proxy.New(proxy.Config{Registry: reg, Topology: topo,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	go func() { p.done <- px.Serve(ctx, ln, topo.Listeners[0]) }()
	t.Cleanup(func() {
		if err := p.stop(); err != nil {
			t.Errorf("stop proxy: %v", err)
		}
	})
	return p, logs
}

// TestRelayReplaysTranscripts runs captured MariaDB conversations through
// the proxy, one turn at a time and with commands pipelined, and checks the
// bytes arrive unchanged and the session's counters, statements and busy
// state come out exactly.
func TestRelayReplaysTranscripts(t *testing.T) {
	tests := []struct {
		file string
		// pipeline sends this many consecutive simple commands at once.
		pipeline int
		retain   int
	}{
		{file: "replies_eof_mariadb.bin", retain: 100},
		{file: "replies_eof_mariadb.bin", pipeline: 5, retain: 3},
		{file: "replies_deprecate_eof_mariadb.bin", retain: 100},
		{file: "replies_deprecate_eof_mariadb.bin", pipeline: 8, retain: 100},
		{file: "replies_local_infile_mariadb.bin", retain: 2},
		{file: "replies_progress_mariadb.bin", retain: 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s pipelining %d retaining %d", tt.file, tt.pipeline, tt.retain), func(t *testing.T) {
			turns := transcript(t, tt.file)
			// Leave out a final COM_QUIT: the session must live on to be
			// inspected.
			if last := turns[len(turns)-2]; last.fromClient && bytes.Equal(last.wire, []byte{1, 0, 0, 0, mysqlwire.ComQuit}) {
				turns = turns[:len(turns)-2]
			}
			groups := groupTurns(t, turns, tt.pipeline)
			be := startBackend(t, "server1", replayBackend(t, turns, groups))
			p, logs := startRetainingProxy(t, tt.retain, be.srv)
			c := dial(t, p)
			readGreeting(t, c)

			var want core.Traffic
			var wantStatements []string
			for _, tn := range turns {
				for _, pk := range packets(t, tn.wire) {
					if tn.fromClient {
						want.PacketsIn++
						if pk.seq == 0 && len(pk.payload) > 0 {
							switch pk.payload[0] {
							case mysqlwire.ComQuery, mysqlwire.ComStmtExecute:
								want.Queries++
							}
							switch pk.payload[0] {
							case mysqlwire.ComQuery, mysqlwire.ComStmtPrepare:
								wantStatements = append(wantStatements, mysqlwire.CommandName(pk.payload[0])+" "+string(pk.payload[1:]))
							}
						}
					} else {
						want.PacketsOut++
					}
				}
				if tn.fromClient {
					want.BytesIn += uint64(len(tn.wire))
				} else {
					want.BytesOut += uint64(len(tn.wire))
				}
			}
			for _, g := range groups {
				var send, reply []byte
				for _, tn := range turns[g[0]:g[1]] {
					if tn.fromClient {
						send = append(send, tn.wire...)
					} else {
						reply = append(reply, tn.wire...)
					}
				}
				if _, err := c.Write(send); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(reply))
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatalf("turns %v: %v", g, err)
				}
				if !bytes.Equal(got, reply) {
					t.Fatalf("turns %v: client got %q, want %q", g, head(got), head(reply))
				}
			}

			var s core.Session
			waitFor(t, 3*time.Second, "the last reply to be counted", func() bool {
				s = waitSessions(t, p.reg, 1)[0]
				return s.Traffic == want && !s.Busy
			})
			if s.Traffic != want || s.Busy {
				t.Errorf("traffic %+v busy %v, want %+v and not busy", s.Traffic, s.Busy, want)
			}
			if tt.retain < len(wantStatements) {
				wantStatements = wantStatements[len(wantStatements)-tt.retain:]
			}
			var got []string
			for _, st := range s.Statements {
				got = append(got, st.Command+" "+st.Text)
				if st.Completed.IsZero() || st.Server != "server1" || st.Completed.Before(st.Received) {
					t.Errorf("statement %q: received %v, completed %v by %q", st.Text, st.Received, st.Completed, st.Server)
				}
			}
			if !slices.Equal(got, wantStatements) {
				t.Errorf("statements:\n got %q\nwant %q", got, wantStatements)
			}
			if strings.Contains(logs.String(), "stopped following replies") {
				t.Errorf("the proxy lost track of replies:\n%s", logs)
			}
		})
	}
}

// groupTurns pairs each client turn with the server turn after it, and
// merges up to n consecutive pairs of plain commands (sequence id 0, with a
// complete reply) so they are sent pipelined.
func groupTurns(t *testing.T, turns []turn, n int) [][2]int {
	var groups [][2]int
	// The handshake response and the OK that accepts it.
	groups = append(groups, [2]int{1, 3})
	simple := func(i int) bool {
		if i+1 >= len(turns) || !turns[i].fromClient || turns[i+1].fromClient {
			return false
		}
		if packets(t, turns[i].wire)[0].seq != 0 {
			return false
		}
		next := i + 2
		return next >= len(turns) || packets(t, turns[next].wire)[0].seq == 0
	}
	for i := 3; i < len(turns); {
		end := i + 2
		if n > 1 && simple(i) {
			for k := 1; k < n && simple(end); k++ {
				end += 2
			}
		}
		groups = append(groups, [2]int{i, min(end, len(turns))})
		i = end
	}
	return groups
}

// scripted is a backend that greets, accepts any login, then answers each
// command the test hands it.
type scripted struct {
	cmds    chan []byte // commands the backend read
	replies chan []byte // raw bytes to answer with
}

func newScripted() *scripted {
	return &scripted{cmds: make(chan []byte, 16), replies: make(chan []byte, 16)}
}

func (sc *scripted) serve(greeting, ok []byte) func(net.Conn) {
	return func(c net.Conn) {
		if mysqlwire.WritePacket(c, 0, greeting) != nil {
			return
		}
		if _, _, err := mysqlwire.ReadPacket(c, 0); err != nil {
			return
		}
		if mysqlwire.WritePacket(c, 2, ok) != nil {
			return
		}
		go func() {
			for r := range sc.replies {
				if _, err := c.Write(r); err != nil {
					return
				}
			}
		}()
		for {
			_, p, err := mysqlwire.ReadPacket(c, 0)
			if err != nil {
				return
			}
			sc.cmds <- p
		}
	}
}

// loggedIn dials the proxy and logs in with the go-sql-driver capture,
// which asks for CLIENT_DEPRECATE_EOF.
func loggedIn(t *testing.T, p *testProxy) (net.Conn, core.SessionID) {
	t.Helper()
	c := dial(t, p)
	_, g := readGreeting(t, c)
	if _, err := c.Write(packet(1, captured(t, "handshake_response_go_sql_driver.bin"))); err != nil {
		t.Fatal(err)
	}
	if _, pkt := readPacket(t, c); len(pkt) == 0 || pkt[0] != mysqlwire.OKHeader {
		t.Fatalf("login: %q", pkt)
	}
	return c, core.SessionID(g.ConnectionID)
}

func get(t *testing.T, p *testProxy, id core.SessionID) core.Session {
	t.Helper()
	s, err := p.reg.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var okPacket = []byte{0, 0, 0, 2, 0, 0, 0}

// TestBusyWhileReplyPending checks that a session is busy, not idle, from
// the moment a command reaches the proxy until the last packet of its
// reply has passed, and only then.
func TestBusyWhileReplyPending(t *testing.T) {
	deprecateEOFOK := []byte{0xFE, 0, 0, 2, 0, 0, 0}
	tests := []struct {
		name    string
		command []byte
		// reply is sent packet by packet; the session must stay busy until
		// the last one.
		reply [][]byte
	}{
		{name: "COM_PING", command: []byte{mysqlwire.ComPing}, reply: [][]byte{okPacket}},
		{name: "COM_QUERY result set", command: []byte("\x03SELECT 1"),
			reply: [][]byte{{1, 1}, []byte("\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00"), {1, '1'}, deprecateEOFOK}},
		{name: "COM_QUERY with progress reports", command: []byte("\x03ALTER TABLE t FORCE"),
			reply: [][]byte{{0xFF, 0xFF, 0xFF, 1, 1, 2, 0, 0, 0, 1, 'x'}, okPacket}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newScripted()
			be := startBackend(t, "server1", sc.serve(captured(t, "greeting_mariadb_go_session.bin"), okPacket))
			p, _ := startRetainingProxy(t, 1, be.srv)
			c, id := loggedIn(t, p)
			if get(t, p, id).Busy {
				t.Fatal("busy before any command")
			}
			if _, err := c.Write(packet(0, tt.command)); err != nil {
				t.Fatal(err)
			}
			<-sc.cmds
			for i, r := range tt.reply {
				s := get(t, p, id)
				if !s.Busy || s.Idle(time.Now().Add(time.Hour)) != 0 {
					t.Fatalf("before reply packet %d: busy %v, idle %v; want busy, idle 0", i, s.Busy, s.Idle(time.Now().Add(time.Hour)))
				}
				sc.replies <- packet(byte(i+1), r)
				if _, got := readPacket(t, c); !bytes.Equal(got, r) {
					t.Fatalf("client got %q, want %q", got, r)
				}
			}
			waitFor(t, time.Second, "the session to be idle", func() bool { return !get(t, p, id).Busy })
			s := get(t, p, id)
			if len(s.Statements) == 1 && s.Statements[0].Completed.IsZero() {
				t.Errorf("statement %+v not completed", s.Statements[0])
			}
		})
	}
}

// TestRelaySurvivesLostTracking feeds the proxy replies it cannot follow.
// The bytes must still flow both ways unchanged; only the timing stops.
func TestRelaySurvivesLostTracking(t *testing.T) {
	tests := []struct {
		name string
		// before is sent by the backend right after login, unasked, or as
		// the reply to a COM_QUERY when asked is set.
		before []byte
		asked  bool
	}{
		{name: "a packet nobody asked for", before: packet(0, okPacket)},
		{name: "a reply with the wrong sequence id", before: packet(5, okPacket), asked: true},
		{name: "garbage instead of a column definition", before: append(packet(1, []byte{1}), packet(2, []byte("nonsense"))...), asked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newScripted()
			be := startBackend(t, "server1", sc.serve(captured(t, "greeting_mariadb_go_session.bin"), okPacket))
			p, logs := startRetainingProxy(t, 5, be.srv)
			c, id := loggedIn(t, p)
			if tt.asked {
				if _, err := c.Write(packet(0, []byte("\x03SELECT 1"))); err != nil {
					t.Fatal(err)
				}
				<-sc.cmds
			}
			sc.replies <- tt.before
			got := make([]byte, len(tt.before))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, tt.before) {
				t.Fatalf("client got %q, %v; want %q", got, err, tt.before)
			}
			waitFor(t, time.Second, "the proxy to give up following replies", func() bool {
				return strings.Contains(logs.String(), "stopped following replies")
			})
			// The relay goes on, in both directions.
			for range 3 {
				if _, err := c.Write(packet(0, []byte{mysqlwire.ComPing})); err != nil {
					t.Fatal(err)
				}
				if cmd := <-sc.cmds; !bytes.Equal(cmd, []byte{mysqlwire.ComPing}) {
					t.Fatalf("backend got %q", cmd)
				}
				sc.replies <- packet(1, okPacket)
				if _, pkt := readPacket(t, c); !bytes.Equal(pkt, okPacket) {
					t.Fatalf("client got %q", pkt)
				}
			}
			s := get(t, p, id)
			if s.Busy {
				t.Error("busy after tracking stopped")
			}
			if s.Traffic.PacketsIn != uint64(4+btoi(tt.asked)) || s.Traffic.Queries != uint64(btoi(tt.asked)) {
				t.Errorf("traffic %+v: counting must go on", s.Traffic)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestChangeUserUpdatesSession(t *testing.T) {
	tests := []struct {
		name             string
		reply            [][]byte // server packets after COM_CHANGE_USER, from seq 1
		wantUser, wantDB string
	}{
		{name: "accepted", reply: [][]byte{okPacket}, wantUser: "bob", wantDB: "shop"},
		{name: "accepted after an auth switch", reply: [][]byte{[]byte("\xfemysql_native_password\x00abcdefghij0123456789\x00"), okPacket}, wantUser: "bob", wantDB: "shop"},
		{name: "refused", reply: [][]byte{mysqlwire.ErrPacket(1045, "28000", "Access denied")}, wantUser: "gouser", wantDB: "somedb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := newScripted()
			be := startBackend(t, "server1", sc.serve(captured(t, "greeting_mariadb_go_session.bin"), okPacket))
			p, _ := startRetainingProxy(t, 0, be.srv)
			c, id := loggedIn(t, p)
			before := get(t, p, id)
			if before.User == "" {
				t.Fatal("no user after login")
			}
			tt.wantUser = strings.Replace(tt.wantUser, "gouser", before.User, 1)
			tt.wantDB = strings.Replace(tt.wantDB, "somedb", before.Database, 1)
			cu := append([]byte{mysqlwire.ComChangeUser}, "bob\x00\x14"...)
			cu = append(cu, bytes.Repeat([]byte{7}, 20)...)
			cu = append(cu, "shop\x00\x2d\x00mysql_native_password\x00"...)
			if _, err := c.Write(packet(0, cu)); err != nil {
				t.Fatal(err)
			}
			<-sc.cmds
			seq := byte(1)
			for i, r := range tt.reply {
				sc.replies <- packet(seq, r)
				readPacket(t, c)
				seq++
				if i < len(tt.reply)-1 {
					// The client answers the auth switch.
					if _, err := c.Write(packet(seq, bytes.Repeat([]byte{9}, 20))); err != nil {
						t.Fatal(err)
					}
					<-sc.cmds
					seq++
				}
			}
			waitFor(t, time.Second, "the reply to end", func() bool { return !get(t, p, id).Busy })
			if s := get(t, p, id); s.User != tt.wantUser || s.Database != tt.wantDB {
				t.Errorf("user %q database %q, want %q %q", s.User, s.Database, tt.wantUser, tt.wantDB)
			}
		})
	}
}

// TestRealMariaDBTracking drives a real MariaDB through the proxy with the
// shapes of traffic go-sql-driver produces, and checks every statement is
// timed to completion and the proxy never loses track of a reply.
func TestRealMariaDBTracking(t *testing.T) {
	srv := testMariaDB(t)
	mysql.RegisterReaderHandler("portico_rows", func() io.Reader { return strings.NewReader("1,one\n2,two\n3,three\n") })
	defer mysql.DeregisterReaderHandler("portico_rows")
	tests := []struct {
		name string
		run  func(ctx context.Context, conn *sql.Conn) error
		// wantCommands are the statements kept, by command.
		wantCommands []string
	}{
		{
			name: "text queries",
			run: func(ctx context.Context, conn *sql.Conn) error {
				var n int
				return conn.QueryRowContext(ctx, "SELECT 41 + 1").Scan(&n)
			},
			wantCommands: []string{"COM_QUERY"},
		},
		{
			name: "prepared statement",
			run: func(ctx context.Context, conn *sql.Conn) error {
				var s string
				return conn.QueryRowContext(ctx, "SELECT CONCAT(?, ?)", "a", "b").Scan(&s)
			},
			wantCommands: []string{"COM_STMT_PREPARE"},
		},
		{
			name: "multiple statements and results",
			run: func(ctx context.Context, conn *sql.Conn) error {
				rows, err := conn.QueryContext(ctx, "SELECT 1; SELECT 2, 3; DO 4")
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.NextResultSet() {
					for rows.Next() {
					}
				}
				return rows.Err()
			},
			wantCommands: []string{"COM_QUERY"},
		},
		{
			name: "an error",
			run: func(ctx context.Context, conn *sql.Conn) error {
				if _, err := conn.ExecContext(ctx, "SELECT * FROM portico_no_such_table"); err == nil {
					return fmt.Errorf("no error from a missing table")
				}
				return nil
			},
			wantCommands: []string{"COM_QUERY"},
		},
		{
			name: "LOAD DATA LOCAL INFILE",
			run: func(ctx context.Context, conn *sql.Conn) error {
				if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE portico_infile (a INT, b TEXT)"); err != nil {
					return err
				}
				_, err := conn.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::portico_rows' INTO TABLE portico_infile FIELDS TERMINATED BY ','")
				if err != nil {
					return err
				}
				var n int
				if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM portico_infile").Scan(&n); err != nil || n != 3 {
					return fmt.Errorf("count %d, %v", n, err)
				}
				return nil
			},
			wantCommands: []string{"COM_QUERY", "COM_QUERY", "COM_QUERY"},
		},
		{
			name: "a large row",
			run: func(ctx context.Context, conn *sql.Conn) error {
				var s string
				return conn.QueryRowContext(ctx, "SELECT REPEAT('x', 3000000)").Scan(&s)
			},
			wantCommands: []string{"COM_QUERY"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, logs := startRetainingProxy(t, 10, srv)
			cfg := mysql.NewConfig()
			cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "maxuser", "maxpwd", "tcp", p.addr, "portico_demo"
			cfg.MultiStatements, cfg.AllowAllFiles = true, true
			connector, err := mysql.NewConnector(cfg)
			if err != nil {
				t.Fatal(err)
			}
			db := sql.OpenDB(connector)
			defer db.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := tt.run(ctx, conn); err != nil {
				t.Fatal(err)
			}
			s := waitSessions(t, p.reg, 1)[0]
			var got []string
			for _, st := range s.Statements {
				got = append(got, st.Command)
				if st.Completed.IsZero() {
					t.Errorf("statement %q was never completed", st.Text)
				}
			}
			if !slices.Equal(got, tt.wantCommands) {
				t.Errorf("statements %q, want %q", got, tt.wantCommands)
			}
			if s.Busy {
				t.Error("busy with no command running")
			}
			if strings.Contains(logs.String(), "stopped following replies") {
				t.Errorf("lost track of replies:\n%s", logs)
			}
		})
	}
}

// TestSessionLogFlags checks that a session's log flags, changed through
// the registry as PATCH /v1/sessions/:id does, decide what the proxy logs
// for that session.
func TestSessionLogFlags(t *testing.T) {
	all := core.LogFlags{Info: true, Notice: true, Warning: true, Error: true}
	tests := []struct {
		name    string
		process slog.Level
		flags   core.LogFlags
		refuse  bool // the backend refuses the login: the session ends with an error (notice)
		want    []string
	}{
		{name: "defaults hide info", process: slog.LevelDebug, flags: core.DefaultLogFlags},
		{name: "log_info shows info under a quieter process", process: slog.LevelWarn, flags: all,
			want: []string{"level=INFO msg=\"session started\"", "level=INFO msg=\"session ended\""}},
		{name: "defaults show a failed session", process: slog.LevelInfo, flags: core.DefaultLogFlags, refuse: true,
			want: []string{"level=INFO+2 msg=\"session ended\""}},
		{name: "log_notice off hides it", process: slog.LevelInfo, flags: core.LogFlags{Warning: true, Error: true}, refuse: true},
		{name: "the process level still applies to notices", process: slog.LevelWarn, flags: core.DefaultLogFlags, refuse: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := okPacket
			if tt.refuse {
				reply = captured(t, "err_access_denied_mariadb.bin")
			}
			be := startBackend(t, "server1", replay(captured(t, "greeting_mariadb_go_session.bin"), reply))
			logs := &lockedBuffer{}
			p := startProxy(t, proxy.Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: tt.process}))}, be.srv)
			c := dial(t, p)
			_, g := readGreeting(t, c)
			if err := p.reg.SetLogFlags(core.SessionID(g.ConnectionID), tt.flags); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write(packet(1, captured(t, "handshake_response_go_sql_driver.bin"))); err != nil {
				t.Fatal(err)
			}
			readPacket(t, c)
			c.Close()
			waitSessions(t, p.reg, 0)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				if line == "" {
					continue
				}
				if !strings.Contains(line, "session="+core.SessionID(g.ConnectionID).String()) {
					t.Errorf("line without the session id: %s", line)
				}
				got = append(got, line[strings.Index(line, "level="):strings.Index(line, "\" ")+1])
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("logged %q, want %q\n%s", got, tt.want, logs)
			}
		})
	}
}

// TestTooManyCommandsInFlight pipelines more commands than the proxy queues
// without any reply. It must stop following replies, not grow without
// bound, and keep relaying.
func TestTooManyCommandsInFlight(t *testing.T) {
	const n = 5000 // more than the proxy's bound of 4096
	sc := newScripted()
	be := startBackend(t, "server1", sc.serve(captured(t, "greeting_mariadb_go_session.bin"), okPacket))
	p, logs := startRetainingProxy(t, 0, be.srv)
	c, id := loggedIn(t, p)
	var pings []byte
	for range n {
		pings = append(pings, packet(0, []byte{mysqlwire.ComPing})...)
	}
	if _, err := c.Write(pings); err != nil {
		t.Fatal(err)
	}
	for range n {
		<-sc.cmds
	}
	waitFor(t, time.Second, "the proxy to give up following replies", func() bool {
		return strings.Contains(logs.String(), "commands wait for their replies")
	})
	if s := get(t, p, id); s.Busy {
		t.Error("busy after giving up")
	}
	var oks []byte
	for range n {
		oks = append(oks, packet(1, okPacket)...)
	}
	sc.replies <- oks
	got := make([]byte, len(oks))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, oks) {
		t.Fatalf("client got %d bytes, %v; want every OK", len(got), err)
	}
	waitFor(t, time.Second, "the packets to be counted", func() bool {
		s := get(t, p, id)
		return s.Traffic.PacketsIn == n+1 && s.Traffic.PacketsOut == n+2
	})
}
