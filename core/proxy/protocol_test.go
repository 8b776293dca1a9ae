package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// The tests in this file drive the real MariaDB through a real proxy with
// the commands whose framing is out of the ordinary: commands without a
// reply, replies the client takes part in, packets of 16 MiB and more, and
// ERR-shaped packets that are not errors. Each checks that the client gets
// its results and that afterwards the session is idle, with every statement
// timed and the proxy still following replies.

// rawClient speaks the protocol itself, for the commands no client library
// at hand sends: COM_CHANGE_USER, COM_RESET_CONNECTION, or a client that
// asks for MariaDB's progress reports. It negotiates classic EOF packets.
type rawClient struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
	g mysqlwire.Greeting
	// id is the Portico session id, the connection id of the greeting.
	id core.SessionID
	// progress counts the progress reports read so far.
	progress int
}

// rawOptions are what a rawClient logs in with.
type rawOptions struct {
	user, password, database string
	attrs                    map[string]string
	mariadbCaps              uint32
}

const rawCaps = mysqlwire.ClientProtocol41 | mysqlwire.ClientSecureConnection | mysqlwire.ClientPluginAuth |
	mysqlwire.ClientTransactions | mysqlwire.ClientMultiResults | mysqlwire.ClientConnectAttrs |
	mysqlwire.ClientConnectWithDB | mysqlwire.ClientLocalFiles

func rawConnect(t testing.TB, p *testProxy, o rawOptions) *rawClient {
	t.Helper()
	c := dial(t, p)
	_ = c.SetDeadline(time.Now().Add(2 * time.Minute))
	rc := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	_, greeting := rc.read()
	g, err := mysqlwire.ParseGreeting(greeting)
	if err != nil {
		t.Fatal(err)
	}
	rc.g, rc.id = g, core.SessionID(g.ConnectionID)
	// Clearing CLIENT_MYSQL makes a MariaDB server read the extended
	// capabilities, where CLIENT_PROGRESS lives.
	caps := rawCaps & g.Capabilities &^ mysqlwire.ClientMySQL
	b := binary.LittleEndian.AppendUint32(nil, caps)
	b = binary.LittleEndian.AppendUint32(b, mysqlwire.MaxPacketSize)
	b = append(b, 45) // utf8mb4_general_ci
	b = append(b, make([]byte, 19)...)
	b = binary.LittleEndian.AppendUint32(b, o.mariadbCaps&g.MariaDBCapabilities)
	b = append(b, rc.credentials(o)...)
	rc.write(1, b)
	rc.authenticate(2, o.password)
	return rc
}

