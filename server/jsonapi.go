package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/portico-db/portico/core"
)

type links struct {
	Self string `json:"self"`
}

type resourceID struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

type relationship struct {
	Links links        `json:"links"`
	Data  []resourceID `json:"data"`
}

type document[T any] struct {
	Links links `json:"links"`
	Data  T     `json:"data"`
}

// sessionResource follows the seed's field order, which MaxScale tooling and
// humans diffing outputs both rely on.
type sessionResource struct {
	ID            string                  `json:"id"`
	Type          string                  `json:"type"`
	Relationships map[string]relationship `json:"relationships"`
	Attributes    sessionAttributes       `json:"attributes"`
	Links         links                   `json:"links"`
}

// sessionAttributes starts with the seed's five keys, in its order. The
// rest are MaxScale's other session attributes, then Portico's own counters.
// What Portico cannot know is left out rather than made up: the log stays
// empty, since it has no session tracing.
type sessionAttributes struct {
	State  string `json:"state"`
	User   string `json:"user,omitempty"`
	Remote string `json:"remote"`
	// Connected is in local time, as asctime prints it.
	Connected string `json:"connected"`
	// Idle is seconds since the last read or write, and 0 while a command
	// runs.
	Idle float64 `json:"idle"`
	// Port is left out while unknown, which only happens for sessions
	// that did not come through a TCP listener.
	Port int `json:"port,omitempty"`
	// Database is null when the client named no default database, as
	// DATABASE() is.
	Database     *string             `json:"database"`
	SecondsAlive float64             `json:"seconds_alive"`
	IOActivity   int                 `json:"io_activity"`
	Connections  []sessionConnection `json:"connections"`
	Client       sessionClient       `json:"client"`
	Queries      []sessionQuery      `json:"queries"`
	Log          []string            `json:"log"`
	Parameters   sessionParameters   `json:"parameters"`
	Memory       sessionMemory       `json:"memory"`
	BytesIn      uint64              `json:"bytes_in"`
	BytesOut     uint64              `json:"bytes_out"`
	PacketsIn    uint64              `json:"packets_in"`
	PacketsOut   uint64              `json:"packets_out"`
	QueriesTotal uint64              `json:"queries_total"`
	LastActivity string              `json:"last_activity"`
	// LastStatement is Portico's own: the newest statement, running or
	// answered, kept even when retain_last_statements keeps none, so that
	// an operator always sees what a session is doing. Null before the
	// first statement.
	LastStatement *lastStatement `json:"last_statement"`
}

// lastStatement times are RFC 3339 in UTC, unlike queries[]: clients compute
// how long a running statement has taken from received and a frame's time.
type lastStatement struct {
	Command   string `json:"command"`
	Statement string `json:"statement"`
	Received  string `json:"received"`
	// Completed, Server and Duration (whole milliseconds) are absent while
	// the statement runs.
	Completed string `json:"completed,omitempty"`
	Server    string `json:"server,omitempty"`
	Duration  *int64 `json:"duration,omitempty"`
}

// sessionConnection is one backend connection. connection_id is the
// backend's thread id, the one KILL takes. cipher is the TLS cipher suite,
// empty for a plain connection, as MaxScale shows it.
type sessionConnection struct {
	Server       string `json:"server"`
	ConnectionID uint32 `json:"connection_id"`
	Cipher       string `json:"cipher"`
}

type sessionClient struct {
	// Cipher is the TLS cipher suite, empty for a plain connection.
	Cipher string `json:"cipher"`
	// ConnectionAttributes is null when the client sent none.
	ConnectionAttributes map[string]string `json:"connection_attributes"`
}

// sessionQuery is a retained statement, as MaxScale shows it: times in
// local time to the millisecond without a zone, durations in whole
// milliseconds. completed is absent, and responses empty, until the reply
// has ended.
type sessionQuery struct {
	Command   string            `json:"command"`
	Statement string            `json:"statement"`
	Received  string            `json:"received"`
	Completed string            `json:"completed,omitempty"`
	Responses []sessionResponse `json:"responses"`
}

type sessionResponse struct {
	Server   string `json:"server"`
	Duration int64  `json:"duration"`
}

// sessionMemory is what Portico holds in memory for the session, in bytes.
type sessionMemory struct {
	ClientBuffer  int `json:"client_buffer"`
	BackendBuffer int `json:"backend_buffer"`
	Capture       int `json:"capture"`
	Statements    int `json:"statements"`
	Total         int `json:"total"`
}

// queryTimeLayout is how MaxScale prints a statement's times.
const queryTimeLayout = "2006-01-02T15:04:05.000"

