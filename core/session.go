package core

import (
	"strconv"
	"time"
)

// SessionID is the id Portico shows to clients as their connection id and to
// the API as the session resource id. Ids start at 1 and only grow.
type SessionID uint64

func (id SessionID) String() string { return strconv.FormatUint(uint64(id), 10) }

// ParseSessionID accepts only positive decimal integers, so "07", "-1" or
// "1e3" never alias a real session.
func ParseSessionID(s string) (SessionID, error) {
	if s == "" || s[0] == '0' || s[0] == '+' {
		return 0, Errorf(ENOTFOUND, "%s is not a session", s)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 {
		return 0, Errorf(ENOTFOUND, "%s is not a session", s)
	}
	return SessionID(n), nil
}

// State is a session's lifecycle stage, spelled as MaxScale spells it because
// API consumers match on these strings.
type State string

const (
	StateAllocated State = "Session Allocated"
	StateReady     State = "Session ready for routing"
	StateStopping  State = "Stopping session"
)

// BackendConn is one connection a session holds to a backend server.
type BackendConn struct {
	Server string
	// ThreadID is the backend's own connection id, the one KILL needs.
	ThreadID uint32
}

// Session is a point-in-time copy of a live session. Copies are handed out
// freely; the registry owns the live value.
type Session struct {
	ID        SessionID
	Service   string
	State     State
	User      string
	Database  string
	Remote    string
	Connected time.Time
	// LastActivity is the last time bytes moved in either direction. It is
	// refreshed without a revision bump because it changes every packet.
	LastActivity time.Time
	// Modified is when the registry last published a change to the session.
	Modified time.Time
	Backends []BackendConn
	// Log says which log levels are written for this session.
	Log LogFlags
}

// LogFlags are a session's log levels, as MaxScale's session parameters
// log_info, log_notice, log_warning and log_error.
type LogFlags struct {
	Info, Notice, Warning, Error bool
}

// DefaultLogFlags match MaxScale's defaults: everything but info.
var DefaultLogFlags = LogFlags{Notice: true, Warning: true, Error: true}

// Idle is the time since the last I/O, rounded down to 0.1 s as MaxScale
// reports it.
func (s Session) Idle(now time.Time) time.Duration {
	d := now.Sub(s.LastActivity)
	if d < 0 {
		return 0
	}
	return d.Truncate(100 * time.Millisecond)
}

func (s Session) clone() Session {
	s.Backends = append([]BackendConn(nil), s.Backends...)
	return s
}

// ConnectedLayout is how MaxScale prints a session's connect time ("Mon Jul
// 17 11:10:39 2017"): C's asctime, which pads the day with a space. API
// consumers parse it, so every Portico surface uses it.
const ConnectedLayout = "Mon Jan _2 15:04:05 2006"
