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

type sessionAttributes struct {
	State      string            `json:"state"`
	User       string            `json:"user"`
	Remote     string            `json:"remote"`
	Connected  string            `json:"connected"`
	Idle       float64           `json:"idle"`
	Parameters sessionParameters `json:"parameters"`
}

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
			State:     string(s.State),
			User:      s.User,
			Remote:    s.Remote,
			Connected: s.Connected.Local().Format(core.ConnectedLayout),
			Idle:      s.Idle(now).Seconds(),
			Parameters: sessionParameters{
				LogInfo: s.Log.Info, LogNotice: s.Log.Notice, LogWarning: s.Log.Warning, LogError: s.Log.Error,
			},
		},
		Links: links{Self: l.sessionSelf(s.ID)},
	}
}

func (l linker) sessions(list []core.Session, now time.Time) []sessionResource {
	out := make([]sessionResource, len(list))
	for i, s := range list {
		out[i] = l.session(s, now)
	}
	return out
}
