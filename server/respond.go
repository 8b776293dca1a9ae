package server

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portico-db/portico/core"
)

// parsePretty reads MaxScale's pretty parameter, which defaults to true.
func parsePretty(r *http.Request) (bool, error) {
	v, ok := r.URL.Query()["pretty"]
	if !ok {
		return true, nil
	}
	switch strings.ToLower(v[0]) {
	case "", "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return false, core.Errorf(core.EINVALID, "invalid value %q for parameter pretty: use true or false", v[0])
}

// etagOf is a strong validator over the compact representation, so pretty
// and compact responses of the same state share it.
func etagOf(compact []byte) string {
	h := fnv.New64a()
	h.Write(compact)
	return `"` + strconv.FormatUint(h.Sum64(), 16) + `"`
}

// respond writes v as a JSON document with validators, answering 304 when
// the client's copy is current.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, status int, v any, modified time.Time) {
	pretty, err := parsePretty(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	etag := etagOf(body)
	h := w.Header()
	h.Set("ETag", etag)
	if !modified.IsZero() {
		h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	}
	if status == http.StatusOK && notModified(r, etag, modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if pretty {
		var buf bytes.Buffer
		_ = json.Indent(&buf, body, "", "    ")
		body = buf.Bytes()
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// notModified evaluates If-None-Match, and If-Modified-Since only when there
// is no If-None-Match (RFC 9110 section 13.2.2).
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etagListMatches(inm, etag, true)
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !modified.IsZero() {
		t, err := http.ParseTime(ims)
		return err == nil && !modified.Truncate(time.Second).After(t)
	}
	return false
}

// preconditionFailed evaluates If-Match, and If-Unmodified-Since only when
// there is no If-Match, against the resource's current validators. Writes call
// it before changing anything.
func preconditionFailed(r *http.Request, etag string, modified time.Time) bool {
	if im := r.Header.Get("If-Match"); im != "" {
		return !etagListMatches(im, etag, false)
	}
	if ius := r.Header.Get("If-Unmodified-Since"); ius != "" && !modified.IsZero() {
		t, err := http.ParseTime(ius)
		return err == nil && modified.Truncate(time.Second).After(t)
	}
	return false
}

func etagListMatches(list, etag string, weak bool) bool {
	for _, tag := range strings.Split(list, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" {
			return true
		}
		if weak {
			tag = strings.TrimPrefix(tag, "W/")
		}
		if tag == etag {
			return true
		}
	}
	return false
}

// validators returns the ETag and Last-Modified that a GET of the same
// document would carry, so writes can check preconditions first.
func validators(v any) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return etagOf(body), nil
}
