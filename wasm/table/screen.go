package table

import (
	"slices"
	"strconv"
	"strings"
)

// Screen remembers what the page shows of the table, so that a redraw
// touches only what changed. Rewriting the whole visible window costs the
// browser a style and layout pass over every cell; with a thousand changes
// a second spread over 10,000 sessions, a frame usually changes a handful of
// rows, and the idle ticks change one cell per row.
//
// The table body is always: a top spacer row, the window's rows, a bottom
// spacer row, so a row's position in the window is its child index minus
// one.
type Screen struct {
	ids         []uint64
	html        []string
	top, bottom int
	drawn       bool
}

// Patch brings the page from what the Screen held to a new window.
type Patch struct {
	// Full, when set, replaces the whole body (the window's rows changed
	// order or membership).
	Full string
	// Top and Bottom are new spacer heights in px, -1 if unchanged.
	Top, Bottom int
	// Rows are rows to replace, by position in the window.
	Rows []RowPatch
	// Idle are idle cells whose text alone changed.
	Idle []RowPatch
}

// RowPatch is the new HTML (or text) for the row at Index.
type RowPatch struct {
	Index int
	HTML  string
	// Cells, when set, are the row's cells that changed (Index is the
	// cell's), and Class and Selected its attributes: a row is patched in
	// place rather than replaced, so a click that spans the change (on
	// its kill button, say) is not lost with the element.
	Cells    []RowPatch
	Class    string
	Selected bool
}

// Empty reports whether the patch changes nothing.
func (p Patch) Empty() bool {
	return p.Full == "" && p.Top < 0 && p.Bottom < 0 && len(p.Rows) == 0 && len(p.Idle) == 0
}

// Window renders rows [first, first+n) of the current order at local time
// now, each on its own.
func (t *Table) Window(first, n int, now int64) (ids []uint64, html []string) {
	sn := t.ServerNow(now)
	end := min(first+n, len(t.order))
	var b strings.Builder
	for i := max(first, 0); i < end; i++ {
		e := t.order[i]
		b.Reset()
		t.row(e, sn).AppendHTML(&b)
		ids = append(ids, e.id)
		html = append(html, b.String())
	}
	return ids, html
}

// Update records the new window and returns the patch that shows it.
func (s *Screen) Update(ids []uint64, html []string, top, bottom int) Patch {
	p := Patch{Top: -1, Bottom: -1}
	if !s.drawn || !slices.Equal(ids, s.ids) {
		var b strings.Builder
		spacer(&b, top)
		for _, h := range html {
			b.WriteString(h)
		}
		spacer(&b, bottom)
		p.Full = b.String()
	} else {
		if top != s.top {
			p.Top = top
		}
		if bottom != s.bottom {
			p.Bottom = bottom
		}
		for i, h := range html {
			if h == s.html[i] {
				continue
			}
			if text, ok := idleOnly(s.html[i], h); ok {
				p.Idle = append(p.Idle, RowPatch{Index: i, HTML: text})
			} else {
				p.Rows = append(p.Rows, cellPatch(i, s.html[i], h))
			}
		}
	}
	s.ids, s.html, s.top, s.bottom, s.drawn = ids, html, top, bottom, true
	return p
}

// Forget makes the next Update redraw everything, for when the page was
// changed behind the Screen's back.
func (s *Screen) Forget() { s.drawn = false }

// spacer stands in for the rows outside the window, so that the scrollbar
// reflects the whole table.
func spacer(b *strings.Builder, px int) {
	b.WriteString(`<tr class="spacer" aria-hidden="true"><td colspan="13" style="height:`)
	b.WriteString(strconv.Itoa(px))
	b.WriteString(`px"></td></tr>`)
}

const idleCell = `<td data-testid="session-idle" class="num">`

// idleOnly reports whether two renderings of a row differ only in the idle
// cell's text, and returns the new text.
func idleOnly(old, cur string) (string, bool) {
	oi, ci := strings.Index(old, idleCell), strings.Index(cur, idleCell)
	if oi < 0 || oi != ci {
		return "", false
	}
	start := oi + len(idleCell)
	if old[:start] != cur[:start] {
		return "", false
	}
	oe, ce := strings.Index(old[start:], "</td>"), strings.Index(cur[start:], "</td>")
	if oe < 0 || ce < 0 || old[start+oe:] != cur[start+ce:] {
		return "", false
	}
	return cur[start : start+ce], true
}

// cellPatch describes a changed row by the cells that changed, or, if the
// two renderings do not line up cell for cell, as the whole new row.
func cellPatch(i int, old, cur string) RowPatch {
	whole := RowPatch{Index: i, HTML: cur}
	oOpen, oCells, ok1 := splitRow(old)
	cOpen, cCells, ok2 := splitRow(cur)
	if !ok1 || !ok2 || len(oCells) != len(cCells) {
		return whole
	}
	p := RowPatch{Index: i, Class: attr(cOpen, "class"), Selected: strings.Contains(cOpen, ` aria-selected="true"`)}
	if oOpen == cOpen {
		p.Class = attr(oOpen, "class")
	}
	for c := range cCells {
		if oCells[c] != cCells[c] {
			p.Cells = append(p.Cells, RowPatch{Index: c, HTML: cCells[c]})
		}
	}
	return p
}

// splitRow splits a rendered row into its opening tag and its cells. Cell
// text is escaped, so "</td>" only ever ends a cell.
func splitRow(html string) (open string, cells []string, ok bool) {
	end := strings.IndexByte(html, '>')
	if end < 0 || !strings.HasPrefix(html, "<tr") || !strings.HasSuffix(html, "</tr>") {
		return "", nil, false
	}
	open, inner := html[:end+1], html[end+1:len(html)-len("</tr>")]
	for inner != "" {
		j := strings.Index(inner, "</td>")
		if j < 0 {
			return "", nil, false
		}
		cells = append(cells, inner[:j+len("</td>")])
		inner = inner[j+len("</td>"):]
	}
	return open, cells, true
}

// attr returns an attribute's value in an opening tag, "" if absent.
func attr(tag, name string) string {
	i := strings.Index(tag, " "+name+`="`)
	if i < 0 {
		return ""
	}
	v := tag[i+len(name)+3:]
	if j := strings.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return ""
}