// sessionParameters are the session's log levels, the one thing MaxScale
// lets PATCH change on a session.
type sessionParameters struct {
	LogInfo    bool `json:"log_info"`
	LogNotice  bool `json:"log_notice"`
	LogWarning bool `json:"log_warning"`
	LogError   bool `json:"log_error"`
}

// linker builds absolute links from the request, as MaxScale does, so they
// resolve from wherever the client reached the API.
type linker struct {
	base string // scheme://host[/v1]
}

func newLinker(r *http.Request) linker {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	if r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/") {
		base += "/v1"
	}
	return linker{base: base}
}

func (l linker) collection(typ string) string         { return l.base + "/" + typ + "/" }
func (l linker) item(typ, id string) string           { return l.base + "/" + typ + "/" + id }
func (l linker) sessionSelf(id core.SessionID) string { return l.item("sessions", id.String()) }

func (l linker) session(s core.Session, now time.Time) sessionResource {
	return sessionResource{
		ID:   s.ID.String(),
		Type: "sessions",
		Relationships: map[string]relationship{
			"services": {
				Links: links{Self: l.collection("services")},
				Data:  []resourceID{{ID: s.Service, Type: "services"}},
			},
		},
		Attributes: sessionAttributes{
			State:        string(s.State),
			User:         s.User,
			Remote:       s.Remote,
			Connected:    s.Connected.Local().Format(core.ConnectedLayout),
			Idle:         s.Idle(now).Seconds(),
			Port:         s.Port,
			Database:     database(s.Database),
			SecondsAlive: max(now.Sub(s.Connected), 0).Truncate(time.Millisecond).Seconds(),
			IOActivity:   s.IOActivity,
			Connections:  connections(s.Backends),
			Client:       sessionClient{Cipher: s.ClientCipher, ConnectionAttributes: s.Attributes},
			Queries:      queries(s.Statements),
			Log:          []string{},
			Parameters: sessionParameters{
				LogInfo: s.Log.Info, LogNotice: s.Log.Notice, LogWarning: s.Log.Warning, LogError: s.Log.Error,
			},
			Memory: sessionMemory{
				ClientBuffer: s.Memory.ClientBuffer, BackendBuffer: s.Memory.BackendBuffer,
				Capture: s.Memory.Capture, Statements: s.Memory.Statements, Total: s.Memory.Total(),
			},
			BytesIn:       s.Traffic.BytesIn,
			BytesOut:      s.Traffic.BytesOut,
			PacketsIn:     s.Traffic.PacketsIn,
			PacketsOut:    s.Traffic.PacketsOut,
			QueriesTotal:  s.Traffic.Queries,
			LastActivity:  s.LastActivity.UTC().Format(time.RFC3339Nano),
			LastStatement: newLastStatement(s.LastStatement),
		},
		Links: links{Self: l.sessionSelf(s.ID)},
	}
}

func newLastStatement(st core.Statement) *lastStatement {
	if st.Received.IsZero() {
		return nil
	}
	out := &lastStatement{Command: st.Command, Statement: st.Text, Received: st.Received.UTC().Format(time.RFC3339Nano)}
	if !st.Completed.IsZero() {
		d := st.Completed.Sub(st.Received).Milliseconds()
		out.Completed, out.Server, out.Duration = st.Completed.UTC().Format(time.RFC3339Nano), st.Server, &d
	}
	return out
}

func database(name string) *string {
	if name == "" {
		return nil
	}
	return &name
}

func connections(backends []core.BackendConn) []sessionConnection {
	out := make([]sessionConnection, len(backends))
	for i, b := range backends {
		out[i] = sessionConnection{Server: b.Server, ConnectionID: b.ThreadID, Cipher: b.Cipher}
	}
	return out
}

func queries(list []core.Statement) []sessionQuery {
	out := make([]sessionQuery, len(list))
	for i, st := range list {
		q := sessionQuery{
			Command:   st.Command,
			Statement: st.Text,
			Received:  st.Received.Local().Format(queryTimeLayout),
			Responses: []sessionResponse{},
		}
		if !st.Completed.IsZero() {
			q.Completed = st.Completed.Local().Format(queryTimeLayout)
			q.Responses = append(q.Responses, sessionResponse{
				Server: st.Server, Duration: st.Completed.Sub(st.Received).Milliseconds(),
			})
		}
		out[i] = q
	}
	return out
}

func (l linker) sessions(list []core.Session, now time.Time) []sessionResource {
	out := make([]sessionResource, len(list))
	for i, s := range list {
		out[i] = l.session(s, now)
	}
	return out
}
