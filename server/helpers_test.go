package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
	"github.com/portico-db/portico/server/users"
	"github.com/portico-db/portico/static"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// testZone is pinned as time.Local for the whole package, so "connected"
// strings are reproducible. It is deliberately not UTC: fixtures are built in
// UTC, so every golden file also proves the conversion to local time.
var testZone = time.FixedZone("UTC+2", 2*60*60)

func TestMain(m *testing.M) {
	time.Local = testZone
	os.Exit(m.Run())
}

const (
	adminUser = "admin"
	adminPass = "mariadb"
	// seedHost is the Host the MaxScale documentation's examples were taken on.
	seedHost = "localhost:8989"
)

// clock is a settable clock shared by the registry, the API and the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// utc is a wall time on the seed's day, 2017-07-17, in UTC. With time.Local
// pinned to UTC+2 it prints two hours later.
func utc(h, m, s, ms int) time.Time {
	return time.Date(2017, 7, 17, h, m, s, ms*int(time.Millisecond), time.UTC)
}

func testTopology() *core.Topology {
	return &core.Topology{
		Servers: []core.Server{
			{Name: "server1", Address: "127.0.0.1", Port: 3306},
			{Name: "server2", Address: "127.0.0.1", Port: 3307},
		},
		Services: []core.Service{
			{Name: "RW-Split-Router", Router: "readwritesplit", Servers: []string{"server1", "server2"}},
			{Name: "Read-Connection-Router", Router: "readconnroute", Servers: []string{"server1"}},
		},
		Listeners: []core.Listener{
			{Name: "RW-Split-Listener", Service: "RW-Split-Router", Address: "127.0.0.1", Port: 4006},
		},
		Monitors: []core.Monitor{
			{Name: "MariaDB-Monitor", Module: "mariadbmon", Servers: []string{"server1"}, User: "monuser", Password: "monpwd",
				Interval: 2 * time.Second, ConnectTimeout: 3 * time.Second},
		},
	}
}

// pagesBody is what the stand-in dashboard handler answers.
const pagesBody = "dashboard"

type fixture struct {
	clock    *clock
	reg      *core.Registry
	users    *users.Store
	api      *server.Server
	srv      *httptest.Server
	wsClient *http.Client // dials the stream
	// states has server1 as a monitor's master and knows nothing of
	// server2.
	states *core.ServerStates
}

type fixtureOpts struct {
	interval time.Duration
	tls      bool
	topology *core.Topology // nil for testTopology()
	// tinyBuffers pins small kernel socket buffers on the server's accepted
	// connections and on stream clients, so a client that stops reading
	// stalls the server's writes after some 100 KiB. Left alone, Linux grows
	// a receive buffer to megabytes while the client reads.
	tinyBuffers bool
	// secureGUI leaves admin_secure_gui on, refusing /auth and pages over
	// plain HTTP; fixtures turn it off by default, as the bundled
	// configurations do.
	secureGUI bool
	// tokenMaxAge is admin_jwt_max_age; zero for the default.
	tokenMaxAge time.Duration
	// stream tunes the session stream's limits.
	stream server.StreamConfig
}

// newUsers is a users file in a temporary directory holding the admin
// account. The minimum bcrypt cost keeps logins fast under the race
// detector, where the default cost takes about a second per hash.
func newUsers(tb testing.TB) *users.Store {
	tb.Helper()
	store, err := users.Open(filepath.Join(tb.TempDir(), "passwd.json"), users.Options{Cost: bcrypt.MinCost})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.Add(adminUser, adminPass, users.RoleAdmin); err != nil {
		tb.Fatal(err)
	}
	return store
}

