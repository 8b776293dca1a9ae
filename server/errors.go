package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/portico-db/portico/core"
)

// errorDoc is a JSON:API error document, in the shape MaxScale sends and
// MaxCtrl prints: {"errors":[{"detail":"..."}]}.
type errorDoc struct {
	Errors []errorObject `json:"errors"`
}

type errorObject struct {
	Detail string `json:"detail"`
}

// statusOf is the one place domain error codes become HTTP statuses.
func statusOf(code string) int {
	switch code {
	case core.ENOTFOUND:
		return http.StatusNotFound
	case core.EINVALID:
		return http.StatusBadRequest
	case core.ECONFLICT:
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

// writeError maps err to a status and a JSON:API error. Internal error text is
// logged, never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var es *errStatus
	if errors.As(err, &es) {
		s.writeErrorStatus(w, es.status, es.detail)
		return
	}
	code := core.ErrorCode(err)
	if code == core.EINTERNAL {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	s.writeErrorStatus(w, statusOf(code), core.ErrorMessage(err))
}

func (s *Server) writeErrorStatus(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, errorDoc{Errors: []errorObject{{Detail: detail}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"errors":[{"detail":"internal error"}]}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
