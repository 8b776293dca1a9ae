package sessionview

import (
	"io"
	"strconv"
	"strings"
)

// Mark tells the client's reader that a row just changed.
type Mark uint8

const (
	Unmarked Mark = iota
	Added
	Changed
	Removed
)

var markClass = [...]string{Added: "row-added", Changed: "row-changed", Removed: "row-removed"}

// RowHeight is every row's height in CSS pixels. The client's virtual
// scrolling computes the visible window from it, and portico.css pins rows
// to it.
const RowHeight = 28

// statementCut is how much of a statement a cell holds; the whole text is
// in its title.
const statementCut = 160

// Row is one row of the sessions table at a moment.
type Row struct {
	*Session
	// Now is the moment, Unix ms: idle and statement times are as of it.
	Now      int64
	Mark     Mark
	Selected bool
}

// DOMID is the element id of a session's row.
func DOMID(id uint64) string { return "session-" + strconv.FormatUint(id, 10) }

// DetailURL is the path of a session's detail page.
func DetailURL(id uint64) string { return "/sessions/" + strconv.FormatUint(id, 10) }

// Render writes the row as a <tr>.
func (r Row) Render(w io.Writer) error {
	var b strings.Builder
	b.Grow(1024)
	r.write(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// HTML returns the rendered row.
func (r Row) HTML() string {
	var b strings.Builder
	r.write(&b)
	return b.String()
}

// AppendHTML appends the rendered row to b; the client renders a window of
// rows into one builder.
func (r Row) AppendHTML(b *strings.Builder) { r.write(b) }

func (r Row) write(b *strings.Builder) {
	s := r.Session
	id := strconv.FormatUint(s.ID, 10)
	b.WriteString(`<tr data-testid="session-row" data-session-id="`)
	b.WriteString(id)
	b.WriteString(`" id="session-`)
	b.WriteString(id)
	b.WriteByte('"')
	if c := markClass[min(int(r.Mark), len(markClass)-1)]; c != "" || r.Selected {
		b.WriteString(` class="`)
		b.WriteString(c)
		if r.Selected {
			if c != "" {
				b.WriteByte(' ')
			}
			b.WriteString("selected")
		}
		b.WriteByte('"')
	}
	if r.Selected {
		b.WriteString(` aria-selected="true"`)
	}
	b.WriteByte('>')

	b.WriteString(`<td data-testid="session-id"><a href="`)
	b.WriteString(DetailURL(s.ID))
	b.WriteString(`">`)
	b.WriteString(id)
	b.WriteString(`</a></td>`)

	b.WriteString(`<td data-testid="session-user" title="`)
	escape(b, s.User)
	b.WriteByte('@')
	escape(b, s.Remote)
	b.WriteString(`"><span class="user">`)
	escape(b, s.User)
	b.WriteString(`</span><span class="remote">@`)
	escape(b, s.Remote)
	b.WriteString(`</span></td>`)

	textCell(b, "session-service", "", s.Service)

	b.WriteString(`<td data-testid="session-server">`)
	escape(b, s.Server)
	if s.ServerConn != 0 {
		b.WriteString(` <span class="conn">#`)
		b.WriteString(strconv.FormatUint(uint64(s.ServerConn), 10))
		b.WriteString(`</span>`)
	}
	b.WriteString(`</td>`)

	b.WriteString(`<td data-testid="session-state">`)
	Badge{State: s.State}.write(b)
	b.WriteString(`</td>`)

	b.WriteString(`<td data-testid="session-connected" title="`)
	escape(b, s.Connected)
	b.WriteString(`">`)
	escape(b, ClockTime(s.Connected))
	b.WriteString(`</td>`)

	textCell(b, "session-idle", "num", FormatIdle(s.Idle(r.Now)))
	textCell(b, "session-io", "num", strconv.FormatInt(s.IO, 10))
	textCell(b, "session-in", "num", FormatBytes(s.BytesIn))
	textCell(b, "session-out", "num", FormatBytes(s.BytesOut))
	textCell(b, "session-queries", "num", strconv.FormatUint(s.Queries, 10))

	b.WriteString(`<td data-testid="session-statement" class="stmt"`)
	if s.StatementAt != 0 {
		b.WriteString(` title="`)
		escape(b, s.Statement)
		b.WriteString(`">`)
		if s.Running() {
			b.WriteString(`<span class="dur running">`)
			b.WriteString(FormatMS(r.Now - s.StatementAt))
		} else {
			b.WriteString(`<span class="dur">`)
			b.WriteString(FormatMS(s.StatementMS))
		}
		b.WriteString(`</span>`)
		escape(b, cut(s.Statement, statementCut))
	} else {
		b.WriteByte('>')
	}
	b.WriteString(`</td>`)

	b.WriteString(`<td class="act"><button type="button" class="kill" data-testid="kill-button" data-kill="`)
	b.WriteString(id)
	b.WriteString(`" aria-label="Kill session `)
	b.WriteString(id)
	b.WriteString(`" title="Kill session `)
	b.WriteString(id)
	b.WriteString(`">Kill</button></td></tr>`)
}

func textCell(b *strings.Builder, testID, class, text string) {
	b.WriteString(`<td data-testid="`)
	b.WriteString(testID)
	if class != "" {
		b.WriteString(`" class="`)
		b.WriteString(class)
	}
	b.WriteString(`">`)
	escape(b, text)
	b.WriteString(`</td>`)
}

// Badge is a session state, shown briefly with the full MaxScale text on
// hover.
type Badge struct{ State string }

// Render writes the badge as a <span>.
func (g Badge) Render(w io.Writer) error {
	var b strings.Builder
	g.write(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (g Badge) write(b *strings.Builder) {
	key := StateKey(g.State)
	b.WriteString(`<span class="badge badge-`)
	escape(b, strings.ReplaceAll(key, " ", "-"))
	b.WriteString(`" title="`)
	escape(b, g.State)
	b.WriteString(`">`)
	escape(b, key)
	b.WriteString(`</span>`)
}

// ClockTime is the hh:mm:ss of an asctime timestamp ("Mon Jul 17 11:10:39
// 2017"), or the text itself if it is not one.
func ClockTime(asctime string) string {
	if len(asctime) == 24 && asctime[13] == ':' && asctime[16] == ':' {
		return asctime[11:19]
	}
	return asctime
}

// FormatIdle prints idle seconds as the API does, to 0.1 s.
func FormatIdle(s float64) string { return strconv.FormatFloat(s, 'f', 1, 64) }

// FormatBytes prints a byte count with SI prefixes: "900 B", "1.2 kB",
// "34 MB".
func FormatBytes(n uint64) string {
	if n < 1000 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v := float64(n)
	unit := 0
	for v >= 999.95 && unit < 5 {
		v /= 1000
		unit++
	}
	prec := 1
	if v >= 9.995 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + [...]string{"B", "kB", "MB", "GB", "TB", "PB"}[unit]
}

// FormatMS prints a duration given in milliseconds: "12 ms", "3.4 s",
// "5m 07s", "2h 05m".
func FormatMS(ms int64) string {
	ms = max(ms, 0)
	switch {
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + " ms"
	case ms < 60_000:
		return strconv.FormatFloat(float64(ms/100)/10, 'f', 1, 64) + " s"
	case ms < 3_600_000:
		return strconv.FormatInt(ms/60_000, 10) + "m " + two(ms/1000%60) + "s"
	}
	return strconv.FormatInt(ms/3_600_000, 10) + "h " + two(ms/60_000%60) + "m"
}

func two(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// escape is the HTML escaping of text and attribute values. It is written out
// here because the standard html package carries its whole entity table into
// the WASM binary.
func escape(b *strings.Builder, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '&':
			rep = "&amp;"
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = i + 1
	}
	b.WriteString(s[last:])
}
