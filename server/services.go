package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/portico-db/portico/core"
)

// serviceResource is the minimal MaxScale service shape: enough for session
// relationship links to resolve and for MaxCtrl's list to print.
type serviceResource struct {
	ID            string                  `json:"id"`
	Type          string                  `json:"type"`
	Attributes    serviceAttributes       `json:"attributes"`
	Relationships map[string]relationship `json:"relationships"`
	Links         links                   `json:"links"`
}

type serviceAttributes struct {
	Router      string `json:"router"`
	State       string `json:"state"`
	Connections int    `json:"connections"`
}

type serverResource struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	Attributes serverAttributes `json:"attributes"`
	Links      links            `json:"links"`
}

type serverAttributes struct {
	Parameters serverParameters `json:"parameters"`
}

type serverParameters struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
}

func (s *Server) serviceResource(l linker, svc core.Service, conns int) serviceResource {
	ids := make([]resourceID, len(svc.Servers))
	for i, n := range svc.Servers {
		ids[i] = resourceID{ID: n, Type: "servers"}
	}
	return serviceResource{
		ID:         svc.Name,
		Type:       "services",
		Attributes: serviceAttributes{Router: svc.Router, State: "Started", Connections: conns},
		Relationships: map[string]relationship{
			"servers": {Links: links{Self: l.collection("servers")}, Data: ids},
		},
		Links: links{Self: l.item("services", svc.Name)},
	}
}

func (s *Server) connectionsByService() map[string]int {
	_, list := s.sessions.List()
	n := make(map[string]int)
	for _, sess := range list {
		n[sess.Service]++
	}
	return n
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	l := newLinker(r)
	conns := s.connectionsByService()
	out := make([]serviceResource, 0, len(s.topology.Services))
	for _, svc := range s.topology.Services {
		out = append(out, s.serviceResource(l, svc, conns[svc.Name]))
	}
	writeJSON(w, http.StatusOK, document[[]serviceResource]{Links: links{Self: l.collection("services")}, Data: out})
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	svc, err := s.topology.Service(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	writeJSON(w, http.StatusOK, document[serviceResource]{
		Links: links{Self: l.item("services", svc.Name)},
		Data:  s.serviceResource(l, svc, s.connectionsByService()[svc.Name]),
	})
}

func serverResourceOf(l linker, srv core.Server) serverResource {
	return serverResource{
		ID:         srv.Name,
		Type:       "servers",
		Attributes: serverAttributes{Parameters: serverParameters{Address: srv.Address, Port: srv.Port}},
		Links:      links{Self: l.item("servers", srv.Name)},
	}
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request) {
	l := newLinker(r)
	out := make([]serverResource, 0, len(s.topology.Servers))
	for _, srv := range s.topology.Servers {
		out = append(out, serverResourceOf(l, srv))
	}
	writeJSON(w, http.StatusOK, document[[]serverResource]{Links: links{Self: l.collection("servers")}, Data: out})
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request) {
	srv, err := s.topology.Server(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	writeJSON(w, http.StatusOK, document[serverResource]{
		Links: links{Self: l.item("servers", srv.Name)},
		Data:  serverResourceOf(l, srv),
	})
}
