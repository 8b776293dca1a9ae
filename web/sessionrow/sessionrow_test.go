package sessionrow_test

import (
	"flag"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-db/portico/web/sessionrow"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		row  sessionrow.Row
	}{
		{"ready", sessionrow.Row{ID: "9", User: "maxuser", Remote: "::ffff:127.0.0.1", Service: "RW-Split-Router",
			State: "Session ready for routing", Connected: "Mon Jul 17 11:10:39 2017", Idle: "23.8"}},
		{"hostile", sessionrow.Row{ID: "10", User: `<script>alert("x")</script>`, Remote: "a&b'c", Service: "s",
			State: "Session Allocated", Connected: "Mon Jul 17 11:11:37 2017", Idle: "0"}},
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

func FuzzEscapeMatchesStdlib(f *testing.F) {
	f.Add(`<a href="x">&'</a>`)
	f.Fuzz(func(t *testing.T, s string) {
		got := sessionrow.Row{User: s}.HTML()
		// The user cell must hold exactly the stdlib-escaped text.
		cell := `<td data-testid="session-user">` + html.EscapeString(s) + `</td>`
		if !strings.Contains(got, cell) {
			t.Fatalf("row %q lacks %q", got, cell)
		}
	})
}
