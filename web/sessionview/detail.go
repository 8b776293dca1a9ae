package sessionview

import (
	"io"
	"strconv"
	"strings"
)

// Detail is everything the detail view shows of one session.
type Detail struct {
	Session
	// Now is the moment, Unix ms.
	Now      int64
	Port     int
	Database string
	// Attributes are the client's connection attributes, sorted by name.
	Attributes  []Pair
	Connections []Conn
	// Statements are the retained statements, oldest first.
	Statements []Statement
	Log        LogFlags
	PacketsIn  uint64
	PacketsOut uint64
	// Memory is what Portico holds for the session, in bytes.
	Memory uint64
	// Gone is set once the session has ended.
	Gone bool
}

// Pair is a named value.
type Pair struct{ Name, Value string }

// Conn is a backend connection.
type Conn struct {
	Server string
	ID     uint32
}

// Statement is a retained statement as the API prints it.
type Statement struct {
	Command, Text string
	// Received is as the API prints it (local time, milliseconds).
	Received string
	// MS is how long the reply took, -1 while it runs.
	MS     int64
	Server string
}

// LogFlags are the session's log levels.
type LogFlags struct{ Info, Notice, Warning, Error bool }

// LogFlagNames are the API parameter names, in the order the view shows them.
var LogFlagNames = []string{"log_info", "log_notice", "log_warning", "log_error"}

func (l LogFlags) get(i int) bool { return [...]bool{l.Info, l.Notice, l.Warning, l.Error}[i] }

// Render writes the detail view.
func (d Detail) Render(w io.Writer) error {
	_, err := io.WriteString(w, d.HTML())
	return err
}

