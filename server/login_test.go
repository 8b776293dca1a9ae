package server_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
)

// formPage renders the sign-in form as plain text, so tests can read the
// status and message the server chose.
type formPage struct{}

func (formPage) ServeLogin(w http.ResponseWriter, r *http.Request, status int, message string) {
	w.WriteHeader(status)
	fmt.Fprintf(w, "login form: %s", message)
}

func newLoginServer(t *testing.T) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(server.New(server.Config{
		Sessions:    core.NewRegistry(nil),
		Topology:    testTopology(),
		Users:       newUsers(t),
		InsecureGUI: true,
		Login:       formPage{},
		Pages: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, pagesBody)
		}),
	}).Handler())
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return srv, &http.Client{Jar: jar}
}

// read returns a response's status and body, failing t on a transport error.
func read(t *testing.T) func(*http.Response, error) (int, string) {
	return func(resp *http.Response, err error) (int, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

func TestLoginForm(t *testing.T) {
	srv, client := newLoginServer(t)

	status, got := read(t)(client.Get(srv.URL + "/"))
	if status != 200 || got != "login form: " {
		t.Fatalf("first visit: %d %q; want 200 and the empty form", status, got)
	}
	status, got = read(t)(client.PostForm(srv.URL+"/login", url.Values{"user": {adminUser}, "password": {"wrong"}}))
	if status != 401 || got != "login form: Wrong user name or password." {
		t.Fatalf("wrong password: %d %q", status, got)
	}
	// A good login redirects to the dashboard with the token cookies set.
	status, got = read(t)(client.PostForm(srv.URL+"/login", url.Values{"user": {adminUser}, "password": {adminPass}}))
	if status != 200 || got != pagesBody {
		t.Fatalf("after login: %d %q; want the dashboard", status, got)
	}
	u, _ := url.Parse(srv.URL)
	var names []string
	for _, c := range client.Jar.Cookies(u) {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "token_body,token_sig" {
		t.Fatalf("cookies = %v", names)
	}
	// The same cookies work for the API, as with /v1/auth?persist=yes.
	if status, _ := read(t)(client.Get(srv.URL + "/v1/sessions")); status != 200 {
		t.Fatalf("API with the login cookies: %d", status)
	}
	status, got = read(t)(client.Post(srv.URL+"/logout", "", nil))
	if status != 200 || got != "login form: You have signed out." {
		t.Fatalf("logout: %d %q", status, got)
	}
	if status, got := read(t)(client.Get(srv.URL + "/")); got != "login form: " {
		t.Fatalf("after logout: %d %q; want the form again", status, got)
	}
}

func TestExpiredLoginReturnsToTheFormWithAMessage(t *testing.T) {
	srv, client := newLoginServer(t)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.AddCookie(&http.Cookie{Name: "token_body", Value: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9"})
	req.AddCookie(&http.Cookie{Name: "token_sig", Value: "stale"})
	status, got := read(t)(client.Do(req))
	if status != 200 || got != "login form: Your session has expired. Sign in again." {
		t.Fatalf("stale cookies: %d %q", status, got)
	}
	// Basic still works for the pages, as it does for API clients.
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/", nil)
	req.SetBasicAuth(adminUser, adminPass)
	if status, got := read(t)(client.Do(req)); status != 200 || got != pagesBody {
		t.Fatalf("Basic on a page: %d %q", status, got)
	}
}
