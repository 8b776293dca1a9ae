package main

import (
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
	"github.com/portico-db/portico/server/users"
	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web"
	"github.com/portico-db/portico/web/sessionview"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestRowRendersAlikeOnServerAndClient is the dashboard's first-paint
// guarantee end to end: a session's row as the server's page renders it is,
// byte for byte, the row the WASM client's table renders from the stream's
// rows format, and both equal the golden file.
func TestRowRendersAlikeOnServerAndClient(t *testing.T) {
	// Times are pinned, and the client's clock is the server's.
	at := time.Date(2017, 7, 17, 9, 12, 0, 0, time.UTC)
	reg := core.NewRegistry(func() time.Time { return at })
	h := reg.Open(core.Session{Service: "RW-Split-Router", Remote: "::ffff:127.0.0.1", Port: 51234,
		Connected: at.Add(-time.Hour)})
	h.Update(func(s *core.Session) {
		s.State, s.User = core.StateReady, `<b>"maxuser"</b>`
		s.Backends = []core.BackendConn{{Server: "server1", ThreadID: 77}}
	})
	h.CountIn(300, 4)
	h.CountOut(1_234_567, 11)
	h.CountQuery()
	h.IO(at.Add(-2 * time.Second))
	h.Touch(at.Add(-2*time.Second - 350*time.Millisecond))
	h.StatementReceived("COM_QUERY", `SELECT SLEEP(20) /* 'quoted' & "more" */`, at.Add(-3*time.Second-250*time.Millisecond))
	reg.PublishActivity()

	store, err := users.Open(filepath.Join(t.TempDir(), "passwd.json"), users.Options{Cost: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add("admin", "mariadb", users.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	topo := &core.Topology{Services: []core.Service{{Name: "RW-Split-Router", Router: "readconnroute", Servers: []string{"server1"}}},
		Servers: []core.Server{{Name: "server1", Address: "127.0.0.1", Port: 3306}}}
	logger := slog.New(slog.DiscardHandler)
	pages := web.NewPages(reg, topo, nil, nil, nil, logger)
	api := server.New(server.Config{Sessions: reg, Topology: topo, Users: store, InsecureGUI: true,
		Pages: pages, Login: pages, Logger: logger, StreamInterval: 10 * time.Millisecond})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	auth := http.Header{"Authorization": {adminAuth()}}

	// The server's render: the row in the home page.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
	req.Header = auth
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	serverRow := regexp.MustCompile(`<tr data-testid="session-row".*?</tr>`).FindString(string(page))
	if serverRow == "" {
		t.Fatalf("no row in the page:\n%s", page)
	}

	// The client's render: the stream's rows, through the client's table.
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http")+sessionview.StreamPath(table.Columns),
		&websocket.DialOptions{HTTPHeader: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, msg, err := ws.Read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var snap struct {
		Type string   `json:"type"`
		Data []string `json:"data"`
	}
	if err := json.Unmarshal(msg, &snap); err != nil || snap.Type != "snapshot" {
		t.Fatalf("first frame %s: %v", msg, err)
	}
	tb := table.New(table.Columns, sessionview.View{Sort: "id"})
	tb.Apply(table.Frame{Type: "snapshot", Rows: strings.Join(snap.Data, "\x1e")}, at.UnixMilli())
	tb.Rows(at.UnixMilli())
	var client strings.Builder
	tb.Render(&client, 0, 1, at.UnixMilli())

	if client.String() != serverRow {
		t.Errorf("client row differs from the server's\nclient: %s\nserver: %s", client.String(), serverRow)
	}
	// The connected time prints in the machine's zone, which the golden
	// file cannot know (and time.Local is not the test's to change: other
	// goroutines read it).
	zoneFree := regexp.MustCompile(`(data-testid="session-connected" title=")[^"]*(">)[^<]*`).ReplaceAllString(serverRow, "${1}CONNECTED${2}HH:MM:SS")
	golden := filepath.Join("testdata", "row.golden.html")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(zoneFree), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if zoneFree != string(want) {
		t.Errorf("row differs from %s\ngot:  %s\nwant: %s", golden, zoneFree, want)
	}
}
