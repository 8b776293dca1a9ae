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
	// Cipher is the TLS cipher suite of the connection, empty if it is
	// not encrypted.
	Cipher string
}

// Session is a point-in-time copy of a live session. Copies are handed out
// freely; the registry owns the live value.
type Session struct {
	ID      SessionID
	Service string
	State   State
	User    string
	// Database is the default database the client named when it logged in
	// (handshake or COM_CHANGE_USER). USE statements are not followed.
	Database string
	Remote   string
	// Port is the client's TCP port.
	Port int
	// Attributes are the client's connection attributes (CLIENT_CONNECT_ATTRS)
	// from its login or last COM_CHANGE_USER, nil if it sent none or they
	// were too long to keep. The map is never changed once set, so copies
	// share it.
	Attributes map[string]string
	// ClientCipher is the TLS cipher suite of the client connection, empty
	// if it is not encrypted.
	ClientCipher string
	Connected    time.Time
	// LastActivity is the last time bytes moved in either direction. It is
	// refreshed without a revision bump because it changes every packet.
	LastActivity time.Time
	// Modified is when the registry last published a change to the session.
	Modified time.Time
	Backends []BackendConn
	// Log says which log levels are written for this session.
	Log LogFlags
	// Memory is what Portico holds in memory for the session.
	Memory Memory

	// The fields below are counted outside the registry lock and never bump
	// the revision: they change with every packet.

	// Busy is set while a client command waits for its reply.
	Busy bool
	// Traffic counts the client side of the session.
	Traffic Traffic
	// IOActivity is how many socket reads returned data, on the client and
	// backend connections together, in the last IOWindow.
	IOActivity int
	// Statements are the last statements kept for the session, oldest first.
	Statements []Statement
	// LastStatement is the session's newest statement, running or answered,
	// whether or not Statements keeps any; zero Received if there was none.
	LastStatement Statement
}

// Traffic counts what passed between the client and Portico.
type Traffic struct {
	BytesIn, BytesOut     uint64 // read from and written to the client
	PacketsIn, PacketsOut uint64
	// Queries counts the client's COM_QUERY, COM_STMT_EXECUTE and
	// COM_STMT_BULK_EXECUTE commands: statements it had executed.
	Queries uint64
}

// Memory is what Portico holds in memory for a session, in bytes.
type Memory struct {
	// ClientBuffer and BackendBuffer are the read buffers of the two
	// connections; relayed bytes are written straight out of them.
	ClientBuffer  int
	BackendBuffer int
	// Capture holds the start of each packet, for finding commands and the
	// end of replies and for statement texts.
	Capture int
	// Statements is the retained statement history.
	Statements int
}

// Total is the sum of all of them.
func (m Memory) Total() int { return m.ClientBuffer + m.BackendBuffer + m.Capture + m.Statements }

// Statement is one client statement kept in a session's history.
type Statement struct {
	// Command is the command's name, "COM_QUERY" or "COM_STMT_PREPARE".
	Command string
	// Text is the statement, cut to a bounded length.
	Text     string
	Received time.Time
	// Completed is when the reply ended; zero while it has not.
	Completed time.Time
	// Server is the server that answered.
	Server string
}

// LogFlags are a session's log levels, as MaxScale's session parameters
// log_info, log_notice, log_warning and log_error.
type LogFlags struct {
	Info, Notice, Warning, Error bool
}

// DefaultLogFlags match MaxScale's defaults: everything but info.
var DefaultLogFlags = LogFlags{Notice: true, Warning: true, Error: true}

// Idle is the time since the last I/O, rounded down to 0.1 s as MaxScale
// reports it. A session whose command is still running is not idle, however
// long the server takes to answer.
func (s Session) Idle(now time.Time) time.Duration {
	if s.Busy {
		return 0
	}
	d := now.Sub(s.LastActivity)
	if d < 0 {
		return 0
	}
	return d.Truncate(100 * time.Millisecond)
}

func (s Session) clone() Session {
	s.Backends = append([]BackendConn(nil), s.Backends...)
	s.Statements = nil // the history lives in the registry entry
	return s
}

// ConnectedLayout is how MaxScale prints a session's connect time ("Mon Jul
// 17 11:10:39 2017"): C's asctime, which pads the day with a space. API
// consumers parse it, so every Portico surface uses it.
const ConnectedLayout = "Mon Jan _2 15:04:05 2006"
