package sessionview_test

import (
	"flag"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-db/portico/web/sessionview"
)

var update = flag.Bool("update", false, "rewrite golden files")

// t0 is 2017-07-17T09:12:00Z in Unix ms.
const t0 = 1500282720000

func TestRowGolden(t *testing.T) {
	ready := sessionview.Session{ID: 9, User: "maxuser", Remote: "::ffff:127.0.0.1", Service: "RW-Split-Router",
		Server: "server1", ServerConn: 77, State: "Session ready for routing", Connected: "Mon Jul 17 11:10:39 2017",
		LastActivity: t0 - 23_850, IO: 2, BytesIn: 300, BytesOut: 1_234_567, Queries: 2,
		Statement: "SELECT 1", StatementAt: t0 - 23_900, StatementMS: 12}
	running := ready
	running.ID, running.Statement, running.StatementAt, running.StatementMS = 11, "SELECT SLEEP(20)", t0-3_250, -1
	tests := []struct {
		name string
		row  sessionview.Row
	}{
		{"ready", sessionview.Row{Session: &ready, Now: t0}},
		{"running", sessionview.Row{Session: &running, Now: t0, Mark: sessionview.Changed, Selected: true}},
		{"hostile", sessionview.Row{Session: &sessionview.Session{ID: 10, User: `<script>alert("x")</script>`, Remote: "a&b'c",
			Service: "s", State: "Session Allocated", Connected: "Mon Jul 17 11:11:37 2017",
			Statement: `SELECT "<b>"` + strings.Repeat("x", 200), StatementAt: t0 - 1000, StatementMS: 1500}, Now: t0, Mark: sessionview.Added}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.row.HTML()
			path := filepath.Join("testdata", tt.name+".golden.html")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestIdle(t *testing.T) {
	tests := []struct {
		name string
		s    sessionview.Session
		want float64
	}{
		{"rounds down to 0.1 s", sessionview.Session{LastActivity: t0 - 23_890}, 23.8},
		{"not idle while a statement runs", sessionview.Session{LastActivity: t0 - 5000, StatementAt: t0 - 5000, StatementMS: -1}, 0},
		{"answered statement", sessionview.Session{LastActivity: t0 - 5000, StatementAt: t0 - 6000, StatementMS: 1000}, 5},
		{"clock behind", sessionview.Session{LastActivity: t0 + 500}, 0},
		{"no activity known", sessionview.Session{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Idle(t0); got != tt.want {
				t.Fatalf("Idle = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{sessionview.FormatBytes(0), "0 B"},
		{sessionview.FormatBytes(999), "999 B"},
		{sessionview.FormatBytes(1000), "1.0 kB"},
		{sessionview.FormatBytes(1_234_567), "1.2 MB"},
		{sessionview.FormatBytes(12_345_678), "12 MB"},
		{sessionview.FormatBytes(999_999), "1.0 MB"},
		{sessionview.FormatMS(12), "12 ms"},
		{sessionview.FormatMS(3456), "3.4 s"},
		{sessionview.FormatMS(307_000), "5m 07s"},
		{sessionview.FormatMS(7_500_000), "2h 05m"},
		{sessionview.FormatMS(-5), "0 ms"},
		{sessionview.ClockTime("Mon Jul 17 11:10:39 2017"), "11:10:39"},
		{sessionview.ClockTime("yesterday"), "yesterday"},
		{sessionview.FormatIdle(23.8), "23.8"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func FuzzEscapeMatchesStdlib(f *testing.F) {
	f.Add(`<a href="x">&'</a>`)
	f.Fuzz(func(t *testing.T, s string) {
		got := sessionview.Row{Session: &sessionview.Session{Service: s}}.HTML()
		// The service cell must hold exactly the stdlib-escaped text.
		cell := `<td data-testid="session-service">` + html.EscapeString(s) + `</td>`
		if !strings.Contains(got, cell) {
			t.Fatalf("row %q lacks %q", got, cell)
		}
	})
}
