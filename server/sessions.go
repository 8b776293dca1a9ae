package server

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/portico-db/portico/core"
)

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	_, list := s.sessions.List()
	l := newLinker(r)
	writeJSON(w, http.StatusOK, document[[]sessionResource]{
		Links: links{Self: l.collection("sessions")},
		Data:  l.sessions(list, s.sessions.Now()),
	})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id, err := core.ParseSessionID(chi.URLParam(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := s.sessions.Get(id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	l := newLinker(r)
	writeJSON(w, http.StatusOK, document[sessionResource]{
		Links: links{Self: l.sessionSelf(id)},
		Data:  l.session(sess, s.sessions.Now()),
	})
}
