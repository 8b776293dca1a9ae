package server

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

// Services, servers and listeners come from the static topology. They carry
// what Portico knows honestly: configuration, live and total session counts,
// and their relationships, whose links follow MaxScale's
// .../<type>/<id>/relationships/<other>/ form.

type relatedLinks struct {
	Self    string `json:"self"`
	Related string `json:"related"`
}

type typedRelationship struct {
	Links relatedLinks `json:"links"`
	Data  []resourceID `json:"data"`
}

type serviceResource struct {
	ID            string                       `json:"id"`
	Type          string                       `json:"type"`
	Attributes    serviceAttributes            `json:"attributes"`
	Relationships map[string]typedRelationship `json:"relationships"`
	Links         links                        `json:"links"`
}

type serviceAttributes struct {
	Router           string            `json:"router"`
	State            string            `json:"state"`
	Started          string            `json:"started"`
	Connections      int               `json:"connections"`
	TotalConnections int               `json:"total_connections"`
	Statistics       serviceStatistics `json:"statistics"`
	// Parameters never include the password.
	Parameters serviceParameters `json:"parameters"`
}

type serviceStatistics struct {
	Connections      int `json:"connections"`
	TotalConnections int `json:"total_connections"`
}

type serviceParameters struct {
	User    string   `json:"user"`
	Servers []string `json:"servers"`
}

type serverResource struct {
	ID            string                       `json:"id"`
	Type          string                       `json:"type"`
	Attributes    serverAttributes             `json:"attributes"`
	Relationships map[string]typedRelationship `json:"relationships"`
	Links         links                        `json:"links"`
}

type serverAttributes struct {
	Parameters serverParameters `json:"parameters"`
	// State is spelled as MaxScale does: "Master, Running", "Slave,
	// Running", "Running" or "Down".
	State      string           `json:"state"`
	Statistics serverStatistics `json:"statistics"`
}

type serverParameters struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
}

type serverStatistics struct {
	Connections int `json:"connections"`
}

type listenerResource struct {
	ID            string                       `json:"id"`
	Type          string                       `json:"type"`
	Attributes    listenerAttributes           `json:"attributes"`
	Relationships map[string]typedRelationship `json:"relationships"`
	Links         links                        `json:"links"`
}

type listenerAttributes struct {
	State      string             `json:"state"`
	Parameters listenerParameters `json:"parameters"`
}

