package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
)

// TestStaticRoute checks that the server hands /static/ to its Static
// handler for every method, without authentication and without its own
// no-cache overriding the handler's caching: the route must not fall through
// to the pages, which answer HEAD and POST too.
func TestStaticRoute(t *testing.T) {
	sum := sha256.Sum256([]byte("body{}")) // the fixture's portico.css
	hashed := "/static/portico." + hex.EncodeToString(sum[:])[:10] + ".css"
	tests := []struct {
		name   string
		method string
		path   string
		status int
		cache  string
	}{
		{"GET hashed", http.MethodGet, hashed, http.StatusOK, "public, max-age=31536000, immutable"},
		{"HEAD hashed", http.MethodHead, hashed, http.StatusOK, "public, max-age=31536000, immutable"},
		{"GET plain", http.MethodGet, "/static/portico.css", http.StatusOK, "no-cache"},
		{"HEAD plain", http.MethodHead, "/static/portico.css", http.StatusOK, "no-cache"},
		{"HEAD missing", http.MethodHead, "/static/missing.css", http.StatusNotFound, "no-cache"},
		{"POST", http.MethodPost, hashed, http.StatusMethodNotAllowed, "no-cache"},
	}
	f := newFixture(t, fixtureOpts{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, tt.method, "", tt.path, noAuth)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if got := res.resp.Header.Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.cache)
			}
		})
	}
}
