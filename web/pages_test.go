package web_test

import (
	"bytes"
	"flag"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/web"
	"github.com/portico-db/portico/web/sessionview"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// testZone is pinned as time.Local so "connected" cells are reproducible. It
// is not UTC: fixtures are in UTC, so the goldens also prove the conversion.
var testZone = time.FixedZone("UTC+2", 2*60*60)

func TestMain(m *testing.M) {
	time.Local = testZone
	os.Exit(m.Run())
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

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

func utc(h, m, s, ms int) time.Time {
	return time.Date(2017, 7, 17, h, m, s, ms*int(time.Millisecond), time.UTC)
}

// seed fills reg with the MaxScale documentation's sessions 9 and 10 and a
// session whose fields need escaping, and leaves the clock at 09:12 UTC.
func seed(t *testing.T, clk *clock, reg *core.Registry) {
	t.Helper()
	for range 8 {
		reg.Open(core.Session{}).Close()
	}
	clk.Set(utc(9, 10, 39, 0))
	nine := reg.Open(core.Session{Service: "RW-Split-Router", State: core.StateReady, User: "maxuser",
		Remote: "::ffff:127.0.0.1"})
	clk.Set(utc(9, 11, 37, 0))
	ten := reg.Open(core.Session{Service: "RW-Split-Router", State: core.StateReady, User: "skysql",
		Remote: "::ffff:127.0.0.1"})
	hostile := reg.Open(core.Session{Service: `svc"><b>`, User: `<script>alert("x")</script>`,
		Remote: "a&b'c", Connected: time.Date(2017, 7, 2, 1, 4, 5, 0, time.UTC)})
	nine.Touch(utc(9, 10, 57, 50))
	ten.Touch(utc(9, 11, 54, 750))
	hostile.Touch(utc(9, 12, 0, 0))
	clk.Set(utc(9, 12, 0, 0))
}

type fixture struct {
	clk   *clock
	reg   *core.Registry
	pages *web.Pages
}

// topo is the fixture's configuration: two services, two servers.
var topo = &core.Topology{
	Servers: []core.Server{{Name: "server1", Address: "127.0.0.1", Port: 3306}, {Name: "server2", Address: "127.0.0.1", Port: 3307}},
	Services: []core.Service{
		{Name: "RW-Split-Router", Router: "readwritesplit", Servers: []string{"server1", "server2"}},
		{Name: "Read-Only", Router: "readconnroute", Servers: []string{"server2"}},
	},
	Listeners: []core.Listener{{Name: "RW-Listener", Service: "RW-Split-Router", Address: "127.0.0.1", Port: 4006}},
}

// fixedHistory stands in for core.CountHistory.
type fixedHistory []int

func (h fixedHistory) Samples() []int { return h }

// hashed stands in for static.Assets.
type hashed struct{}

func (hashed) URL(name string) string { return "/static/" + name + "?h" }

func newFixture(fill func(t *testing.T, clk *clock, reg *core.Registry)) func(t *testing.T) fixture {
	return func(t *testing.T) fixture {
		clk := &clock{t: utc(9, 0, 0, 0)}
		reg := core.NewRegistry(clk.Now)
		if fill != nil {
			fill(t, clk, reg)
		}
		// server1 is a monitored master; nothing has reached server2.
		states := core.NewServerStates()
		states.Set("server1", core.ServerState{Up: true, Role: core.RoleMaster, Monitored: true})
		return fixture{clk: clk, reg: reg, pages: web.NewPages(reg, topo, states, fixedHistory{3, 2, 3}, hashed{}, slog.New(slog.DiscardHandler))}
	}
}

func (f fixture) get(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	f.pages.ServeHTTP(w, httptest.NewRequestWithContext(t.Context(), method, path, nil))
	return w
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s mismatch (run go test -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

var tbodyRE = regexp.MustCompile(`(?s)<tbody id="session-rows" data-rev="([0-9]+)" data-stream="[^"]+">(.*?)</tbody>`)

func TestHomePage(t *testing.T) {
	tests := []struct {
		name    string
		fixture func(t *testing.T) fixture
		golden  string
		ids     []string
	}{
		{"empty", newFixture(nil), "home_empty.golden.html", nil},
		{"sessions", newFixture(seed), "home_sessions.golden.html", []string{"9", "10", "11"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fixture(t)
			res := f.get(t, http.MethodGet, "/")
			if res.Code != http.StatusOK {
				t.Fatalf("status = %d", res.Code)
			}
			for k, want := range map[string]string{"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"} {
				if got := res.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			page := res.Body.String()
			golden(t, tt.golden, res.Body.Bytes())

			t.Run("test hooks", func(t *testing.T) {
				hooks := []string{
					`data-testid="sessions-table"`,
					`data-testid="stream-status"`,
					`data-testid="search"`,
					`data-testid="kill-dialog"`,
					`data-testid="sessions-chart"`,
					`data-testid="session-count" id="session-count">` + strconv.Itoa(len(tt.ids)) + `</strong>`,
					`<script src="/static/boot.js?h" data-wasm="/static/portico.wasm?h" defer></script>`,
					`<link rel="stylesheet" href="/static/portico.css?h">`,
				}
				for _, id := range tt.ids {
					hooks = append(hooks, `<tr data-testid="session-row" data-session-id="`+id+`" id="session-`+id+`">`)
				}
				for _, h := range hooks {
					if n := strings.Count(page, h); n != 1 {
						t.Errorf("%s occurs %d times, want once", h, n)
					}
				}
				if n := strings.Count(page, `data-testid="session-row"`); n != len(tt.ids) {
					t.Errorf("%d session rows, want %d", n, len(tt.ids))
				}
			})

			// The shared-markup guarantee: the server's first paint is, byte
			// for byte, the rows the WASM client renders from the same data.
			t.Run("rows are sessionview's markup", func(t *testing.T) {
				m := tbodyRE.FindStringSubmatch(page)
				if m == nil {
					t.Fatalf("no session-rows tbody in\n%s", page)
				}
				rev, list := f.reg.List()
				if m[1] != strconv.FormatUint(rev, 10) {
					t.Errorf("data-rev = %s, want %d", m[1], rev)
				}
				var want strings.Builder
				for _, s := range list {
					v := web.SessionOf(s)
					want.WriteString(sessionview.Row{Session: &v, Now: f.clk.Now().UnixMilli()}.HTML())
				}
				if m[2] != want.String() {
					t.Errorf("tbody content differs from sessionview's rows\ngot:  %s\nwant: %s", m[2], want.String())
				}
			})
		})
	}
}

var rowIDRE = regexp.MustCompile(`<tr data-testid="session-row" data-session-id="([0-9]+)"`)

func TestHomePageView(t *testing.T) {
	many := func(t *testing.T, clk *clock, reg *core.Registry) {
		for i := range 120 {
			svc := "RW-Split-Router"
			if i%2 == 1 {
				svc = "Read-Only"
			}
			h := reg.Open(core.Session{Service: svc, State: core.StateReady, User: "user" + strconv.Itoa(i%7), Remote: "10.0.0.1"})
			h.CountIn(i*10, 1)
		}
	}
	tests := []struct {
		name  string
		query string
		// first are the first row ids, in order; rows how many are shown.
		first []string
		rows  int
		hooks []string
	}{
		{"default: first rows by id, with a note", "/", []string{"1", "2", "3"}, web.FirstPaintRows,
			[]string{`data-testid="table-note">Showing the first 50 of 120`, `aria-sort="ascending" data-sort-key="id"`}},
		{"sorted by bytes in, descending", "/?sort=-in", []string{"120", "119", "118"}, web.FirstPaintRows,
			[]string{`aria-sort="descending" data-sort-key="in"`, `<input type="hidden" name="sort" id="filter-sort" value="-in">`}},
		{"filtered by service and user", "/?service=Read-Only&user=user1", []string{"2", "16", "30"}, 9,
			[]string{`<option value="Read-Only" selected>`, `value="user1"`, `data-testid="shown-count">9 of 120 shown`}},
		{"search", "/?q=user6", []string{"7", "14", "21"}, 17, []string{`value="user6"`}},
		{"sort links keep the filters and flip the order", "/?service=Read-Only", []string{"2"}, web.FirstPaintRows,
			[]string{`href="/?service=Read-Only&amp;sort=-id"`, `href="/?service=Read-Only&amp;sort=-queries"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(many)(t)
			page := f.get(t, http.MethodGet, tt.query).Body.String()
			var ids []string
			for _, m := range rowIDRE.FindAllStringSubmatch(page, -1) {
				ids = append(ids, m[1])
			}
			if len(ids) != tt.rows {
				t.Errorf("%d rows, want %d", len(ids), tt.rows)
			}
			if len(ids) < len(tt.first) || !slices.Equal(ids[:len(tt.first)], tt.first) {
				t.Errorf("rows start %v, want %v", ids[:min(len(ids), 5)], tt.first)
			}
			for _, h := range tt.hooks {
				if !strings.Contains(page, h) {
					t.Errorf("page lacks %s", h)
				}
			}
		})
	}
}

func TestHomePageEscapes(t *testing.T) {
	f := newFixture(seed)(t)
	page := f.get(t, http.MethodGet, "/").Body.String()
	tests := []struct {
		name   string
		absent string
		found  string
	}{
		{"user", `<script>alert("x")</script>`, `<span class="user">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</span>`},
		{"remote", `a&b'c`, `<span class="remote">@a&amp;b&#39;c</span>`},
		{"service", `svc"><b>`, `<td data-testid="session-service">svc&#34;&gt;&lt;b&gt;</td>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(page, tt.absent) {
				t.Errorf("page contains unescaped %q", tt.absent)
			}
			if !strings.Contains(page, tt.found) {
				t.Errorf("page lacks %q", tt.found)
			}
		})
	}
}

func TestPagesRouting(t *testing.T) {
	f := newFixture(seed)(t)
	tests := []struct {
		method string
		path   string
		want   int
	}{
		{http.MethodGet, "/", http.StatusOK},
		{http.MethodHead, "/", http.StatusOK},
		{http.MethodGet, "/services", http.StatusOK},
		{http.MethodGet, "/sessions/9", http.StatusOK},
		{http.MethodGet, "/sessions/999", http.StatusNotFound},
		{http.MethodGet, "/sessions/09", http.StatusNotFound},
		{http.MethodGet, "/sessions/x", http.StatusNotFound},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if got := f.get(t, tt.method, tt.path).Code; got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDetailPage(t *testing.T) {
	f := newFixture(func(t *testing.T, clk *clock, reg *core.Registry) {
		clk.Set(utc(9, 0, 0, 0))
		h := reg.Open(core.Session{Service: "RW-Split-Router", Remote: "127.0.0.1", Port: 51234})
		h.Update(func(s *core.Session) {
			s.State, s.User, s.Database = core.StateReady, "maxuser", "shop"
			s.Attributes = map[string]string{"_os": "linux", "_client_name": "libmariadb"}
			s.Backends = []core.BackendConn{{Server: "server1", ThreadID: 77}}
		})
		h.RetainStatements(5)
		done := h.StatementReceived("COM_QUERY", "SELECT 1", utc(9, 0, 1, 0))
		h.StatementCompleted(done, "server1", utc(9, 0, 1, 12))
		h.StatementReceived("COM_QUERY", "SELECT SLEEP(<10>)", utc(9, 0, 2, 0))
		h.Touch(utc(9, 0, 2, 0))
		clk.Set(utc(9, 0, 5, 500))
	})(t)
	res := f.get(t, http.MethodGet, "/sessions/1")
	if res.Code != http.StatusOK {
		t.Fatalf("status %d", res.Code)
	}
	golden(t, "detail.golden.html", res.Body.Bytes())
	page := res.Body.String()
	for _, h := range []string{`data-testid="session-detail"`, `id="detail-root" data-session-id="1"`, `data-kill="1"`,
		`<dd data-testid="detail-database">shop</dd>`, `data-testid="log-flag-notice" checked`, `running for 3.5 s`,
		`SELECT SLEEP(&lt;10&gt;)`, `<th scope="row">_client_name</th><td>libmariadb</td>`} {
		if !strings.Contains(page, h) {
			t.Errorf("page lacks %s", h)
		}
	}
	if strings.Contains(page, `data-testid="log-flag-info" checked`) {
		t.Error("log_info shown on")
	}
}

func TestServicesPage(t *testing.T) {
	f := newFixture(seed)(t)
	res := f.get(t, http.MethodGet, "/services")
	golden(t, "services.golden.html", res.Body.Bytes())
	page := res.Body.String()
	for _, h := range []string{
		`<a href="/?service=RW-Split-Router" data-testid="service-sessions" data-service-count="RW-Split-Router">2</a>`,
		`<a href="/?service=Read-Only" data-testid="service-sessions" data-service-count="Read-Only">0</a>`,
		`title="127.0.0.1:3307">server2 <span class="badge badge-down" data-testid="server-state">Down</span></span>`,
		`title="127.0.0.1:3306">server1 <span class="badge badge-up" data-testid="server-state">Master, Running</span></span>`,
		`RW-Listener <span class="muted">127.0.0.1:4006</span>`, `aria-current="page">Services`,
	} {
		if !strings.Contains(page, h) {
			t.Errorf("page lacks %s", h)
		}
	}
}

func TestSessionOf(t *testing.T) {
	now := utc(10, 0, 0, 0)
	base := core.Session{ID: 9, Service: "RW-Split-Router", State: core.StateReady, User: "maxuser",
		Remote: "::ffff:127.0.0.1", Connected: utc(9, 10, 39, 0), LastActivity: now.Add(-23*time.Second - 850*time.Millisecond)}
	want := sessionview.Session{ID: 9, User: "maxuser", Remote: "::ffff:127.0.0.1", Service: "RW-Split-Router",
		State: "Session ready for routing", Connected: "Mon Jul 17 11:10:39 2017", LastActivity: now.UnixMilli() - 23850}
	tests := []struct {
		name string
		edit func(*core.Session)
		want func(*sessionview.Session)
	}{
		{"seed", func(*core.Session) {}, func(*sessionview.Session) {}},
		{"connected in another zone, padded day", func(s *core.Session) {
			s.Connected = time.Date(2017, 7, 2, 6, 34, 5, 0, time.FixedZone("IST", 5*3600+1800))
		}, func(v *sessionview.Session) { v.Connected = "Sun Jul  2 03:04:05 2017" }},
		{"backend and traffic", func(s *core.Session) {
			s.Backends = []core.BackendConn{{Server: "server1", ThreadID: 77}, {Server: "server2", ThreadID: 5}}
			s.Traffic = core.Traffic{BytesIn: 10, BytesOut: 20, Queries: 3}
			s.IOActivity = 4
		}, func(v *sessionview.Session) {
			v.Server, v.ServerConn, v.BytesIn, v.BytesOut, v.Queries, v.IO = "server1", 77, 10, 20, 3, 4
		}},
		{"running statement", func(s *core.Session) {
			s.LastStatement = core.Statement{Text: "SELECT SLEEP(5)", Received: now.Add(-time.Second)}
		}, func(v *sessionview.Session) {
			v.Statement, v.StatementAt, v.StatementMS = "SELECT SLEEP(5)", now.UnixMilli()-1000, -1
		}},
		{"answered statement", func(s *core.Session) {
			s.LastStatement = core.Statement{Text: "SELECT 1", Received: now.Add(-time.Second), Completed: now.Add(-990 * time.Millisecond)}
		}, func(v *sessionview.Session) {
			v.Statement, v.StatementAt, v.StatementMS = "SELECT 1", now.UnixMilli()-1000, 10
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, w := base, want
			tt.edit(&s)
			tt.want(&w)
			if got := web.SessionOf(s); got != w {
				t.Errorf("SessionOf = %+v\nwant        %+v", got, w)
			}
		})
	}
}
