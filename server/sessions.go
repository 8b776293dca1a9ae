package server

import (
	"net/http"
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
	s.respond(w, r, http.StatusOK, s.sessionDocument(r, sess), sess.Modified)
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
	sess, err := s.session(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	etag, err := validators(s.sessionDocument(r, sess))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if preconditionFailed(r, etag, sess.Modified) {
		s.writeErrorStatus(w, http.StatusPreconditionFailed, "the session has changed since it was last read")
		return
	}
	if ttl > 0 {
		err = s.sessions.KillWhenIdle(sess.ID, ttl)
	} else {
		err = s.sessions.Kill(sess.ID)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}
