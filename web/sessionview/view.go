package sessionview

import (
	"cmp"
	"strings"
)

// StreamColumns are the fields the sessions table asks the stream for, in
// the order its rows carry them: only what the rows show, which keeps a
// 10,000-session snapshot small. state comes first so that the client counts
// sessions by state without decoding rows.
var StreamColumns = []string{"state", "user", "remote", "connected", "last_activity", "io_activity", "bytes_in", "bytes_out",
	"queries_total", "connections", "last_statement", "services"}

// StreamPath is the session stream's path and query for columns in the rows
// format. The page names it so that its loader can open the stream while
// the client is still compiling.
func StreamPath(columns []string) string {
	return "/v1/sessions/stream?format=rows&fields%5Bsessions%5D=" + strings.Join(columns, ",")
}

// Column is one column of the sessions table.
type Column struct {
	// Key names the column in ?sort= and in data-testid="session-KEY".
	Key     string
	Label   string
	Numeric bool
}

// Columns are the table's columns, in cell order. A last, unlabelled column
// holds the kill button.
var Columns = []Column{
	{Key: "id", Label: "ID", Numeric: true},
	{Key: "user", Label: "User@remote"},
	{Key: "service", Label: "Service"},
	{Key: "server", Label: "Backend"},
	{Key: "state", Label: "State"},
	{Key: "connected", Label: "Connected"},
	{Key: "idle", Label: "Idle (s)", Numeric: true},
	{Key: "io", Label: "I/O", Numeric: true},
	{Key: "in", Label: "In", Numeric: true},
	{Key: "out", Label: "Out", Numeric: true},
	{Key: "queries", Label: "Queries", Numeric: true},
	{Key: "statement", Label: "Statement"},
}

// View is the table's sort order and filters, as the page URL carries them:
// ?q=&service=&server=&state=&user=&sort=[-]KEY.
type View struct {
	// Sort is a column key, "id" if none; Desc reverses it.
	Sort string
	Desc bool
	// Query is the free-text search, matched case-insensitively anywhere
	// in the id, user, remote, service, backend, state and statement.
	Query string
	// Service, Server, State (a state key) and User match exactly.
	Service, Server, State, User string
}

// URL parameter names, in the order Encode writes them.
var params = []string{"q", "service", "server", "state", "user", "sort"}

// ParseView reads a view from URL parameters through get, which returns ""
// for an absent one. An unknown sort key falls back to the id: a shared link
// from a newer version should still open.
func ParseView(get func(name string) string) View {
	v := View{
		Query:   strings.TrimSpace(get("q")),
		Service: get("service"), Server: get("server"), State: get("state"), User: get("user"),
		Sort: "id",
	}
	sort := get("sort")
	if strings.HasPrefix(sort, "-") {
		v.Desc, sort = true, sort[1:]
	}
	for _, c := range Columns {
		if c.Key == sort {
			v.Sort = sort
			return v
		}
	}
	v.Desc = false
	return v
}

// Param returns the view's value of a URL parameter.
func (v View) Param(name string) string {
	switch name {
	case "q":
		return v.Query
	case "service":
		return v.Service
	case "server":
		return v.Server
	case "state":
		return v.State
	case "user":
		return v.User
	case "sort":
		if v.Sort == "id" && !v.Desc {
			return ""
		}
		if v.Desc {
			return "-" + v.Sort
		}
		return v.Sort
	}
	return ""
}

// Encode is the view as a URL query ("" for the default view, else
// "?..."), leaving out empty parameters.
func (v View) Encode() string {
	var b strings.Builder
	for _, p := range params {
		val := v.Param(p)
		if val == "" {
			continue
		}
		if b.Len() == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p)
		b.WriteByte('=')
		queryEscape(&b, val)
	}
	return b.String()
}

// Filtered reports whether the view hides any session.
func (v View) Filtered() bool {
	return v.Query != "" || v.Service != "" || v.Server != "" || v.State != "" || v.User != ""
}

// Match reports whether the session passes the filters. haystack is
// s.Haystack(), which callers may cache.
func (v View) Match(s *Session, haystack string) bool {
	switch {
	case v.Service != "" && s.Service != v.Service,
		v.Server != "" && s.Server != v.Server,
		v.State != "" && StateKey(s.State) != v.State,
		v.User != "" && s.User != v.User:
		return false
	}
	return v.Query == "" || strings.Contains(haystack, strings.ToLower(v.Query))
}

// Compare orders two sessions by the view's column, then by id, at now
// (idle time depends on it).
func (v View) Compare(a, b *Session, now int64) int {
	var c int
	switch v.Sort {
	case "user":
		c = cmp.Or(strings.Compare(a.User, b.User), strings.Compare(a.Remote, b.Remote))
	case "service":
		c = strings.Compare(a.Service, b.Service)
	case "server":
		c = cmp.Or(strings.Compare(a.Server, b.Server), cmp.Compare(a.ServerConn, b.ServerConn))
	case "state":
		c = strings.Compare(StateKey(a.State), StateKey(b.State))
	case "idle":
		c = cmp.Compare(a.Idle(now), b.Idle(now))
	case "io":
		c = cmp.Compare(a.IO, b.IO)
	case "in":
		c = cmp.Compare(a.BytesIn, b.BytesIn)
	case "out":
		c = cmp.Compare(a.BytesOut, b.BytesOut)
	case "queries":
		c = cmp.Compare(a.Queries, b.Queries)
	case "statement":
		c = strings.Compare(a.Statement, b.Statement)
		// "connected" is id order: ids grow with every connection.
	}
	if c == 0 {
		c = cmp.Compare(a.ID, b.ID)
	}
	if v.Desc {
		return -c
	}
	return c
}

// TimeDependent reports whether the order changes as time passes without
// any change to the sessions.
func (v View) TimeDependent() bool { return v.Sort == "idle" }

// queryEscape percent-encodes s for a URL query, as url.QueryEscape does
// (net/url would pull fmt into the WASM client).
func queryEscape(b *strings.Builder, s string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
}