type listenerParameters struct {
	Address  string `json:"address"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
	Service  string `json:"service"`
}

func (l linker) relationship(fromType, fromID, toType string, ids []string) typedRelationship {
	data := make([]resourceID, len(ids))
	for i, id := range ids {
		data[i] = resourceID{ID: id, Type: toType}
	}
	return typedRelationship{
		Links: relatedLinks{Self: l.item(fromType, fromID) + "/relationships/" + toType + "/", Related: l.collection(toType)},
		Data:  data,
	}
}

func (s *Server) listenersOf(service string) []string {
	var out []string
	for _, ls := range s.topology.Listeners {
		if ls.Service == service {
			out = append(out, ls.Name)
		}
	}
	return out
}

func (s *Server) servicesUsing(server string) []string {
	var out []string
	for _, svc := range s.topology.Services {
		for _, name := range svc.Servers {
			if name == server {
				out = append(out, svc.Name)
				break
			}
		}
	}
	return out
}

func (s *Server) serviceResource(l linker, svc core.Service, n core.ServiceCount) serviceResource {
	return serviceResource{
		ID:   svc.Name,
		Type: "services",
		Attributes: serviceAttributes{
			Router:           svc.Router,
			State:            "Started",
			Started:          s.started.Local().Format(core.ConnectedLayout),
			Connections:      n.Current,
			TotalConnections: n.Total,
			Statistics:       serviceStatistics{Connections: n.Current, TotalConnections: n.Total},
			Parameters:       serviceParameters{User: svc.User, Servers: svc.Servers},
		},
		Relationships: map[string]typedRelationship{
			"servers":   l.relationship("services", svc.Name, "servers", svc.Servers),
			"listeners": l.relationship("services", svc.Name, "listeners", s.listenersOf(svc.Name)),
		},
		Links: links{Self: l.item("services", svc.Name)},
	}
}

func (s *Server) serverResource(l linker, srv core.Server, conns int) serverResource {
	return serverResource{
		ID:   srv.Name,
		Type: "servers",
		Attributes: serverAttributes{
			Parameters: serverParameters{Address: srv.Address, Port: srv.Port},
			State:      s.serverState(srv.Name),
			Statistics: serverStatistics{Connections: conns},
		},
		Relationships: s.serverRelationships(l, srv.Name),
		Links:         links{Self: l.item("servers", srv.Name)},
	}
}

// serverRelationships has monitors only for a server a monitor watches, as
// MaxScale leaves out a relationship with nothing in it.
func (s *Server) serverRelationships(l linker, name string) map[string]typedRelationship {
	rels := map[string]typedRelationship{
		"services": l.relationship("servers", name, "services", s.servicesUsing(name)),
	}
	if m := s.monitorOf(name); m != nil {
		rels["monitors"] = l.relationship("servers", name, "monitors", m)
	}
	return rels
}

func listenerResourceOf(l linker, ls core.Listener) listenerResource {
	return listenerResource{
		ID:   ls.Name,
		Type: "listeners",
		Attributes: listenerAttributes{
			State:      "Running",
			Parameters: listenerParameters{Address: ls.Address, Port: ls.Port, Protocol: "MariaDBProtocol", Service: ls.Service},
		},
		Relationships: map[string]typedRelationship{
			"services": l.relationship("listeners", ls.Name, "services", []string{ls.Service}),
		},
		Links: links{Self: l.item("listeners", ls.Name)},
	}
}

// serverState is what is known of a server's state. A server nothing has
// reported on yet, one that no monitor watches and that no session has
// used, is Down, as MaxScale shows a server without a monitor: nothing
// says it is running.
func (s *Server) serverState(name string) string {
	if s.states == nil {
		return core.ServerState{}.String()
	}
	st, _ := s.states.Get(name)
	return st.String()
}

// backendConnections counts live sessions by the server they are connected to.
func (s *Server) backendConnections() map[string]int {
	_, list := s.sessions.List()
	n := make(map[string]int)
	for _, sess := range list {
		for _, b := range sess.Backends {
			n[b.Server]++
		}
	}
	return n
}

// serveCollection answers a collection GET with the shared query handling.
func serveCollection[T any](s *Server, w http.ResponseWriter, r *http.Request, typ string, rows []T) {
	q, err := parseCollectionQuery(r.URL.Query(), typ)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !q.filter.Empty() {
		kept := rows[:0:0]
		for _, row := range rows {
			m, err := toMap(row)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if q.filter.Match(query.MapDoc(m)) {
				kept = append(kept, row)
			}
		}
		rows = kept
	}
	total := len(rows)
	doc, err := collection(newLinker(r).collection(typ), q, pageOf(rows, q.page), total)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, changed := s.sessions.LastChange()
	s.respond(w, r, http.StatusOK, doc, changed)
}

// serveItem answers a single-resource GET. Sparse fieldsets apply, as in
// MaxScale; a filter on a single resource is refused rather than ignored.
func (s *Server) serveItem(w http.ResponseWriter, r *http.Request, typ, self string, v any, modified time.Time) {
	q, err := parseCollectionQuery(r.URL.Query(), typ)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !q.filter.Empty() {
		s.writeError(w, r, core.Errorf(core.EINVALID, "filter applies only to collections, not to a single %s resource", typ))
		return
	}
	if !q.fields.Empty() {
		m, err := toMap(v)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		v = q.fields.Apply(m)
	}
	s.respond(w, r, http.StatusOK, document[any]{Links: links{Self: self}, Data: v}, modified)
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	l := newLinker(r)
	counts := s.sessions.ServiceCounts()
	rows := make([]serviceResource, 0, len(s.topology.Services))
	for _, svc := range s.topology.Services {
		rows = append(rows, s.serviceResource(l, svc, counts[svc.Name]))
	}
	serveCollection(s, w, r, "services", rows)
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	svc, err := s.topology.Service(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	_, changed := s.sessions.LastChange()
	s.serveItem(w, r, "services", l.item("services", svc.Name), s.serviceResource(l, svc, s.sessions.ServiceCounts()[svc.Name]), changed)
}

func (s *Server) listServers(w http.ResponseWriter, r *http.Request) {
	l := newLinker(r)
	conns := s.backendConnections()
	rows := make([]serverResource, 0, len(s.topology.Servers))
	for _, srv := range s.topology.Servers {
		rows = append(rows, s.serverResource(l, srv, conns[srv.Name]))
	}
	serveCollection(s, w, r, "servers", rows)
}

func (s *Server) getServer(w http.ResponseWriter, r *http.Request) {
	srv, err := s.topology.Server(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	// The resource changes with its sessions and with its state.
	_, changed := s.sessions.LastChange()
	if s.states != nil {
		if _, st := s.states.LastChange(); st.After(changed) {
			changed = st
		}
	}
	s.serveItem(w, r, "servers", l.item("servers", srv.Name), s.serverResource(l, srv, s.backendConnections()[srv.Name]), changed)
}

func (s *Server) listListeners(w http.ResponseWriter, r *http.Request) {
	l := newLinker(r)
	rows := make([]listenerResource, 0, len(s.topology.Listeners))
	for _, ls := range s.topology.Listeners {
		rows = append(rows, listenerResourceOf(l, ls))
	}
	serveCollection(s, w, r, "listeners", rows)
}

func (s *Server) getListener(w http.ResponseWriter, r *http.Request) {
	ls, err := s.topology.Listener(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	s.serveItem(w, r, "listeners", l.item("listeners", ls.Name), listenerResourceOf(l, ls), time.Time{})
}

// getRelationship serves /<type>/:id/relationships/<other>: a bare
// {data, links} document.
func (s *Server) getRelationship(typ string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, other := chi.URLParam(r, "id"), chi.URLParam(r, "rel")
		l := newLinker(r)
		var rels map[string]typedRelationship
		switch typ {
		case "services":
			svc, err := s.topology.Service(id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			rels = s.serviceResource(l, svc, core.ServiceCount{}).Relationships
		case "servers":
			srv, err := s.topology.Server(id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			rels = s.serverResource(l, srv, 0).Relationships
		case "listeners":
			ls, err := s.topology.Listener(id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			rels = listenerResourceOf(l, ls).Relationships
		case "monitors":
			m, err := s.topology.Monitor(id)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			rels = monitorResourceOf(l, m).Relationships
		}
		rel, ok := rels[other]
		if !ok {
			s.writeError(w, r, core.Errorf(core.ENOTFOUND, "%s has no %s relationship", id, other))
			return
		}
		_, changed := s.sessions.LastChange()
		s.respond(w, r, http.StatusOK, struct {
			Data  []resourceID `json:"data"`
			Links links        `json:"links"`
		}{rel.Data, links{Self: rel.Links.Self}}, changed)
	}
}
