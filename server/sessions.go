package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/portico-db/portico/core"
)

// session looks up the session named in the path.
func (s *Server) session(r *http.Request) (core.Session, error) {
	id, err := core.ParseSessionID(chi.URLParam(r, "id"))
	if err != nil {
		return core.Session{}, err
	}
	return s.sessions.Get(id)
}

func (s *Server) sessionDocument(r *http.Request, sess core.Session) document[sessionResource] {
	l := newLinker(r)
	return document[sessionResource]{
		Links: links{Self: l.sessionSelf(sess.ID)},
		Data:  l.session(sess, s.sessions.Now()),
	}
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.session(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	doc := s.sessionDocument(r, sess)
	if wantRDNS(r) {
		rows := []sessionResource{doc.Data}
		resolveRemotes(r.Context(), rows)
		doc.Data = rows[0]
	}
	s.serveItem(w, r, "sessions", doc.Links.Self, doc.Data, sess.Modified)
}

// sessionForWrite looks up the session a write targets and evaluates the
// request's preconditions against it before anything changes. It answers the
// request itself when the write must not go ahead.
func (s *Server) sessionForWrite(w http.ResponseWriter, r *http.Request) (core.Session, bool) {
	sess, err := s.session(r)
	if err != nil {
		s.writeError(w, r, err)
		return sess, false
	}
	etag, err := validators(s.sessionDocument(r, sess))
	if err != nil {
		s.writeError(w, r, err)
		return sess, false
	}
	if preconditionFailed(r, etag, sess.Modified) {
		s.writeErrorStatus(w, http.StatusPreconditionFailed, "the session has changed since it was last read")
		return sess, false
	}
	return sess, true
}

// deleteSession kills a session, now or once it has been idle for ttl
// seconds. Success is 200 with an empty body: MaxGUI checks for exactly 200.
func (s *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	var ttl time.Duration
	if v := r.URL.Query().Get("ttl"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			s.writeError(w, r, core.Errorf(core.EINVALID, "invalid value %q for parameter ttl: use a whole number of seconds", v))
			return
		}
		ttl = time.Duration(n) * time.Second
	}
	sess, ok := s.sessionForWrite(w, r)
	if !ok {
		return
	}
	kill := s.sessions.Kill
	if ttl > 0 {
		kill = func(id core.SessionID) error { return s.sessions.KillWhenIdle(id, ttl) }
	}
	if err := kill(sess.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	if warning := s.killWarning(sess); warning != "" {
		// MaxScale answers a kill with an empty 200; a top-level meta
		// is the JSON:API way to say more, and clients that ignore the
		// body lose nothing.
		writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]any{"warnings": []string{warning}}})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// killWarning says when a kill can only close a session's connections: a
// backend thread is killed on a side connection with the service's user
// and password, and without them a running statement goes on until it ends.
func (s *Server) killWarning(sess core.Session) string {
	if s.topology == nil || len(sess.Backends) == 0 || sess.Backends[0].ThreadID == 0 {
		return ""
	}
	svc, err := s.topology.Service(sess.Service)
	if err != nil || svc.User != "" {
		return ""
	}
	be := sess.Backends[0]
	return fmt.Sprintf("the backend thread %d on server %s could not be killed: service %s has no user and password; "+
		"the session's connections are closed, but a statement it is running goes on until it ends", be.ThreadID, be.Server, svc.Name)
}

// patchSession changes a session's log levels. MaxScale silently ignores
// unknown parameters and non-boolean values; Portico names them in a 400.
func (s *Server) patchSession(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data struct {
			Attributes struct {
				Parameters map[string]json.RawMessage `json:"parameters"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := readObject(r, &body); err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, ok := s.sessionForWrite(w, r)
	if !ok {
		return
	}
	flags := sess.Log
	targets := map[string]*bool{
		"log_info": &flags.Info, "log_notice": &flags.Notice,
		"log_warning": &flags.Warning, "log_error": &flags.Error,
	}
	for _, name := range slices.Sorted(maps.Keys(body.Data.Attributes.Parameters)) {
		target, ok := targets[name]
		if !ok {
			s.writeError(w, r, core.Errorf(core.EINVALID, "unknown session parameter %q: use log_info, log_notice, log_warning or log_error", name))
			return
		}
		if err := json.Unmarshal(body.Data.Attributes.Parameters[name], target); err != nil {
			s.writeError(w, r, core.Errorf(core.EINVALID, "session parameter %q must be true or false, not %s", name, body.Data.Attributes.Parameters[name]))
			return
		}
	}
	if err := s.sessions.SetLogFlags(sess.ID, flags); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// restartSessions answers MaxScale's restart endpoints honestly: Portico
// passes authentication through to the backend and never holds the client's
// password, so it cannot reopen a session's backend connections.
func (s *Server) restartSessions(w http.ResponseWriter, r *http.Request) {
	if id := chi.URLParam(r, "id"); id != "" {
		if _, err := s.session(r); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.writeError(w, r, core.Errorf(core.EINVALID,
		"sessions cannot be restarted: Portico passes authentication through and cannot reopen backend connections without the client's password; kill the session and let the client reconnect"))
}