// newFixture serves a real registry through server.New on a loopback port.
func newFixture(t *testing.T, opts fixtureOpts) *fixture {
	t.Helper()
	clk := newClock(utc(9, 0, 0, 0))
	reg := core.NewRegistry(clk.Now)
	topo := opts.topology
	if topo == nil {
		topo = testTopology()
	}
	store := newUsers(t)
	states := core.NewServerStates()
	states.Set("server1", core.ServerState{Up: true, Role: core.RoleMaster, Monitored: true})
	assets, err := static.New(fstest.MapFS{
		"portico.css": {Data: []byte("body{}")},
	})
	if err != nil {
		t.Fatal(err)
	}
	api := server.New(server.Config{
		Sessions:    reg,
		Topology:    topo,
		Users:       store,
		TokenMaxAge: opts.tokenMaxAge,
		InsecureGUI: !opts.secureGUI,
		Pages: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// The dashboard's pages: the home page, /services and
			// /sessions/ID.
			if p := r.URL.Path; p != "/" && p != "/services" && !strings.HasPrefix(p, "/sessions/") {
				http.NotFound(w, r)
				return
			}
			_, _ = io.WriteString(w, pagesBody)
		}),
		Static:         assets,
		Logger:         slog.New(slog.DiscardHandler),
		StreamInterval: opts.interval,
		ServerStates:   states,
		Stream:         opts.stream,
	})
	srv := httptest.NewUnstartedServer(api.Handler())
	if opts.tinyBuffers {
		srv.Listener = tinyBufListener{srv.Listener}
	}
	if opts.tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	f := &fixture{clock: clk, reg: reg, states: states, users: store, api: api, srv: srv, wsClient: srv.Client()}
	if opts.tinyBuffers {
		f.wsClient = &http.Client{Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := new(net.Dialer).DialContext(ctx, network, addr)
				if err == nil {
					// Much smaller and loopback TCP crawls through
					// zero-window probes.
					err = c.(*net.TCPConn).SetReadBuffer(64 << 10)
				}
				return c, err
			},
		}}
	}
	return f
}

type tinyBufListener struct{ net.Listener }

func (l tinyBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		err = c.(*net.TCPConn).SetWriteBuffer(4 << 10)
	}
	return c, err
}

// openSeed reproduces the two sessions of the MaxScale documentation's
// examples: ids 9 and 10 on RW-Split-Router. Ids 1-8 are opened and closed
// first, since ids are never reused.
func (f *fixture) openSeed(t *testing.T) (nine, ten *core.Handle) {
	t.Helper()
	clk, reg := f.clock, f.reg
	for range 8 {
		reg.Open(core.Session{Service: "RW-Split-Router"}).Close()
	}
	clk.Set(utc(9, 10, 39, 0))
	nine = reg.Open(core.Session{
		Service: "RW-Split-Router", State: core.StateReady, User: "maxuser",
		Remote: "::ffff:127.0.0.1", Connected: utc(9, 10, 39, 0),
	})
	clk.Set(utc(9, 11, 37, 0))
	ten = reg.Open(core.Session{
		Service: "RW-Split-Router", State: core.StateReady, User: "skysql",
		Remote: "::ffff:127.0.0.1", Connected: utc(9, 11, 37, 0),
	})
	if nine.ID() != 9 || ten.ID() != 10 {
		t.Fatalf("seed ids = %d, %d; want 9, 10", nine.ID(), ten.ID())
	}
	return nine, ten
}

type auth func(*http.Request)

func basic(user, pass string) auth { return func(r *http.Request) { r.SetBasicAuth(user, pass) } }

func bearer(tok string) auth {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func cookies(cs ...*http.Cookie) auth {
	return func(r *http.Request) {
		for _, c := range cs {
			r.AddCookie(c)
		}
	}
}

func noAuth(*http.Request) {}

var admin = basic(adminUser, adminPass)

type response struct {
	status int
	header http.Header
	body   []byte
	resp   *http.Response
}

// get requests path with the given Host header (empty for the server's own).
func (f *fixture) get(t *testing.T, host, path string, a auth) response {
	t.Helper()
	return f.do(t, http.MethodGet, host, path, a)
}

func (f *fixture) do(t *testing.T, method, host, path string, a auth) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	a(req)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body, resp: resp}
}

