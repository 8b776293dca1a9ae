// Package sessionrow renders one row of the sessions table. The server's first
// paint and the WASM client's live updates both call Row.Render, so the two can
// never drift apart.
//
// It deliberately imports nothing beyond io and strconv: the WASM client links
// it, and fmt, html/template (and so gomponents' root package) would add
// hundreds of kilobytes to every page load. Row still satisfies
// gomponents.Node, so server-side gomponents trees embed it directly.
package sessionrow

import (
	"io"
	"strings"
)

// Row is the view model of one session, already formatted for display.
type Row struct {
	ID        string
	User      string
	Remote    string
	Service   string
	State     string
	Connected string
	Idle      string
}

// Columns are the table's header labels, in cell order.
var Columns = []string{"ID", "User", "Remote", "Service", "State", "Connected", "Idle (s)"}

// DOMID is the element id of a session's row, so the client can find it
// without scanning the table.
func DOMID(sessionID string) string { return "session-" + sessionID }

// Render writes the row as a <tr>.
func (r Row) Render(w io.Writer) error {
	var b strings.Builder
	b.Grow(512)
	b.WriteString(`<tr data-testid="session-row" data-session-id="`)
	escape(&b, r.ID)
	b.WriteString(`" id="`)
	escape(&b, DOMID(r.ID))
	b.WriteString(`">`)
	cell(&b, "session-id", r.ID)
	cell(&b, "session-user", r.User)
	cell(&b, "session-remote", r.Remote)
	cell(&b, "session-service", r.Service)
	cell(&b, "session-state", r.State)
	cell(&b, "session-connected", r.Connected)
	cell(&b, "session-idle", r.Idle)
	b.WriteString(`</tr>`)
	_, err := io.WriteString(w, b.String())
	return err
}

// HTML returns the rendered row.
func (r Row) HTML() string {
	var b strings.Builder
	_ = r.Render(&b) // a strings.Builder never fails
	return b.String()
}

func cell(b *strings.Builder, testID, text string) {
	b.WriteString(`<td data-testid="`)
	b.WriteString(testID)
	b.WriteString(`">`)
	escape(b, text)
	b.WriteString(`</td>`)
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
