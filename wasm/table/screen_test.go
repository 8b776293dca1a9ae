package table_test

import (
	"strings"
	"testing"

	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web/sessionview"
)

func TestScreen(t *testing.T) {
	tb := newTable(sessionview.View{Sort: "id"})
	tb.Apply(table.Frame{Type: "snapshot", Rows: rows(
		row("1", "a", "Session ready for routing", "RW"),
		row("2", "b", "Session ready for routing", "RW"),
		row("3", "c", "Session ready for routing", "RW"))}, t0)
	tb.Rows(t0)
	var s table.Screen

	// The first draw replaces everything, spacers included.
	ids, html := tb.Window(0, 2, t0)
	p := s.Update(ids, html, 0, 28)
	if !strings.HasPrefix(p.Full, `<tr class="spacer" aria-hidden="true"><td colspan="13" style="height:0px">`) ||
		!strings.HasSuffix(p.Full, `style="height:28px"></td></tr>`) || strings.Count(p.Full, `data-testid="session-row"`) != 2 {
		t.Fatalf("first patch %+v", p)
	}

	tests := []struct {
		name    string
		change  func()
		first   int
		now     int64
		check   func(t *testing.T, p table.Patch)
		nothing bool
	}{
		{name: "nothing changed", now: t0, nothing: true},
		{name: "time passes: idle cells only", now: t0 + 1000, check: func(t *testing.T, p table.Patch) {
			if p.Full != "" || len(p.Rows) != 0 || len(p.Idle) != 2 || p.Idle[0].HTML != "2.5" || p.Idle[1].Index != 1 {
				t.Fatalf("patch %+v", p)
			}
		}},
		{name: "one row changes", now: t0 + 1000, change: func() {
			tb.Apply(table.Frame{Type: "changes", Updated: row("2", "bob", "Session ready for routing", "RW")}, t0+1000)
		}, check: func(t *testing.T, p table.Patch) {
			// Patched in place: the user cell, and the row's class for
			// its change mark; the id and kill cells stay.
			if p.Full != "" || len(p.Rows) != 1 || p.Rows[0].Index != 1 || p.Rows[0].Class != "row-changed" || len(p.Rows[0].Cells) != 1 ||
				p.Rows[0].Cells[0].Index != 1 || !strings.Contains(p.Rows[0].Cells[0].HTML, "bob") {
				t.Fatalf("patch %+v", p)
			}
		}},
		{name: "scrolling redraws the body", first: 1, now: t0 + 1000, check: func(t *testing.T, p table.Patch) {
			if p.Full == "" || !strings.Contains(p.Full, `style="height:28px"`) {
				t.Fatalf("patch %+v", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				tt.change()
			}
			tb.Rows(tt.now + table.ReorderMS)
			ids, html := tb.Window(tt.first, 2, tt.now)
			p := s.Update(ids, html, tt.first*28, (3-tt.first-2)*28)
			if tt.nothing != p.Empty() {
				t.Fatalf("patch %+v, want empty: %v", p, tt.nothing)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}
