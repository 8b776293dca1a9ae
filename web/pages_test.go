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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/web"
	"github.com/portico-db/portico/web/sessionrow"
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

func newFixture(fill func(t *testing.T, clk *clock, reg *core.Registry)) func(t *testing.T) fixture {
	return func(t *testing.T) fixture {
		clk := &clock{t: utc(9, 0, 0, 0)}
		reg := core.NewRegistry(clk.Now)
		if fill != nil {
			fill(t, clk, reg)
		}
		return fixture{clk: clk, reg: reg, pages: web.NewPages(reg, slog.New(slog.DiscardHandler))}
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

var tbodyRE = regexp.MustCompile(`(?s)<tbody id="session-rows" data-rev="([0-9]+)">(.*?)</tbody>`)

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
					` id="stream-status"`,
					`data-testid="session-count" id="session-count">` + strconv.Itoa(len(tt.ids)) + `</span>`,
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
				if n := strings.Count(page, `data-testid="session-user"`); n != len(tt.ids) {
					t.Errorf("%d session-user cells, want %d", n, len(tt.ids))
				}
			})

			// The shared-markup guarantee: the server's first paint is, byte
			// for byte, the rows the WASM client renders from the same data.
			t.Run("rows are sessionrow's markup", func(t *testing.T) {
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
					row := web.RowOf(s, f.clk.Now()).HTML()
					if !strings.Contains(m[2], row) {
						t.Errorf("session %d: row missing from the page:\n%s", s.ID, row)
					}
					want.WriteString(row)
				}
				if m[2] != want.String() {
					t.Errorf("tbody content differs from sessionrow's rows\ngot:  %s\nwant: %s", m[2], want.String())
				}
			})
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
		{"user", `<script>alert("x")</script>`, `<td data-testid="session-user">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</td>`},
		{"remote", `a&b'c`, `<td data-testid="session-remote">a&amp;b&#39;c</td>`},
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
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodGet, "/index.html", http.StatusNotFound},
		{http.MethodGet, "/sessions/9", http.StatusNotFound},
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

func TestRowOf(t *testing.T) {
	now := utc(10, 0, 0, 0)
	base := core.Session{ID: 9, Service: "RW-Split-Router", State: core.StateReady, User: "maxuser",
		Remote: "::ffff:127.0.0.1", Connected: utc(9, 10, 39, 0), LastActivity: now.Add(-23*time.Second - 850*time.Millisecond)}
	tests := []struct {
		name string
		edit func(*core.Session)
		want sessionrow.Row
	}{
		{"seed", func(*core.Session) {}, sessionrow.Row{ID: "9", User: "maxuser", Remote: "::ffff:127.0.0.1",
			Service: "RW-Split-Router", State: "Session ready for routing", Connected: "Mon Jul 17 11:10:39 2017", Idle: "23.8"}},
		{"idle zero has one decimal", func(s *core.Session) { s.LastActivity = now }, sessionrow.Row{ID: "9", User: "maxuser",
			Remote: "::ffff:127.0.0.1", Service: "RW-Split-Router", State: "Session ready for routing",
			Connected: "Mon Jul 17 11:10:39 2017", Idle: "0.0"}},
		{"future activity is idle zero", func(s *core.Session) { s.LastActivity = now.Add(time.Minute) }, sessionrow.Row{ID: "9",
			User: "maxuser", Remote: "::ffff:127.0.0.1", Service: "RW-Split-Router", State: "Session ready for routing",
			Connected: "Mon Jul 17 11:10:39 2017", Idle: "0.0"}},
		{"connected in another zone, padded day", func(s *core.Session) {
			s.Connected = time.Date(2017, 7, 2, 6, 34, 5, 0, time.FixedZone("IST", 5*3600+1800))
		}, sessionrow.Row{ID: "9", User: "maxuser", Remote: "::ffff:127.0.0.1", Service: "RW-Split-Router",
			State: "Session ready for routing", Connected: "Sun Jul  2 03:04:05 2017", Idle: "23.8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.edit(&s)
			if got := web.RowOf(s, now); got != tt.want {
				t.Errorf("RowOf = %+v\nwant    %+v", got, tt.want)
			}
		})
	}
}
