package server

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/portico-db/portico/core"
)

// Monitors come from the configuration, as MaxScale's /v1/monitors shows
// them; MaxCtrl's list monitors reads the state and the servers. What a
// monitor found is on the servers themselves (attributes.state).

type monitorResource struct {
	ID            string                       `json:"id"`
	Type          string                       `json:"type"`
	Attributes    monitorAttributes            `json:"attributes"`
	Relationships map[string]typedRelationship `json:"relationships"`
	Links         links                        `json:"links"`
}

type monitorAttributes struct {
	Module string `json:"module"`
	// State is "Running": a configured monitor runs as long as Portico.
	State      string            `json:"state"`
	Parameters monitorParameters `json:"parameters"`
}

// monitorParameters are spelled and measured as MaxScale's: durations in
// milliseconds. The password is never shown.
type monitorParameters struct {
	User                  string `json:"user"`
	Password              string `json:"password"`
	MonitorInterval       int64  `json:"monitor_interval"`
	BackendConnectTimeout int64  `json:"backend_connect_timeout"`
}

func monitorResourceOf(l linker, m core.Monitor) monitorResource {
	return monitorResource{
		ID:   m.Name,
		Type: "monitors",
		Attributes: monitorAttributes{
			Module: m.Module,
			State:  "Running",
			Parameters: monitorParameters{User: m.User, Password: "*****",
				MonitorInterval: m.Interval.Milliseconds(), BackendConnectTimeout: m.ConnectTimeout.Milliseconds()},
		},
		Relationships: map[string]typedRelationship{
			"servers": l.relationship("monitors", m.Name, "servers", m.Servers),
		},
		Links: links{Self: l.item("monitors", m.Name)},
	}
}

// monitorOf names the monitor that watches server, if any: a server
// belongs to one monitor at most.
func (s *Server) monitorOf(server string) []string {
	for _, m := range s.topology.Monitors {
		for _, name := range m.Servers {
			if name == server {
				return []string{m.Name}
			}
		}
	}
	return nil
}

func (s *Server) listMonitors(w http.ResponseWriter, r *http.Request) {
	l := newLinker(r)
	rows := make([]monitorResource, 0, len(s.topology.Monitors))
	for _, m := range s.topology.Monitors {
		rows = append(rows, monitorResourceOf(l, m))
	}
	serveCollection(s, w, r, "monitors", rows)
}

func (s *Server) getMonitor(w http.ResponseWriter, r *http.Request) {
	m, err := s.topology.Monitor(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	s.serveItem(w, r, "monitors", l.item("monitors", m.Name), monitorResourceOf(l, m), time.Time{})
}
