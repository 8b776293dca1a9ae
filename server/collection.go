package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

// collectionQuery is a collection request's parsed parameters.
type collectionQuery struct {
	filter query.Filter
	fields query.Fields
	page   query.Page
}

// parseCollectionQuery reads filter, fields and page; every malformed one is
// a 400 that names the parameter.
func parseCollectionQuery(values url.Values, typ string) (collectionQuery, error) {
	var q collectionQuery
	var err error
	if q.filter, err = query.ParseFilter(values); err != nil {
		return q, invalidParam(err)
	}
	if q.fields, err = query.ParseFields(values, typ); err != nil {
		return q, invalidParam(err)
	}
	if q.page, err = query.ParsePage(values); err != nil {
		return q, invalidParam(err)
	}
	return q, nil
}

func invalidParam(err error) error {
	var qe *query.Error
	if errors.As(err, &qe) {
		return core.Errorf(core.EINVALID, "invalid parameter %s", qe.Error())
	}
	return err
}

// collectionLinks adds MaxScale's pagination links, present only when a
// page was asked for.
type collectionLinks struct {
	Self  string `json:"self"`
	First string `json:"first,omitempty"`
	Last  string `json:"last,omitempty"`
	Next  string `json:"next,omitempty"`
	Prev  string `json:"prev,omitempty"`
}

type collectionMeta struct {
	Total int `json:"total"`
}

type collectionDocument struct {
	Links collectionLinks `json:"links"`
	Data  any             `json:"data"`
	Meta  *collectionMeta `json:"meta,omitempty"`
}

// collection assembles the document for rows already filtered and sliced to
// the page; total is the filtered count before slicing.
func collection[T any](self string, q collectionQuery, rows []T, total int) (collectionDocument, error) {
	doc := collectionDocument{Links: collectionLinks{Self: self}}
	if q.page.Set {
		doc.Links.Self = q.page.Self(self)
		doc.Links.First, doc.Links.Last, doc.Links.Next, doc.Links.Prev, _ = q.page.Links(self, total)
		doc.Meta = &collectionMeta{Total: total}
	}
	if q.fields.Empty() {
		doc.Data = rows
		return doc, nil
	}
	trimmed := make([]map[string]any, len(rows))
	for i, row := range rows {
		m, err := toMap(row)
		if err != nil {
			return doc, err
		}
		trimmed[i] = q.fields.Apply(m)
	}
	doc.Data = trimmed
	return doc, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// pageOf slices rows to the page.
func pageOf[T any](rows []T, p query.Page) []T {
	lo, hi := p.Bounds(len(rows))
	return rows[lo:hi]
}

// sessionDoc lets filters read a session's fields directly. The common
// scalar attributes come straight from the core.Session; the full resource is
// built only when a filter reaches further, and then reused for the response.
// A doc made from a resource alone (the stream's) reads everything from it.
type sessionDoc struct {
	sess *core.Session
	l    linker
	now  time.Time
	res  *sessionResource
	m    query.MapDoc
}

var _ query.Doc = (*sessionDoc)(nil)

// resource builds the session's resource once.
func (d *sessionDoc) resource() *sessionResource {
	if d.res == nil {
		res := d.l.session(*d.sess, d.now)
		d.res = &res
	}
	return d.res
}

func (d *sessionDoc) Lookup(tokens []string) (any, bool) {
	if d.sess != nil && len(tokens) == 2 && tokens[0] == "attributes" {
		// The same values l.session copies into the resource.
		switch tokens[1] {
		case "state":
			return string(d.sess.State), true
		case "user":
			return d.sess.User, d.sess.User != ""
		case "remote":
			return d.sess.Remote, true
		}
	}
	d.resource()
	switch {
	case len(tokens) == 1 && tokens[0] == "id":
		return d.res.ID, true
	case len(tokens) == 1 && tokens[0] == "type":
		return d.res.Type, true
	case len(tokens) == 2 && tokens[0] == "attributes":
		a := &d.res.Attributes
		switch tokens[1] {
		case "state":
			return a.State, true
		case "user":
			// Left out of the JSON while unknown, so not there to match.
			return a.User, a.User != ""
		case "remote":
			return a.Remote, true
		case "connected":
			return a.Connected, true
		case "idle":
			return a.Idle, true
		case "port":
			return a.Port, a.Port != 0
		case "database":
			if a.Database == nil {
				return nil, true
			}
			return *a.Database, true
		case "seconds_alive":
			return a.SecondsAlive, true
		case "io_activity":
			return a.IOActivity, true
		case "bytes_in":
			return a.BytesIn, true
		case "bytes_out":
			return a.BytesOut, true
		case "packets_in":
			return a.PacketsIn, true
		case "packets_out":
			return a.PacketsOut, true
		case "queries_total":
			return a.QueriesTotal, true
		case "last_activity":
			return a.LastActivity, true
		}
	}
	if d.m == nil {
		m, err := toMap(d.res)
		if err != nil {
			return nil, false
		}
		d.m = m
	}
	return d.m.Lookup(tokens)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q, err := parseCollectionQuery(r.URL.Query(), "sessions")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	_, changed := s.sessions.LastChange()
	now := s.sessions.Now()
	l := newLinker(r)
	var rows []sessionResource
	var total int
	if q.filter.Empty() && q.page.Set {
		// The common paged case reads only the page from the registry.
		lo, _ := q.page.Bounds(int(^uint(0) >> 1))
		var list []core.Session
		total, list = s.sessions.Page(lo, q.page.Size)
		rows = l.sessions(list, now)
	} else {
		_, list := s.sessions.List()
		rows = make([]sessionResource, 0, len(list))
		for i := range list {
			d := sessionDoc{sess: &list[i], l: l, now: now}
			if q.filter.Empty() || q.filter.Match(&d) {
				rows = append(rows, *d.resource())
			}
		}
		total = len(rows)
		rows = pageOf(rows, q.page)
	}
	if wantRDNS(r) {
		resolveRemotes(r.Context(), rows)
	}
	doc, err := collection(l.collection("sessions"), q, rows, total)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, doc, changed)
}
