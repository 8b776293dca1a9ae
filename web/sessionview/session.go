// Package sessionview is the dashboard's view of sessions: the row, the
// state badge and the detail fields, plus the sort and filter rules of the
// sessions table. The server's first paint and the WASM client's live
// updates both render through it, so the two never drift apart: the server
// fills Session from the registry, the client from the stream.
//
// It deliberately imports nothing beyond io, slices, strconv and strings:
// the WASM client links it, and fmt, time, net/url or html/template (and so
// gomponents' root package) would add hundreds of kilobytes to every page
// load. Its components still satisfy gomponents.Node (Render(io.Writer)
// error), so server-side gomponents trees embed them directly.
package sessionview

import (
	"strconv"
	"strings"
)

// Session is what the table knows of one session. Times are Unix
// milliseconds, so that both sides compute the same text from them.
type Session struct {
	ID      uint64
	User    string
	Remote  string
	Service string
	// Server is the backend server and ServerConn the backend's connection
	// (thread) id, 0 while there is none.
	Server     string
	ServerConn uint32
	State      string
	// Connected is as the API prints it (asctime, server local time).
	Connected    string
	LastActivity int64
	IO           int64
	BytesIn      uint64
	BytesOut     uint64
	Queries      uint64
	// Statement is the newest statement's text; StatementAt when it was
	// received (0 if there was none) and StatementMS how long it took, -1
	// while it runs.
	Statement   string
	StatementAt int64
	StatementMS int64
}

// Running reports whether the session's statement is still being answered.
func (s *Session) Running() bool { return s.StatementAt != 0 && s.StatementMS < 0 }

// Idle is the session's idle seconds at now, rounded down to MaxScale's 0.1
// s; a session whose statement runs is not idle, as the API reports it.
func (s *Session) Idle(now int64) float64 {
	if s.Running() || s.LastActivity == 0 || now <= s.LastActivity {
		return 0
	}
	return float64((now-s.LastActivity)/100) / 10
}

// Haystack is what the free-text search looks in, lowercased. The client
// caches it per session rather than lowercasing every field per keystroke.
func (s *Session) Haystack() string {
	var b strings.Builder
	for _, f := range [...]string{strconv.FormatUint(s.ID, 10), s.User, s.Remote, s.Service, s.Server, StateKey(s.State), s.State, s.Statement} {
		b.WriteString(f)
		b.WriteByte(0) // so a query never matches across two fields
	}
	return strings.ToLower(b.String())
}

// State keys name MaxScale's session states briefly, for badges and filters.
const (
	StateReady     = "ready"
	StateAllocated = "allocated"
	StateStopping  = "stopping"
)

// StateKey is the brief name of a MaxScale session state; states it does not
// know are lowercased whole.
func StateKey(state string) string {
	switch state {
	case "Session ready for routing":
		return StateReady
	case "Session Allocated":
		return StateAllocated
	case "Stopping session":
		return StateStopping
	}
	return strings.ToLower(state)
}

// States are the known state keys, in lifecycle order.
var States = []string{StateAllocated, StateReady, StateStopping}