// credentials encodes what a handshake response and a COM_CHANGE_USER
// share after their first fields: user, auth response, database, and
// after the character set (only in COM_CHANGE_USER, added by the caller)
// the plugin and the attributes.
func (rc *rawClient) credentials(o rawOptions) []byte {
	auth := mysqlwire.NativePassword(rc.g.AuthPluginData, o.password)
	b := append([]byte(o.user), 0, byte(len(auth)))
	b = append(b, auth...)
	b = append(b, o.database...)
	b = append(b, 0)
	b = append(b, mysqlwire.NativePasswordPlugin...)
	b = append(b, 0)
	var attrs []byte
	for _, k := range sortedKeys(o.attrs) {
		attrs = mysqlwire.AppendLenEncString(attrs, k)
		attrs = mysqlwire.AppendLenEncString(attrs, o.attrs[k])
	}
	return mysqlwire.AppendLenEncString(b, string(attrs))
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// changeUser sends COM_CHANGE_USER and returns the server's final answer,
// nil for OK.
func (rc *rawClient) changeUser(o rawOptions) *mysqlwire.ErrorPacket {
	rc.t.Helper()
	cred := rc.credentials(o)
	// The character set sits between the database and the plugin name.
	at := len(o.user) + 2 + int(cred[len(o.user)+1]) + len(o.database) + 1
	b := append([]byte{mysqlwire.ComChangeUser}, cred[:at]...)
	b = binary.LittleEndian.AppendUint16(b, 45)
	b = append(b, cred[at:]...)
	rc.write(0, b)
	return rc.authenticate(1, o.password)
}

// authenticate reads the server's answers to a login or COM_CHANGE_USER
// whose packet had sequence id seq-1, answering auth switch requests.
func (rc *rawClient) authenticate(seq byte, password string) *mysqlwire.ErrorPacket {
	rc.t.Helper()
	for {
		got, pkt := rc.read()
		if got != seq {
			rc.t.Fatalf("auth reply seq %d, want %d", got, seq)
		}
		switch pkt[0] {
		case mysqlwire.OKHeader:
			return nil
		case mysqlwire.ErrHeader:
			e, err := mysqlwire.ParseErrPacket(pkt)
			if err != nil {
				rc.t.Fatal(err)
			}
			return &e
		case mysqlwire.EOFHeader:
			name, data, _ := bytes.Cut(pkt[1:], []byte{0})
			if string(name) != mysqlwire.NativePasswordPlugin {
				rc.t.Fatalf("server switches to auth plugin %q", name)
			}
			rc.write(seq+1, mysqlwire.NativePassword(bytes.TrimSuffix(data, []byte{0}), password))
			seq += 2
		default:
			rc.t.Fatalf("unexpected auth reply %q", pkt)
		}
	}
}

func (rc *rawClient) write(seq byte, payload []byte) {
	rc.t.Helper()
	if err := mysqlwire.WritePacket(rc.c, seq, payload); err != nil {
		rc.t.Fatal(err)
	}
}

// read reads one physical packet.
func (rc *rawClient) read() (byte, []byte) {
	rc.t.Helper()
	seq, pkt, err := mysqlwire.ReadPacket(rc.r, 0)
	if err != nil {
		rc.t.Fatalf("read packet: %v", err)
	}
	if len(pkt) == 0 {
		rc.t.Fatal("empty packet")
	}
	return seq, pkt
}

// next reads the next packet of a reply, counting and skipping progress
// reports.
func (rc *rawClient) next() []byte {
	rc.t.Helper()
	for {
		_, pkt := rc.read()
		if len(pkt) >= 3 && pkt[0] == mysqlwire.ErrHeader && binary.LittleEndian.Uint16(pkt[1:3]) == mysqlwire.ProgressReportCode {
			rc.progress++
			continue
		}
		return pkt
	}
}

// simple sends a command whose reply is one OK or ERR and returns the ERR,
// nil for OK.
func (rc *rawClient) simple(payload []byte) *mysqlwire.ErrorPacket {
	rc.t.Helper()
	rc.write(0, payload)
	return rc.okOrErr(rc.next())
}

func (rc *rawClient) okOrErr(pkt []byte) *mysqlwire.ErrorPacket {
	rc.t.Helper()
	switch pkt[0] {
	case mysqlwire.OKHeader:
		return nil
	case mysqlwire.ErrHeader:
		e, err := mysqlwire.ParseErrPacket(pkt)
		if err != nil {
			rc.t.Fatal(err)
		}
		return &e
	}
	rc.t.Fatalf("want OK or ERR, got %q", pkt)
	return nil
}

// query runs sql as a COM_QUERY with a single result and returns the first
// column of each row ("NULL" for NULL). An ERR fails the test.
func (rc *rawClient) query(sql string) []string {
	rc.t.Helper()
	rc.write(0, append([]byte{mysqlwire.ComQuery}, sql...))
	pkt := rc.next()
	switch pkt[0] {
	case mysqlwire.OKHeader:
		return nil
	case mysqlwire.ErrHeader:
		rc.t.Fatalf("%s: %v", sql, rc.okOrErr(pkt))
	}
	cols, _, _ := mysqlwire.ReadLenEncInt(pkt)
	for range cols {
		rc.next()
	}
	if pkt := rc.next(); pkt[0] != mysqlwire.EOFHeader {
		rc.t.Fatalf("want EOF after the columns, got %q", pkt)
	}
	var rows []string
	for {
		pkt := rc.next()
		switch {
		case pkt[0] == mysqlwire.EOFHeader && len(pkt) < 9:
			return rows
		case pkt[0] == mysqlwire.ErrHeader:
			rc.t.Fatalf("%s: %v", sql, rc.okOrErr(pkt))
		case pkt[0] == 0xFB:
			rows = append(rows, "NULL")
		default:
			v, _, ok := mysqlwire.ReadLenEncString(pkt)
			if !ok {
				rc.t.Fatalf("bad row %q", pkt)
			}
			rows = append(rows, string(v))
		}
	}
}

// settled waits until the session has no command in flight and checks
// that every statement it kept was timed to its end by the server that
// answered, and that the proxy never stopped following replies.
func settled(t testing.TB, p *testProxy, id core.SessionID, logs *lockedBuffer) core.Session {
	t.Helper()
	var s core.Session
	// The proxy relays the OK that ends a login before it marks the
	// session ready, so the client may see it first.
	waitFor(t, 5*time.Second, "the session to be ready and idle", func() bool {
		var err error
		s, err = p.reg.Get(id)
		return err == nil && !s.Busy && s.State == core.StateReady
	})
	for _, st := range s.Statements {
		if st.Completed.IsZero() || st.Completed.Before(st.Received) || st.Server != "mariadb1" {
			t.Errorf("statement %s %.40q not timed: received %v, completed %v, server %q",
				st.Command, st.Text, st.Received, st.Completed, st.Server)
		}
	}
	if strings.Contains(logs.String(), "stopped following replies") {
		t.Errorf("the proxy lost track of replies:\n%s", logs)
	}
	return s
}

// texts returns the text of each statement kept, oldest first.
func texts(s core.Session) []string {
	var out []string
	for _, st := range s.Statements {
		out = append(out, st.Text)
	}
	return out
}

// directDB connects to the real MariaDB without the proxy, for setting up
// what the tests need.
func directDB(t testing.TB, srv core.Server) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.DBName = "maxuser", "maxpwd", "tcp", "portico_demo"
	cfg.Addr = net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port))
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	return db
}