// HTML returns the rendered detail view.
func (d Detail) HTML() string {
	var b strings.Builder
	b.Grow(4096)
	s := &d.Session
	id := strconv.FormatUint(s.ID, 10)
	b.WriteString(`<section class="detail" data-testid="session-detail" data-session-id="`)
	b.WriteString(id)
	b.WriteString(`" aria-label="Session `)
	b.WriteString(id)
	b.WriteString(`">`)
	if d.Gone {
		b.WriteString(`<p class="gone" role="status" data-testid="detail-gone">This session has ended.</p>`)
	}

	b.WriteString(`<dl class="fields">`)
	field(&b, "id", "ID", id)
	field(&b, "user", "User", s.User)
	field(&b, "remote", "Remote", s.Remote)
	if d.Port != 0 {
		field(&b, "port", "Port", strconv.Itoa(d.Port))
	}
	field(&b, "service", "Service", s.Service)
	field(&b, "database", "Database", d.Database)
	b.WriteString(`<dt>State</dt><dd data-testid="detail-state">`)
	Badge{State: s.State}.write(&b)
	b.WriteString(` <span class="muted">`)
	escape(&b, s.State)
	b.WriteString(`</span></dd>`)
	field(&b, "connected", "Connected", s.Connected)
	field(&b, "idle", "Idle (s)", FormatIdle(s.Idle(d.Now)))
	field(&b, "io", "I/O activity (30 s)", strconv.FormatInt(s.IO, 10))
	field(&b, "bytes", "Bytes in / out", FormatBytes(s.BytesIn)+" / "+FormatBytes(s.BytesOut))
	field(&b, "packets", "Packets in / out", strconv.FormatUint(d.PacketsIn, 10)+" / "+strconv.FormatUint(d.PacketsOut, 10))
	field(&b, "queries", "Queries", strconv.FormatUint(s.Queries, 10))
	field(&b, "memory", "Memory", FormatBytes(d.Memory))
	b.WriteString(`</dl>`)

	b.WriteString(`<h2>Current or last statement</h2><div class="statement" data-testid="detail-statement">`)
	if s.StatementAt == 0 {
		b.WriteString(`<p class="muted">No statement yet.</p>`)
	} else {
		if s.Running() {
			b.WriteString(`<p><span class="dur running">running for `)
			b.WriteString(FormatMS(d.Now - s.StatementAt))
		} else {
			b.WriteString(`<p><span class="dur">took `)
			b.WriteString(FormatMS(s.StatementMS))
		}
		b.WriteString(`</span></p><pre>`)
		escape(&b, s.Statement)
		b.WriteString(`</pre>`)
	}
	b.WriteString(`</div>`)

	b.WriteString(`<h2>Backend connections</h2><table class="mini" data-testid="detail-connections"><thead><tr><th scope="col">Server</th><th scope="col">Connection id</th></tr></thead><tbody>`)
	for _, c := range d.Connections {
		b.WriteString(`<tr><td>`)
		escape(&b, c.Server)
		b.WriteString(`</td><td class="num">`)
		b.WriteString(strconv.FormatUint(uint64(c.ID), 10))
		b.WriteString(`</td></tr>`)
	}
	if len(d.Connections) == 0 {
		b.WriteString(`<tr><td colspan="2" class="muted">None</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)

	b.WriteString(`<h2>Log levels</h2><fieldset class="log-flags" data-testid="log-flags"><legend class="sr-only">Log levels for this session</legend>`)
	for i, name := range LogFlagNames {
		b.WriteString(`<label><input type="checkbox" name="`)
		b.WriteString(name)
		b.WriteString(`" data-testid="log-flag-`)
		b.WriteString(strings.TrimPrefix(name, "log_"))
		b.WriteByte('"')
		if d.Log.get(i) {
			b.WriteString(` checked`)
		}
		b.WriteString(`> `)
		b.WriteString(strings.TrimPrefix(name, "log_"))
		b.WriteString(`</label>`)
	}
	b.WriteString(`</fieldset>`)

	b.WriteString(`<h2>Last statements</h2><table class="mini" data-testid="detail-statements"><thead><tr><th scope="col">Received</th><th scope="col">Command</th><th scope="col">Statement</th><th scope="col">Time</th><th scope="col">Server</th></tr></thead><tbody>`)
	for i := len(d.Statements) - 1; i >= 0; i-- { // newest first
		st := d.Statements[i]
		b.WriteString(`<tr><td>`)
		escape(&b, strings.Replace(st.Received, "T", " ", 1))
		b.WriteString(`</td><td>`)
		escape(&b, st.Command)
		b.WriteString(`</td><td class="stmt" title="`)
		escape(&b, st.Text)
		b.WriteString(`">`)
		escape(&b, cut(st.Text, statementCut))
		b.WriteString(`</td><td class="num">`)
		if st.MS < 0 {
			b.WriteString(`running`)
		} else {
			b.WriteString(FormatMS(st.MS))
		}
		b.WriteString(`</td><td>`)
		escape(&b, st.Server)
		b.WriteString(`</td></tr>`)
	}
	if len(d.Statements) == 0 {
		b.WriteString(`<tr><td colspan="5" class="muted">None retained (retain_last_statements)</td></tr>`)
	}
	b.WriteString(`</tbody></table>`)

	b.WriteString(`<h2>Connection attributes</h2><table class="mini" data-testid="detail-attributes"><tbody>`)
	for _, p := range d.Attributes {
		b.WriteString(`<tr><th scope="row">`)
		escape(&b, p.Name)
		b.WriteString(`</th><td>`)
		escape(&b, p.Value)
		b.WriteString(`</td></tr>`)
	}
	if len(d.Attributes) == 0 {
		b.WriteString(`<tr><td class="muted">None sent</td></tr>`)
	}
	b.WriteString(`</tbody></table></section>`)
	return b.String()
}

func field(b *strings.Builder, key, label, value string) {
	b.WriteString(`<dt>`)
	b.WriteString(label)
	b.WriteString(`</dt><dd data-testid="detail-`)
	b.WriteString(key)
	b.WriteString(`">`)
	escape(b, value)
	b.WriteString(`</dd>`)
}