// wsURL is the stream's address on the fixture.
func (f *fixture) wsURL() string {
	return "ws" + f.srv.URL[len("http"):] + "/v1/sessions/stream"
}

// dial opens the session stream. It fails the test unless the upgrade
// succeeds.
func (f *fixture) dial(t *testing.T, host string, header http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := f.tryDial(t, host, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial stream: status %d: %v", status, err)
	}
	return c
}

// tryDial attempts the upgrade with header, and with host as the Host header
// unless it is empty.
func (f *fixture) tryDial(t *testing.T, host string, header http.Header, query ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, f.wsURL()+strings.Join(query, ""), &websocket.DialOptions{
		HTTPHeader: header,
		HTTPClient: f.wsClient,
		Host:       host,
	})
	if err != nil {
		return nil, resp, err
	}
	// Snapshot chunks of 500 sessions are far above the default 32 KiB.
	c.SetReadLimit(64 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c, resp, nil
}

// dialQuery dials the stream with a query string, failing the test on error.
func (f *fixture) dialQuery(t *testing.T, host string, header http.Header, query string) *websocket.Conn {
	t.Helper()
	c, resp, err := f.tryDial(t, host, header, query)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", query, err, resp)
	}
	return c
}

func basicHeader() http.Header {
	r := &http.Request{Header: http.Header{}}
	r.SetBasicAuth(adminUser, adminPass)
	return r.Header
}

// frame is any stream frame, decoded loosely.
type frame struct {
	Type    string            `json:"type"`
	Epoch   string            `json:"epoch"`
	Rev     string            `json:"rev"`
	Time    string            `json:"time"`
	Data    []json.RawMessage `json:"data"`
	More    bool              `json:"more"`
	Added   []json.RawMessage `json:"added"`
	Updated []json.RawMessage `json:"updated"`
	Removed []string          `json:"removed"`
	Reason  string            `json:"reason"`

	raw []byte
}

// readChanges reads the next frame that is not a bookmark: bookmarks are
// sent whenever a stream has been quiet for 15s, which a loaded test machine
// can reach.
func readChanges(t *testing.T, c *websocket.Conn, timeout time.Duration) frame {
	t.Helper()
	for {
		if f := readFrame(t, c, timeout); f.Type != "bookmark" {
			return f
		}
	}
}

// readFrame reads one frame, failing the test after timeout.
func readFrame(t *testing.T, c *websocket.Conn, timeout time.Duration) frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	f, err := nextFrame(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// nextFrame reads and decodes one frame; it is safe off the test goroutine.
func nextFrame(ctx context.Context, c *websocket.Conn) (frame, error) {
	typ, b, err := c.Read(ctx)
	if err != nil {
		return frame{}, fmt.Errorf("read frame: %w", err)
	}
	if typ != websocket.MessageText {
		return frame{}, fmt.Errorf("frame type = %v, want text", typ)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		return frame{}, fmt.Errorf("decode frame %s: %w", b, err)
	}
	f.raw = b
	return f, nil
}

// wireSession is a session resource as the API sends it.
type wireSession struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Relationships struct {
		Services struct {
			Links struct {
				Self string `json:"self"`
			} `json:"links"`
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
	Links struct {
		Self string `json:"self"`
	} `json:"links"`
}

func decodeSession(t *testing.T, raw json.RawMessage) wireSession {
	t.Helper()
	var s wireSession
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("decode session %s: %v", raw, err)
	}
	return s
}

func sessionIDs(t *testing.T, list []json.RawMessage) []string {
	t.Helper()
	ids := make([]string, len(list))
	for i, raw := range list {
		ids[i] = decodeSession(t, raw).ID
	}
	return ids
}

// golden compares got, indented, with testdata/name; -update rewrites it.
// Indenting keeps every token, key order included, and makes diffs readable.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "    "); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s mismatch (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
	}
}

// errorBody is the JSON:API error document for detail.
func errorBody(detail string) string {
	b, _ := json.Marshal(map[string][]map[string]string{"errors": {{"detail": detail}}})
	return string(b)
}