// proxiedDB opens one go-sql-driver connection through the proxy.
func proxiedDB(t testing.TB, p *testProxy, configure func(*mysql.Config)) (*sql.Conn, core.SessionID) {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = "maxuser", "maxpwd", "tcp", p.addr, "portico_demo"
	if configure != nil {
		configure(cfg)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var id uint64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	// The backend's thread id, not the session's: find the session by it.
	for _, s := range sessions(p.reg) {
		if len(s.Backends) == 1 && uint64(s.Backends[0].ThreadID) == id {
			return conn, s.ID
		}
	}
	t.Fatalf("no session has backend thread %d", id)
	return nil, 0
}

// raiseMaxAllowedPacket lets the server take packets of up to 64 MiB. It
// is a global setting that only new connections see, and raising it is
// harmless to other tests.
func raiseMaxAllowedPacket(t testing.TB, srv core.Server) {
	t.Helper()
	if _, err := directDB(t, srv).Exec("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024"); err != nil {
		t.Fatal(err)
	}
}

func TestProtocolChangeUser(t *testing.T) {
	srv := testMariaDB(t)
	login := rawOptions{user: "maxuser", password: "maxpwd", database: "portico_demo",
		attrs: map[string]string{"_client_name": "portico-test", "phase": "login"}}
	tests := []struct {
		name   string
		change rawOptions
		// refused is set when the server must refuse the change; the
		// session then keeps its login's user, database and attributes.
		refused   bool
		wantAttrs map[string]string
	}{
		{name: "another user and database",
			change: rawOptions{user: "shop_app", password: "demo", database: "shop",
				attrs: map[string]string{"_client_name": "portico-test", "phase": "changed", "extra": strings.Repeat("a", 300)}},
			wantAttrs: map[string]string{"_client_name": "portico-test", "phase": "changed", "extra": strings.Repeat("a", 300)}},
		{name: "the same user without attributes",
			change:    rawOptions{user: "maxuser", password: "maxpwd", database: "portico_demo"},
			wantAttrs: map[string]string{}},
		// The proxy keeps the first 4 KiB of a command: the attributes are
		// cut, so they are dropped rather than shown wrong.
		{name: "attributes longer than the proxy keeps",
			change: rawOptions{user: "shop_app", password: "demo", database: "shop",
				attrs: map[string]string{"extra": strings.Repeat("b", 6000)}}},
		{name: "a wrong password", change: rawOptions{user: "shop_app", password: "wrong", database: "shop",
			attrs: map[string]string{"phase": "refused"}}, refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, logs := startRetainingProxy(t, 10, srv)
			rc := rawConnect(t, p, login)
			s := settled(t, p, rc.id, logs)
			if s.User != login.user || s.Database != login.database || !maps.Equal(s.Attributes, login.attrs) {
				t.Fatalf("after login: user %q database %q attributes %v", s.User, s.Database, s.Attributes)
			}
			e := rc.changeUser(tt.change)
			if tt.refused {
				if e == nil || e.Code != mysqlwire.ERAccessDenied {
					t.Fatalf("change user answered %v, want access denied", e)
				}
				s := settled(t, p, rc.id, logs)
				if s.User != login.user || s.Database != login.database || !maps.Equal(s.Attributes, login.attrs) {
					t.Errorf("after a refused change: user %q database %q attributes %v, want the login's", s.User, s.Database, s.Attributes)
				}
				return
			}
			if e != nil {
				t.Fatalf("change user refused: %v", e)
			}
			s = settled(t, p, rc.id, logs)
			if s.User != tt.change.user || s.Database != tt.change.database ||
				!maps.Equal(s.Attributes, tt.wantAttrs) || (s.Attributes == nil) != (tt.wantAttrs == nil) {
				t.Errorf("after the change: user %q database %q attributes %.80v, want %q %q %.80v",
					s.User, s.Database, s.Attributes, tt.change.user, tt.change.database, tt.wantAttrs)
			}
			// The server agrees, and the session goes on being followed.
			want := tt.change.user + " " + tt.change.database
			if got := rc.query("SELECT CONCAT(SUBSTRING_INDEX(CURRENT_USER(), '@', 1), ' ', DATABASE())"); len(got) != 1 || got[0] != want {
				t.Errorf("server says %q, want %q", got, want)
			}
			s = settled(t, p, rc.id, logs)
			if n := len(s.Statements); n == 0 || !strings.HasPrefix(s.Statements[n-1].Text, "SELECT CONCAT(SUBSTRING_INDEX") {
				t.Errorf("statements %q, want the SELECT last", texts(s))
			}
		})
	}
}

