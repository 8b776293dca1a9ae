package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/portico-db/portico/core"
)

// maxBody caps request bodies; the largest legitimate one is a few hundred
// bytes of session parameters.
const maxBody = 1 << 20

// errStatus is an HTTP-only failure with its own status, for the few request
// errors that have no domain meaning (413, 415).
type errStatus struct {
	status int
	detail string
}

func (e *errStatus) Error() string { return e.detail }

// readObject decodes a JSON object body into v. A body that is too large,
// not JSON, or JSON that is not an object is refused with a status that says
// which.
func readObject(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/vnd.api+json") {
			return &errStatus{http.StatusUnsupportedMediaType, "request body must be application/json, not " + ct}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &errStatus{http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB"}
		}
		return core.Errorf(core.EINVALID, "could not read the request body")
	}
	var probe any
	if err := json.Unmarshal(body, &probe); err != nil {
		return core.Errorf(core.EINVALID, "request body is not valid JSON: %v", err)
	}
	if _, ok := probe.(map[string]any); !ok {
		return core.Errorf(core.EINVALID, "request body must be a JSON object")
	}
	return json.Unmarshal(body, v)
}
