package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
)

// TestPagesForBrowsers checks that /sessions/ID and /services are the
// dashboard's pages for a browser and REST resources for everyone else.
func TestPagesForBrowsers(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := f.reg.Open(core.Session{Service: "RW-Split-Router"})
	id := h.ID().String()
	browser := func(r *http.Request) {
		admin(r)
		r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	}
	maxctrl := func(r *http.Request) {
		admin(r)
		r.Header.Set("Accept", "application/json, text/plain, */*")
	}
	tests := []struct {
		path  string
		as    auth
		page  bool
		wants string
	}{
		{"/sessions/" + id, browser, true, ""},
		{"/services", browser, true, ""},
		{"/services/", browser, true, ""},
		{"/sessions/" + id, maxctrl, false, `"type": "sessions"`},
		{"/services", maxctrl, false, `"type": "services"`},
		{"/v1/sessions/" + id, browser, false, `"type": "sessions"`},
		{"/v1/services", browser, false, `"type": "services"`},
		{"/sessions", browser, false, `"type": "sessions"`},
		{"/sessions/x", browser, true, ``},
		{"/sessions/x", maxctrl, false, `is not a session`},
		{"/sessions/stream", browser, false, ``},
	}
	for _, tt := range tests {
		name := tt.path + " as a script"
		if tt.page {
			name = tt.path + " as a browser"
		}
		t.Run(name, func(t *testing.T) {
			res := f.get(t, "", tt.path, tt.as)
			if got := string(res.body) == pagesBody; got != tt.page {
				t.Fatalf("status %d body %.200s; want the page: %v", res.status, res.body, tt.page)
			}
			if tt.wants != "" && !strings.Contains(string(res.body), tt.wants) {
				t.Fatalf("body %.300s lacks %s", res.body, tt.wants)
			}
		})
	}
}