func TestProtocolResetConnection(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		name string
		// pipelined sends COM_RESET_CONNECTION and a COM_PING in one write.
		pipelined bool
	}{
		{name: "alone"},
		{name: "pipelined with a ping", pipelined: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, logs := startRetainingProxy(t, 10, srv)
			rc := rawConnect(t, p, rawOptions{user: "maxuser", password: "maxpwd", database: "portico_demo"})
			rc.query("SET @portico_var = 42")
			if got := rc.query("SELECT @portico_var"); len(got) != 1 || got[0] != "42" {
				t.Fatalf("user variable %q before the reset", got)
			}
			if tt.pipelined {
				_, err := rc.c.Write(append(packet(0, []byte{mysqlwire.ComResetConnection}), packet(0, []byte{mysqlwire.ComPing})...))
				if err != nil {
					t.Fatal(err)
				}
				for _, what := range []string{"reset", "ping"} {
					if e := rc.okOrErr(rc.next()); e != nil {
						t.Fatalf("%s: %v", what, e)
					}
				}
			} else if e := rc.simple([]byte{mysqlwire.ComResetConnection}); e != nil {
				t.Fatalf("reset: %v", e)
			}
			settled(t, p, rc.id, logs)
			if got := rc.query("SELECT @portico_var"); len(got) != 1 || got[0] != "NULL" {
				t.Errorf("user variable %q after the reset, want NULL", got)
			}
			s := settled(t, p, rc.id, logs)
			want := []string{"SET @portico_var = 42", "SELECT @portico_var", "SELECT @portico_var"}
			if got := texts(s); !slices.Equal(got, want) {
				t.Errorf("statements %q, want %q", got, want)
			}
		})
	}
}

// TestProtocolLongDataAndStmtClose makes go-sql-driver send a parameter as
// COM_STMT_SEND_LONG_DATA packets and close its statements, neither of which
// the server answers. A proxy waiting for those replies would take the next
// command's reply for theirs and time every later statement wrong.
func TestProtocolLongDataAndStmtClose(t *testing.T) {
	srv := testMariaDB(t)
	p, logs := startRetainingProxy(t, 20, srv)
	// The driver sends an argument as long data once it is larger than
	// maxAllowedPacket / (parameters + 1), in packets below maxAllowedPacket.
	conn, id := proxiedDB(t, p, func(c *mysql.Config) { c.MaxAllowedPacket = 4096 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE portico_long (id INT, b MEDIUMBLOB)"); err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("0123456789abcdef"), 100<<10/16)
	stmt, err := conn.PrepareContext(ctx, "INSERT INTO portico_long VALUES (?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := stmt.ExecContext(ctx, i, blob); err != nil {
			t.Fatal(err)
		}
	}
	if err := stmt.Close(); err != nil {
		t.Fatal(err)
	}
	settled(t, p, id, logs)
	var n int
	var sum string
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*), MIN(SHA2(b, 256)) FROM portico_long WHERE b = ?", blob).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(blob)); n != 3 || sum != want {
		t.Errorf("%d rows with sha256 %s, want 3 with %s", n, sum, want)
	}
	s := settled(t, p, id, logs)
	want := []string{"SELECT CONNECTION_ID()", "CREATE TEMPORARY TABLE portico_long (id INT, b MEDIUMBLOB)",
		"INSERT INTO portico_long VALUES (?, ?)", "SELECT COUNT(*), MIN(SHA2(b, 256)) FROM portico_long WHERE b = ?"}
	if got := texts(s); !slices.Equal(got, want) {
		t.Errorf("statements %q, want %q", got, want)
	}
	// Three executes and the text queries; the long data and the closes
	// are no statements.
	if s.Traffic.Queries != 3+2+1 {
		t.Errorf("%d queries counted, want 6", s.Traffic.Queries)
	}
}

// TestProtocolLoadDataLocalInfile loads files through the proxy with
// go-sql-driver, the mariadb CLI and a raw client: an ordinary file, an
// empty one, and one larger than 16 MiB.
func TestProtocolLoadDataLocalInfile(t *testing.T) {
	srv := testMariaDB(t)
	raiseMaxAllowedPacket(t, srv)
	dir := t.TempDir()
	var big bytes.Buffer
	for i := 0; big.Len() < 17<<20; i++ {
		fmt.Fprintf(&big, "%d,%s\n", i, strings.Repeat("x", 90))
	}
	bigRows := bytes.Count(big.Bytes(), []byte("\n"))
	files := []struct {
		name string
		data []byte
		rows int
	}{
		{name: "small", data: []byte("1,one\n2,two\n3,three\n"), rows: 3},
		{name: "empty", rows: 0},
		{name: "larger than 16 MiB", data: big.Bytes(), rows: bigRows},
	}
	db := directDB(t, srv)
	for _, f := range files {
		path := filepath.Join(dir, strings.ReplaceAll(f.name, " ", "_")+".csv")
		if err := os.WriteFile(path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		load := "LOAD DATA LOCAL INFILE '" + path + "' INTO TABLE portico_infile FIELDS TERMINATED BY ','"
		reset := func(t *testing.T) {
			t.Helper()
			for _, q := range []string{"DROP TABLE IF EXISTS portico_infile", "CREATE TABLE portico_infile (a INT, b TEXT)"} {
				if _, err := db.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
		}
		count := func(t *testing.T) int {
			t.Helper()
			var n int
			if err := db.QueryRow("SELECT COUNT(*) FROM portico_infile").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		t.Run("go-sql-driver/"+f.name, func(t *testing.T) {
			reset(t)
			p, logs := startRetainingProxy(t, 10, srv)
			mysql.RegisterLocalFile(path)
			defer mysql.DeregisterLocalFile(path)
			conn, id := proxiedDB(t, p, nil)
			if _, err := conn.ExecContext(context.Background(), load); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := conn.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM portico_infile").Scan(&n); err != nil || n != f.rows {
				t.Fatalf("%d rows, %v; want %d", n, err, f.rows)
			}
			s := settled(t, p, id, logs)
			if got := texts(s); len(got) != 3 || got[1] != load {
				t.Errorf("statements %q, want the LOAD DATA second", got)
			}
			if s.Traffic.BytesIn < uint64(len(f.data)) {
				t.Errorf("%d bytes in, want at least the file's %d", s.Traffic.BytesIn, len(f.data))
			}
		})
		t.Run("mariadb CLI/"+f.name, func(t *testing.T) {
			reset(t)
			p, logs := startRetainingProxy(t, 10, srv)
			host, port, _ := net.SplitHostPort(p.addr)
			cmd := exec.Command("mariadb", "--no-defaults", "--skip-ssl", "--local-infile=1", "--batch", "--skip-column-names",
				"-h", host, "-P", port, "-u", "maxuser", "-pmaxpwd", "portico_demo")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			if _, err := io.WriteString(stdin, load+";\n"); err != nil {
				t.Fatal(err)
			}
			// The CLI stays connected while it waits for more input, so the
			// session can be looked at once the LOAD DATA has been answered.
			var s core.Session
			waitFor(t, time.Minute, "the LOAD DATA to be answered", func() bool {
				list := sessions(p.reg)
				if len(list) != 1 {
					return false
				}
				s = list[0]
				n := len(s.Statements)
				return !s.Busy && n > 0 && s.Statements[n-1].Text == load && !s.Statements[n-1].Completed.IsZero()
			})
			settled(t, p, s.ID, logs)
			if _, err := io.WriteString(stdin, "SELECT COUNT(*) FROM portico_infile;\n"); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("mariadb: %v\n%s", err, errOut.String())
			}
			if got := strings.TrimSpace(out.String()); got != strconv.Itoa(f.rows) {
				t.Errorf("the CLI counted %q rows, want %d\n%s", got, f.rows, errOut.String())
			}
			if n := count(t); n != f.rows {
				t.Errorf("%d rows loaded, want %d", n, f.rows)
			}
		})
	}
	// A file packet of exactly 16 MiB - 1 bytes must be followed by an
	// empty continuation, which the proxy must not take for the empty
	// packet that ends the file. The packets after it run the sequence id
	// round to 0: one the proxy took for a command would never be answered.
	t.Run("raw client/a file packet of 16 MiB - 1 bytes", func(t *testing.T) {
		reset := []string{"DROP TABLE IF EXISTS portico_infile", "CREATE TABLE portico_infile (a INT, b LONGTEXT)"}
		for _, q := range reset {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		p, logs := startRetainingProxy(t, 10, srv)
		rc := rawConnect(t, p, rawOptions{user: "maxuser", password: "maxpwd", database: "portico_demo"})
		line := "1," + strings.Repeat("y", mysqlwire.MaxPacketSize-3) + "\n"
		rc.write(0, []byte("\x03LOAD DATA LOCAL INFILE 'exact.csv' INTO TABLE portico_infile FIELDS TERMINATED BY ','"))
		if seq, pkt := rc.read(); seq != 1 || pkt[0] != mysqlwire.LocalInfileHeader || string(pkt[1:]) != "exact.csv" {
			t.Fatalf("want a request for exact.csv, got seq %d %q", seq, head(pkt))
		}
		rc.write(2, []byte(line))
		rc.write(3, nil) // the continuation: the logical packet ends here
		seq, more := byte(4), 0
		for ; seq != 2; seq++ {
			rc.write(seq, []byte("2,z\n"))
			more++
		}
		rc.write(seq, nil) // the end of the file
		if e := rc.okOrErr(rc.next()); e != nil {
			t.Fatal(e)
		}
		got := rc.query("SELECT CONCAT(COUNT(*), ' ', MAX(LENGTH(b))) FROM portico_infile")
		if want := fmt.Sprintf("%d %d", 1+more, len(line)-3); len(got) != 1 || got[0] != want {
			t.Errorf("loaded %q, want %q", got, want)
		}
		s := settled(t, p, rc.id, logs)
		if len(s.Statements) != 2 {
			t.Errorf("statements %q, want the LOAD DATA and the SELECT", texts(s))
		}
	})
}

// TestProtocolLargePackets sends and receives logical packets of 16 MiB
// and more, which travel as several physical packets, through the proxy
// with go-sql-driver.
func TestProtocolLargePackets(t *testing.T) {
	srv := testMariaDB(t)
	raiseMaxAllowedPacket(t, srv)
	p, logs := startRetainingProxy(t, 20, srv)
	conn, id := proxiedDB(t, p, func(c *mysql.Config) { c.MaxAllowedPacket = 0 }) // the server's
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE portico_big (id INT PRIMARY KEY, b LONGBLOB)"); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 40<<20)
	for i := range blob {
		blob[i] = byte(i * 7 / 3)
	}
	want := sha256.Sum256(blob)

	tests := []struct {
		name string
		run  func(t *testing.T)
		// in and out are the least bytes the command moves each way.
		in, out int
	}{
		{name: "INSERT of 40 MiB as long data", in: len(blob), run: func(t *testing.T) {
			if _, err := conn.ExecContext(ctx, "INSERT INTO portico_big VALUES (1, ?)", blob); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "SELECT of 40 MiB, text protocol", out: len(blob), run: func(t *testing.T) {
			var got []byte
			if err := conn.QueryRowContext(ctx, "SELECT b FROM portico_big WHERE id = 1").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != want {
				t.Errorf("%d bytes came back, not the ones sent", len(got))
			}
		}},
		{name: "SELECT of 40 MiB, binary protocol", out: len(blob), run: func(t *testing.T) {
			var got []byte
			if err := conn.QueryRowContext(ctx, "SELECT b FROM portico_big WHERE id = ?", 1).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != want {
				t.Errorf("%d bytes came back, not the ones sent", len(got))
			}
		}},
		{name: "a query of exactly 16 MiB - 1 bytes", in: mysqlwire.MaxPacketSize, run: func(t *testing.T) {
			// COM_QUERY, then the text: a payload of exactly 0xFFFFFF
			// bytes, which the driver follows with an empty packet.
			pre, post := "SELECT LENGTH('", "')"
			n := mysqlwire.MaxPacketSize - 1 - len(pre) - len(post)
			var got int
			if err := conn.QueryRowContext(ctx, pre+strings.Repeat("q", n)+post).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != n {
				t.Errorf("LENGTH = %d, want %d", got, n)
			}
		}},
		{name: "a row of exactly 16 MiB - 1 bytes", out: mysqlwire.MaxPacketSize, run: func(t *testing.T) {
			// A text row of one value: its 4-byte length and the value
			// fill the packet exactly.
			n := mysqlwire.MaxPacketSize - 4
			var got string
			if err := conn.QueryRowContext(ctx, "SELECT REPEAT('r', "+strconv.Itoa(n)+")").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if len(got) != n || strings.Trim(got, "r") != "" {
				t.Errorf("got %d bytes, want %d r's", len(got), n)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := settled(t, p, id, logs)
			tt.run(t)
			after := settled(t, p, id, logs)
			if in := after.Traffic.BytesIn - before.Traffic.BytesIn; in < uint64(tt.in) {
				t.Errorf("%d bytes in, want at least %d", in, tt.in)
			}
			if out := after.Traffic.BytesOut - before.Traffic.BytesOut; out < uint64(tt.out) {
				t.Errorf("%d bytes out, want at least %d", out, tt.out)
			}
			// A packet of 16 MiB or more takes two physical packets at least.
			if tt.in > 0 && after.Traffic.PacketsIn-before.Traffic.PacketsIn < 2 {
				t.Errorf("%d packets in", after.Traffic.PacketsIn-before.Traffic.PacketsIn)
			}
			if tt.out > 0 && after.Traffic.PacketsOut-before.Traffic.PacketsOut < 2 {
				t.Errorf("%d packets out", after.Traffic.PacketsOut-before.Traffic.PacketsOut)
			}
			last := after.Statements[len(after.Statements)-1]
			if len(last.Text) > 4096 || !utf8.ValidString(last.Text) {
				t.Errorf("statement text of %d bytes kept", len(last.Text))
			}
		})
	}
}

// TestProtocolProgressReports runs an ALTER TABLE long enough for MariaDB
// to send progress reports, ERR packets with code 0xFFFF, to a client that
// asked for them. They must not end the reply: the OK that follows does.
func TestProtocolProgressReports(t *testing.T) {
	srv := testMariaDB(t)
	db := directDB(t, srv)
	for _, q := range []string{"DROP TABLE IF EXISTS portico_progress",
		"CREATE TABLE portico_progress (id INT PRIMARY KEY, pad CHAR(200)) ENGINE=InnoDB"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS portico_progress") })
	p, logs := startRetainingProxy(t, 20, srv)
	rc := rawConnect(t, p, rawOptions{user: "maxuser", password: "maxpwd", database: "portico_demo",
		mariadbCaps: mysqlwire.MariaDBClientProgress})
	rc.query("SET SESSION progress_report_time = 1")
	// Reports come once a second: the table grows until copying it takes
	// long enough for one.
	rows := 0
	for add := 200_000; rc.progress == 0; add *= 2 {
		if rows >= 6_400_000 {
			t.Fatalf("no progress report while copying %d rows", rows)
		}
		if _, err := db.Exec(fmt.Sprintf("INSERT INTO portico_progress SELECT seq, 'x' FROM seq_%d_to_%d", rows+1, rows+add)); err != nil {
			t.Fatal(err)
		}
		rows += add
		if got := rc.query("ALTER TABLE portico_progress FORCE, ALGORITHM=COPY"); got != nil {
			t.Fatalf("ALTER TABLE returned rows %q", got)
		}
	}
	t.Logf("%d progress reports while copying %d rows", rc.progress, rows)

	// LOAD DATA LOCAL reports progress too, between the client's file,
	// whose packets the proxy does not follow, and the OK. The file comes
	// slowly, for the server's once-a-second report to fall inside the
	// statement.
	reports := rc.progress
	rc.write(0, []byte("\x03LOAD DATA LOCAL INFILE 'slow.csv' INTO TABLE portico_progress FIELDS TERMINATED BY ','"))
	if seq, pkt := rc.read(); seq != 1 || pkt[0] != mysqlwire.LocalInfileHeader {
		t.Fatalf("want a file request, got seq %d %q", seq, pkt)
	}
	seq := byte(2)
	for range 25 {
		rows++
		rc.write(seq, fmt.Appendf(nil, "%d,slow\n", rows))
		seq++
		time.Sleep(100 * time.Millisecond)
	}
	rc.write(seq, nil)
	if e := rc.okOrErr(rc.next()); e != nil {
		t.Fatal(e)
	}
	t.Logf("%d progress reports while loading a file", rc.progress-reports)

	got := rc.query("SELECT COUNT(*) FROM portico_progress")
	if len(got) != 1 || got[0] != strconv.Itoa(rows) {
		t.Errorf("count %q, want %d", got, rows)
	}
	s := settled(t, p, rc.id, logs)
	if n := len(s.Statements); n < 3 || s.Statements[n-1].Text != "SELECT COUNT(*) FROM portico_progress" {
		t.Errorf("statements %q, want the SELECT last", texts(s))
	}
}

// TestProtocolQueryAttributesHidden offers clients a greeting with MySQL
// 8's CLIENT_QUERY_ATTRIBUTES. The proxy must hide it: a client using it
// puts parameters before the text of every COM_QUERY.
func TestProtocolQueryAttributesHidden(t *testing.T) {
	orig := captured(t, "greeting_mariadb.bin")
	g, err := mysqlwire.ParseGreeting(orig)
	if err != nil {
		t.Fatal(err)
	}
	// The upper capability half follows the version, id, scramble part,
	// filler, lower half, character set and status.
	at := 1 + len(g.ServerVersion) + 1 + 4 + 8 + 1 + 2 + 1 + 2
	withAttrs := bytes.Clone(orig)
	binary.LittleEndian.PutUint16(withAttrs[at:], uint16((g.Capabilities|mysqlwire.ClientQueryAttributes)>>16))
	if g2, err := mysqlwire.ParseGreeting(withAttrs); err != nil || g2.Capabilities != g.Capabilities|mysqlwire.ClientQueryAttributes {
		t.Fatalf("could not add the capability: %+v, %v", g2, err)
	}
	be := startBackend(t, "fake1", replay(withAttrs, nil))
	p := startProxy(t, proxy.Config{}, be.srv)
	c := dial(t, p)
	_, got := readGreeting(t, c)
	if got.Capabilities&mysqlwire.ClientQueryAttributes != 0 {
		t.Errorf("capabilities %#x offer query attributes", got.Capabilities)
	}
	if want := g.Capabilities &^ (mysqlwire.ClientSSL | mysqlwire.ClientCompress); got.Capabilities != want {
		t.Errorf("capabilities %#x, want %#x", got.Capabilities, want)
	}
}

// TestProtocolStatementHistory checks what queries[] shows: the text of
// COM_QUERY and COM_STMT_PREPARE, cut to 4 KiB at a character boundary,
// each timed.
func TestProtocolStatementHistory(t *testing.T) {
	srv := testMariaDB(t)
	p, logs := startRetainingProxy(t, 10, srv)
	conn, id := proxiedDB(t, p, nil)
	ctx := context.Background()
	// Two-byte characters from an odd offset: the limit falls inside one.
	long := "SELECT 1 /* x" + strings.Repeat("é", 3000) + " */"
	// Three-byte characters for the prepared statement, again cut.
	prepared := "SELECT ? /* " + strings.Repeat("€", 2000) + " */"
	var s1, s2 string
	if err := conn.QueryRowContext(ctx, long).Scan(&s1); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRowContext(ctx, prepared, "v").Scan(&s2); err != nil {
		t.Fatal(err)
	}
	s := settled(t, p, id, logs)
	tests := []struct {
		command, sent string
	}{
		{"COM_QUERY", "SELECT CONNECTION_ID()"},
		{"COM_QUERY", long},
		{"COM_STMT_PREPARE", prepared},
	}
	if len(s.Statements) != len(tests) {
		t.Fatalf("statements %q, want %d", texts(s), len(tests))
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i)+"/"+tt.command, func(t *testing.T) {
			st := s.Statements[i]
			if st.Command != tt.command {
				t.Errorf("command %q, want %q", st.Command, tt.command)
			}
			if !strings.HasPrefix(tt.sent, st.Text) || !utf8.ValidString(st.Text) {
				t.Errorf("text %.40q... is not a valid prefix of the statement", st.Text)
			}
			want := len(tt.sent)
			if want > 4096 {
				// Cut at the last character boundary before 4 KiB.
				want = 4096
				for !utf8.RuneStart(tt.sent[want]) {
					want--
				}
			}
			if len(st.Text) != want {
				t.Errorf("kept %d bytes, want %d", len(st.Text), want)
			}
		})
	}
}
