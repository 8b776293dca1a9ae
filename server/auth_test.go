package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/server/users"
)

const (
	readerUser = "reader"
	readerPass = "only looking"
)

var reader = basic(readerUser, readerPass)

func (f *fixture) addUser(t *testing.T, name, pass string, role users.Role) {
	t.Helper()
	if err := f.users.Add(name, pass, role); err != nil {
		t.Fatal(err)
	}
}

// issueToken trades admin's Basic credentials for a token at GET /v1/auth.
func (f *fixture) issueToken(t *testing.T) string {
	t.Helper()
	return f.issueTokenAs(t, admin)
}

func (f *fixture) issueTokenAs(t *testing.T, login auth) string {
	t.Helper()
	res := f.get(t, "", "/v1/auth", login)
	if res.status != http.StatusOK {
		t.Fatalf("GET /v1/auth: status %d: %s", res.status, res.body)
	}
	var doc map[string]map[string]string
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatalf("%v: %s", err, res.body)
	}
	if len(doc) != 1 || len(doc["meta"]) != 1 || doc["meta"]["token"] == "" {
		t.Fatalf(`body = %s, want {"meta":{"token":...}}`, res.body)
	}
	return doc["meta"]["token"]
}

// persistCookies logs in with persist=yes and returns the two token cookies.
func (f *fixture) persistCookies(t *testing.T) (body, sig *http.Cookie) {
	t.Helper()
	return f.persistCookiesAs(t, admin)
}

func (f *fixture) persistCookiesAs(t *testing.T, login auth) (body, sig *http.Cookie) {
	t.Helper()
	res := f.get(t, "", "/v1/auth?persist=yes", login)
	if res.status != http.StatusNoContent {
		t.Fatalf("persist=yes: status %d, want 204: %s", res.status, res.body)
	}
	for _, c := range res.resp.Cookies() {
		switch c.Name {
		case "token_body":
			body = c
		case "token_sig":
			sig = c
		}
	}
	if body == nil || sig == nil {
		t.Fatalf("Set-Cookie = %q, want token_body and token_sig", res.header.Values("Set-Cookie"))
	}
	return body, sig
}

var b64 = base64.RawURLEncoding

// retoken replaces a token's claims and keeps its header and signature.
func retoken(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	edit(claims)
	payload, _ = json.Marshal(claims)
	return parts[0] + "." + b64.EncodeToString(payload) + "." + parts[2]
}

// splitSig splits a JWT into its signed part and its signature.
func splitSig(tok string) (signed, sig string) {
	i := strings.LastIndexByte(tok, '.')
	return tok[:i], tok[i+1:]
}

func first(a, _ string) string { return a }

// flipLast changes the last character of s.
func flipLast(s string) string {
	c := byte('A')
	if s[len(s)-1] == c {
		c = 'B'
	}
	return s[:len(s)-1] + string(c)
}

func TestAuth(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.issueToken(t)
	body, sig := f.persistCookies(t)
	other := newFixture(t, fixtureOpts{}).issueToken(t)

	cookieTok := body.Value + "." + sig.Value
	asRoot := func(c map[string]any) { c["sub"] = "root" }
	rootCookieTok := retoken(t, cookieTok, asRoot)
	unsigned, tokSig := splitSig(tok)
	_, claims, _ := strings.Cut(unsigned, ".")
	none := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + claims
	_, otherSig := splitSig(other)

	otherBody, otherSigCookie := newFixture(t, fixtureOpts{}).persistCookies(t)
	both := func(as ...auth) auth {
		return func(r *http.Request) {
			for _, a := range as {
				a(r)
			}
		}
	}

	// A failed Basic login is challenged; a failed token is not, as in
	// MaxScale: the client has no password to offer.
	const (
		ok        = http.StatusOK
		challenge = "challenge"
		token     = "token"
	)
	tests := []struct {
		name string
		auth auth
		want string // ok, challenge or token
	}{
		{"no credentials", noAuth, challenge},
		{"wrong password", basic(adminUser, "wrong"), challenge},
		{"unknown user", basic("root", adminPass), challenge},
		{"unknown user empty password", basic("root", ""), challenge},
		{"basic", admin, "ok"},
		{"bearer", bearer(tok), "ok"},
		{"bearer scheme is case-insensitive", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+tok) }, "ok"},
		{"cookies", cookies(body, sig), "ok"},
		{"bearer with changed subject", bearer(retoken(t, tok, asRoot)), token},
		{"bearer with extended expiry", bearer(retoken(t, tok, func(c map[string]any) { c["exp"] = c["exp"].(float64) + 3600 })), token},
		{"bearer promoting itself", bearer(retoken(t, tok, func(c map[string]any) { c["account"] = "admin" })), token},
		{"bearer with changed signature", bearer(unsigned + "." + flipLast(tokSig)), token},
		{"bearer without signature", bearer(unsigned), token},
		{"bearer alg none", bearer(none + "."), token},
		{"bearer alg none keeping signature", bearer(none + "." + tokSig), token},
		{"bearer from another server", bearer(other), token},
		{"bearer garbage", bearer("garbage"), token},
		// Header values lose their trailing space, so this is no bearer at
		// all but a request without credentials, in MaxScale too.
		{"bearer empty", bearer(""), challenge},
		{"only the body cookie", cookies(body), challenge},
		{"only the signature cookie", cookies(sig), token},
		{"empty signature cookie is no cookie", cookies(&http.Cookie{Name: sig.Name, Value: ""}), challenge},
		{"cookie body tampered", cookies(&http.Cookie{Name: body.Name, Value: first(splitSig(rootCookieTok))}, sig), token},
		{"cookie signature from another server", cookies(body, &http.Cookie{Name: sig.Name, Value: otherSig}), token},
		{"cookies from another server", cookies(otherBody, otherSigCookie), token},

		// The order is MaxScale's: cookies, then bearer, then Basic. The
		// first kind present decides, for better or worse.
		{"valid cookies beat a wrong password", both(basic(adminUser, "x"), cookies(body, sig)), "ok"},
		{"valid cookies beat a bad bearer", both(bearer("x"), cookies(body, sig)), "ok"},
		{"bad cookies beat a valid password", both(admin, cookies(otherBody, otherSigCookie)), token},
		{"bad cookies beat a valid bearer", both(bearer(tok), cookies(otherBody, otherSigCookie)), token},
		{"valid bearer with a body cookie alone", both(bearer(tok), cookies(otherBody)), "ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.get(t, "", "/v1/sessions", tt.auth)
			if tt.want == "ok" {
				if res.status != ok {
					t.Fatalf("status = %d, want 200: %s", res.status, res.body)
				}
				return
			}
			if res.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", res.status, res.body)
			}
			wantChallenge := ""
			if tt.want == challenge {
				wantChallenge = `Basic realm="portico"`
			}
			if got := res.header.Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			if want := errorBody("Access denied"); string(res.body) != want {
				t.Errorf("body = %s, want %s", res.body, want)
			}
		})
	}
}

// TestAuthXMLHttpRequest checks that scripts which say so get no Basic
// challenge, so that the browser does not pop up its own login dialog over
// the page's.
func TestAuthXMLHttpRequest(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser(t, readerUser, readerPass, users.RoleBasic)
	xhr := func(v string) auth {
		return func(r *http.Request) { r.Header.Set("X-Requested-With", v) }
	}
	tests := []struct {
		name          string
		method        string
		auth          auth
		wantChallenge bool
	}{
		{"no credentials", http.MethodGet, noAuth, true},
		{"no credentials from a script", http.MethodGet, xhr("XMLHttpRequest"), false},
		{"header value is case-insensitive", http.MethodGet, xhr("xmlhttprequest"), false},
		{"other header value", http.MethodGet, xhr("fetch"), true},
		{"wrong password from a script", http.MethodGet, func(r *http.Request) { basic(adminUser, "x")(r); xhr("XMLHttpRequest")(r) }, false},
		{"read-only write", http.MethodDelete, reader, true},
		{"read-only write from a script", http.MethodDelete, func(r *http.Request) { reader(r); xhr("XMLHttpRequest")(r) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, tt.method, "", "/v1/sessions/999", tt.auth)
			if res.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401: %s", res.status, res.body)
			}
			if got := res.header.Get("WWW-Authenticate") != ""; got != tt.wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want a challenge: %v", res.header.Get("WWW-Authenticate"), tt.wantChallenge)
			}
			if want := errorBody("Access denied"); string(res.body) != want {
				t.Errorf("body = %s, want %s", res.body, want)
			}
		})
	}
}

// TestAuthRoles checks that basic accounts may read and never write, with
// every kind of credentials: Basic gets MaxScale's 401 and challenge, tokens
// its 403.
func TestAuthRoles(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.addUser(t, readerUser, readerPass, users.RoleBasic)
	creds := map[string]map[string]auth{}
	for _, u := range []struct{ name, pass string }{{adminUser, adminPass}, {readerUser, readerPass}} {
		login := basic(u.name, u.pass)
		body, sig := f.persistCookiesAs(t, login)
		creds[u.name] = map[string]auth{
			"basic":   login,
			"bearer":  bearer(f.issueTokenAs(t, login)),
			"cookies": cookies(body, sig),
		}
	}
	override := func(m string) auth {
		return func(r *http.Request) { r.Header.Set("X-HTTP-Method-Override", m) }
	}
	type want struct {
		status    int
		detail    string
		challenge bool
	}
	read := want{status: http.StatusOK}
	// Admins pass authorization and reach the handler: session 999 does
	// not exist.
	written := want{status: http.StatusNotFound, detail: "999 is not a session"}
	refusedBasic := want{status: http.StatusUnauthorized, detail: "Access denied", challenge: true}
	refusedToken := want{status: http.StatusForbidden, detail: "Administrative access required"}
	tests := []struct {
		name, user, kind, method, path string
		extra                          auth
		want                           want
	}{
		{"admin reads with basic", adminUser, "basic", http.MethodGet, "/v1/sessions", nil, read},
		{"admin reads with bearer", adminUser, "bearer", http.MethodGet, "/v1/sessions", nil, read},
		{"admin reads with cookies", adminUser, "cookies", http.MethodGet, "/v1/sessions", nil, read},
		{"basic reads with basic", readerUser, "basic", http.MethodGet, "/v1/sessions", nil, read},
		{"basic reads with bearer", readerUser, "bearer", http.MethodGet, "/v1/sessions", nil, read},
		{"basic reads with cookies", readerUser, "cookies", http.MethodGet, "/v1/sessions", nil, read},
		{"basic heads with basic", readerUser, "basic", http.MethodHead, "/v1/sessions", nil, read},
		{"admin writes with basic", adminUser, "basic", http.MethodDelete, "/v1/sessions/999", nil, written},
		{"admin writes with bearer", adminUser, "bearer", http.MethodDelete, "/v1/sessions/999", nil, written},
		{"admin writes with cookies", adminUser, "cookies", http.MethodDelete, "/v1/sessions/999", nil, written},
		{"basic writes with basic", readerUser, "basic", http.MethodDelete, "/v1/sessions/999", nil, refusedBasic},
		{"basic writes with bearer", readerUser, "bearer", http.MethodDelete, "/v1/sessions/999", nil, refusedToken},
		{"basic writes with cookies", readerUser, "cookies", http.MethodDelete, "/v1/sessions/999", nil, refusedToken},
		{"basic writes through method override", readerUser, "bearer", http.MethodPost, "/v1/sessions/999", override(http.MethodDelete), refusedToken},
		{"basic patches", readerUser, "basic", http.MethodPatch, "/v1/sessions/999", nil, refusedBasic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := creds[tt.user][tt.kind]
			if tt.extra != nil {
				a = func(r *http.Request) { creds[tt.user][tt.kind](r); tt.extra(r) }
			}
			res := f.do(t, tt.method, "", tt.path, a)
			if res.status != tt.want.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.want.status, res.body)
			}
			if tt.want.detail != "" {
				if want := errorBody(tt.want.detail); string(res.body) != want {
					t.Errorf("body = %s, want %s", res.body, want)
				}
			}
			if got := res.header.Get("WWW-Authenticate") != ""; got != tt.want.challenge {
				t.Errorf("WWW-Authenticate = %q, want a challenge: %v", res.header.Get("WWW-Authenticate"), tt.want.challenge)
			}
		})
	}
}

// TestAuthTokensFollowTheUsersFile checks that tokens are authorised with
// the account as it is now, not as it was when the token was issued.
func TestAuthTokensFollowTheUsersFile(t *testing.T) {
	tests := []struct {
		name         string
		change       func(*testing.T, *fixture)
		method, path string
		want         int
	}{
		{"unchanged", func(*testing.T, *fixture) {}, http.MethodGet, "/v1/sessions", http.StatusOK},
		{"user removed", func(t *testing.T, f *fixture) {
			if err := f.users.Remove(readerUser); err != nil {
				t.Fatal(err)
			}
		}, http.MethodGet, "/v1/sessions", http.StatusUnauthorized},
		// Admins get past authorization to the handler, which answers 404.
		{"user promoted", func(t *testing.T, f *fixture) {
			if err := f.users.Remove(readerUser); err != nil {
				t.Fatal(err)
			}
			f.addUser(t, readerUser, "new password", users.RoleAdmin)
		}, http.MethodDelete, "/v1/sessions/999", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			f.addUser(t, readerUser, readerPass, users.RoleBasic)
			tok := f.issueTokenAs(t, reader)
			tt.change(t, f)
			if res := f.do(t, tt.method, "", tt.path, bearer(tok)); res.status != tt.want {
				t.Errorf("status = %d, want %d: %s", res.status, tt.want, res.body)
			}
		})
	}
}

func TestAuthTokenClaims(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	issued := f.clock.Now()
	tok := f.issueToken(t)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts, want 3", tok, len(parts))
	}
	header, err := b64.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Iss     string `json:"iss"`
		Sub     string `json:"sub"`
		Iat     int64  `json:"iat"`
		Exp     int64  `json:"exp"`
		Account string `json:"account"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"header", string(header), `{"alg":"HS256","typ":"JWT"}`},
		{"iss", claims.Iss, "portico"},
		{"sub", claims.Sub, adminUser},
		{"iat", claims.Iat, issued.Unix()},
		{"exp", claims.Exp, issued.Add(8 * time.Hour).Unix()},
		{"account", claims.Account, "admin"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		})
	}
}

func TestAuthTokenExpiry(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration
		want  int
	}{
		{"fresh", 0, http.StatusOK},
		{"one second before expiry", 8*time.Hour - time.Second, http.StatusOK},
		{"at expiry", 8 * time.Hour, http.StatusUnauthorized},
		{"long expired", 48 * time.Hour, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			tok := f.issueToken(t)
			body, sig := f.persistCookies(t)
			f.clock.Add(tt.after)
			for name, a := range map[string]auth{"bearer": bearer(tok), "cookies": cookies(body, sig)} {
				if res := f.get(t, "", "/v1/sessions", a); res.status != tt.want {
					t.Errorf("%s: status = %d, want %d", name, res.status, tt.want)
				}
			}
			// Basic credentials never expire.
			if res := f.get(t, "", "/v1/sessions", admin); res.status != http.StatusOK {
				t.Errorf("basic: status = %d, want 200", res.status)
			}
		})
	}
}

func TestAuthPersistCookies(t *testing.T) {
	tests := []struct {
		name       string
		tls        bool
		wantSecure bool
	}{
		{"http", false, false},
		{"https", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{tls: tt.tls})
			res := f.get(t, "", "/v1/auth?persist=yes", admin)
			if res.status != http.StatusNoContent || len(res.body) != 0 {
				t.Fatalf("status = %d, body %q; want 204 and no body", res.status, res.body)
			}
			got := map[string]*http.Cookie{}
			for _, c := range res.resp.Cookies() {
				got[c.Name] = c
			}
			wantHTTPOnly := map[string]bool{"token_body": false, "token_sig": true}
			for name, httpOnly := range wantHTTPOnly {
				c := got[name]
				if c == nil {
					t.Fatalf("no %s cookie in %q", name, res.header.Values("Set-Cookie"))
				}
				if c.HttpOnly != httpOnly {
					t.Errorf("%s HttpOnly = %v, want %v", name, c.HttpOnly, httpOnly)
				}
				if c.Secure != tt.wantSecure {
					t.Errorf("%s Secure = %v, want %v", name, c.Secure, tt.wantSecure)
				}
				if c.SameSite != http.SameSiteStrictMode {
					t.Errorf("%s SameSite = %v, want Strict", name, c.SameSite)
				}
				if c.Path != "/" {
					t.Errorf("%s Path = %q, want /", name, c.Path)
				}
				// Without max-age, MaxScale makes them session cookies.
				if c.MaxAge != 0 {
					t.Errorf("%s MaxAge = %d, want none", name, c.MaxAge)
				}
			}
			// token_body is header.claims, readable by scripts; token_sig is
			// the signature alone.
			if n := strings.Count(got["token_body"].Value, "."); n != 1 {
				t.Errorf("token_body has %d dots, want 1", n)
			}
			if strings.Contains(got["token_sig"].Value, ".") {
				t.Errorf("token_sig %q contains a dot", got["token_sig"].Value)
			}
			if res := f.get(t, "", "/v1/sessions", bearer(got["token_body"].Value+"."+got["token_sig"].Value)); res.status != http.StatusOK {
				t.Errorf("joined cookies as bearer: status %d, want 200", res.status)
			}
		})
	}
}

// TestAuthBearerCanRenew checks that a token holder can trade it for a fresh
// token or for cookies, as MaxCtrl and the GUI do.
func TestAuthBearerCanRenew(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.issueToken(t)
	f.clock.Add(time.Hour)
	tests := []struct {
		name string
		path string
		want int
	}{
		{"token", "/v1/auth", http.StatusOK},
		{"cookies", "/v1/auth?persist=yes", http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := f.get(t, "", tt.path, bearer(tok)); res.status != tt.want {
				t.Errorf("status = %d, want %d: %s", res.status, tt.want, res.body)
			}
		})
	}
}

func TestPagesAndStaticAuth(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		auth        auth
		status      int
		body        string
		wantCookies bool
	}{
		{"page needs credentials", "/", noAuth, http.StatusUnauthorized, "", false},
		{"page with wrong password", "/", basic(adminUser, "x"), http.StatusUnauthorized, "", false},
		{"page with basic sets cookies", "/", admin, http.StatusOK, pagesBody, true},
		{"unknown page goes to the pages handler", "/nope", admin, http.StatusNotFound, "404 page not found\n", true},
		{"static is public", "/static/portico.css", noAuth, http.StatusOK, "body{}", false},
		{"missing static file", "/static/missing.js", noAuth, http.StatusNotFound, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			res := f.get(t, "", tt.path, tt.auth)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.body != "" && string(res.body) != tt.body {
				t.Errorf("body = %q, want %q", res.body, tt.body)
			}
			var names []string
			for _, c := range res.resp.Cookies() {
				names = append(names, c.Name)
			}
			if got := len(names) == 2 && names[0] == "token_body" && names[1] == "token_sig"; got != tt.wantCookies {
				t.Errorf("cookies = %v, want token cookies: %v", names, tt.wantCookies)
			}
		})
	}
}

// TestPageCookiesAuthenticateAPI checks the dashboard's path: a Basic login
// on the page leaves cookies that the API (and so the websocket) accepts.
func TestPageCookiesAuthenticateAPI(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	res := f.get(t, "", "/", admin)
	cs := res.resp.Cookies()
	if len(cs) != 2 {
		t.Fatalf("page set %d cookies, want 2", len(cs))
	}
	if res := f.get(t, "", "/v1/sessions", cookies(cs...)); res.status != http.StatusOK {
		t.Errorf("API with page cookies: status %d, want 200: %s", res.status, res.body)
	}
}

// tokenLifetime decodes a token's exp - iat.
func tokenLifetime(t *testing.T, tok string) time.Duration {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Iat, Exp int64 }
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return time.Duration(c.Exp-c.Iat) * time.Second
}

// TestAuthMaxAge checks MaxScale's max-age rules: seconds from 1 to
// 2147483646, anything else ignored, capped by admin_jwt_max_age, which
// also lowers the 8h default; persisted cookies get a Max-Age only when
// max-age was given.
func TestAuthMaxAge(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name      string
		cap       time.Duration
		query     string
		want      time.Duration
		cookieAge time.Duration // 0: session cookies
	}{
		{"default", 0, "", 8 * h, 0},
		{"one hour", 0, "max-age=3600", h, h},
		{"one second", 0, "max-age=1", time.Second, time.Second},
		{"at the default cap", 0, "max-age=86400", 24 * h, 24 * h},
		{"over the default cap", 0, "max-age=172800", 24 * h, 24 * h},
		{"largest accepted", 0, "max-age=2147483646", 24 * h, 24 * h},
		{"too large is ignored", 0, "max-age=2147483647", 8 * h, 0},
		{"zero is ignored", 0, "max-age=0", 8 * h, 0},
		{"negative is ignored", 0, "max-age=-60", 8 * h, 0},
		{"not a number is ignored", 0, "max-age=1h", 8 * h, 0},
		{"empty is ignored", 0, "max-age=", 8 * h, 0},
		{"configured cap", 2 * h, "max-age=10800", 2 * h, 2 * h},
		{"under the configured cap", 2 * h, "max-age=60", time.Minute, time.Minute},
		{"cap below the default lowers it", h, "", h, 0},
		{"cap above the default keeps it", 48 * h, "", 8 * h, 0},
		{"long configured cap", 48 * h, "max-age=172800", 48 * h, 48 * h},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{tokenMaxAge: tt.cap})
			sep := ""
			if tt.query != "" {
				sep = "&"
			}
			res := f.get(t, "", "/v1/auth?"+tt.query, admin)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var doc struct{ Meta struct{ Token string } }
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatal(err)
			}
			if got := tokenLifetime(t, doc.Meta.Token); got != tt.want {
				t.Errorf("token lifetime = %v, want %v", got, tt.want)
			}

			res = f.get(t, "", "/v1/auth?"+tt.query+sep+"persist=yes", admin)
			if res.status != http.StatusNoContent {
				t.Fatalf("persist: status %d: %s", res.status, res.body)
			}
			var body, sig *http.Cookie
			for _, c := range res.resp.Cookies() {
				if c.MaxAge != int(tt.cookieAge.Seconds()) {
					t.Errorf("%s MaxAge = %d, want %d", c.Name, c.MaxAge, int(tt.cookieAge.Seconds()))
				}
				switch c.Name {
				case "token_body":
					body = c
				case "token_sig":
					sig = c
				}
			}
			if body == nil || sig == nil {
				t.Fatalf("Set-Cookie = %q", res.header.Values("Set-Cookie"))
			}
			if got := tokenLifetime(t, body.Value+"."+sig.Value); got != tt.want {
				t.Errorf("cookie token lifetime = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAuthLogout checks that logout=yes drops both cookies, with or without
// valid credentials: an expired session must be able to log out.
func TestAuthLogout(t *testing.T) {
	tests := []struct {
		name       string
		opts       fixtureOpts
		auth       func(*fixture, *testing.T) auth
		wantSecure bool
	}{
		{"with the cookies", fixtureOpts{}, func(f *fixture, t *testing.T) auth { return cookies(f.persistCookiesFor(t)...) }, false},
		{"without credentials", fixtureOpts{}, func(*fixture, *testing.T) auth { return noAuth }, false},
		{"with stale cookies", fixtureOpts{}, func(_ *fixture, t *testing.T) auth {
			return cookies(newFixture(t, fixtureOpts{}).persistCookiesFor(t)...)
		}, false},
		{"over plain HTTP with admin_secure_gui", fixtureOpts{secureGUI: true}, func(*fixture, *testing.T) auth { return noAuth }, false},
		{"over https", fixtureOpts{tls: true, secureGUI: true}, func(f *fixture, t *testing.T) auth { return cookies(f.persistCookiesFor(t)...) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			res := f.get(t, "", "/v1/auth?logout=yes", tt.auth(f, t))
			if res.status != http.StatusNoContent || len(res.body) != 0 {
				t.Fatalf("status = %d, body %q; want 204 and no body", res.status, res.body)
			}
			got := map[string]*http.Cookie{}
			for _, c := range res.resp.Cookies() {
				got[c.Name] = c
			}
			for name, httpOnly := range map[string]bool{"token_body": false, "token_sig": true} {
				c := got[name]
				if c == nil {
					t.Fatalf("no %s cookie in %q", name, res.header.Values("Set-Cookie"))
				}
				// net/http reads Max-Age=0, "delete now", as -1.
				if c.MaxAge >= 0 || c.Value != "" {
					t.Errorf("%s = %q with MaxAge %d, want it deleted", name, c.Value, c.MaxAge)
				}
				if c.Path != "/" || c.HttpOnly != httpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure != tt.wantSecure {
					t.Errorf("%s attributes = %+v: a deletion must match the cookie it deletes", name, c)
				}
			}
		})
	}
}

// persistCookiesFor logs admin in with persist=yes.
func (f *fixture) persistCookiesFor(t *testing.T) []*http.Cookie {
	t.Helper()
	body, sig := f.persistCookies(t)
	return []*http.Cookie{body, sig}
}

// TestAuthSecureGUI checks admin_secure_gui: tokens are not handed out over
// plain HTTP, as in MaxScale, while the API itself stays usable with Basic.
func TestAuthSecureGUI(t *testing.T) {
	tests := []struct {
		name        string
		opts        fixtureOpts
		path        string
		auth        auth
		status      int
		body        string
		wantCookies bool
	}{
		{"auth over http", fixtureOpts{secureGUI: true}, "/v1/auth", admin, http.StatusUnauthorized, errorBody("Connection is not encrypted"), false},
		{"auth over http without credentials", fixtureOpts{secureGUI: true}, "/v1/auth", noAuth, http.StatusUnauthorized, errorBody("Connection is not encrypted"), false},
		{"persist over http", fixtureOpts{secureGUI: true}, "/auth?persist=yes", admin, http.StatusUnauthorized, errorBody("Connection is not encrypted"), false},
		{"auth over https", fixtureOpts{secureGUI: true, tls: true}, "/v1/auth?persist=yes", admin, http.StatusNoContent, "", true},
		{"auth over http when allowed", fixtureOpts{}, "/v1/auth?persist=yes", admin, http.StatusNoContent, "", true},
		{"API over http", fixtureOpts{secureGUI: true}, "/v1/sessions", admin, http.StatusOK, "", false},
		{"page over http", fixtureOpts{secureGUI: true}, "/", admin, http.StatusForbidden, "", false},
		{"page over http without credentials", fixtureOpts{secureGUI: true}, "/", noAuth, http.StatusForbidden, "", false},
		{"page over https", fixtureOpts{secureGUI: true, tls: true}, "/", admin, http.StatusOK, pagesBody, true},
		{"page over http when allowed", fixtureOpts{}, "/", admin, http.StatusOK, pagesBody, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			res := f.get(t, "", tt.path, tt.auth)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.body != "" && string(res.body) != tt.body {
				t.Errorf("body = %s, want %s", res.body, tt.body)
			}
			if tt.status == http.StatusForbidden && !strings.Contains(string(res.body), "admin_secure_gui=false") {
				t.Errorf("the refusal does not say how to allow plain HTTP: %s", res.body)
			}
			if got := len(res.resp.Cookies()) == 2; got != tt.wantCookies {
				t.Errorf("Set-Cookie = %q, want token cookies: %v", res.header.Values("Set-Cookie"), tt.wantCookies)
			}
			if res.header.Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate = %q, want none", res.header.Get("WWW-Authenticate"))
			}
		})
	}
}

// TestAuthEndpointDenied checks that a failed login at /auth is not
// challenged, as in MaxScale: /auth is for programs, which show their own
// login form.
func TestAuthEndpointDenied(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		name string
		auth auth
	}{
		{"no credentials", noAuth},
		{"wrong password", basic(adminUser, "x")},
		{"bad bearer", bearer("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.get(t, "", "/v1/auth", tt.auth)
			if res.status != http.StatusUnauthorized || string(res.body) != errorBody("Access denied") {
				t.Fatalf("status = %d, body %s; want 401 Access denied", res.status, res.body)
			}
			if got := res.header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("WWW-Authenticate = %q, want none", got)
			}
		})
	}
}

// TestPageStaleCookies checks that cookies the server no longer accepts,
// after a restart say, do not lock a browser out of the dashboard: Basic
// decides, and the cookies are replaced or dropped.
func TestPageStaleCookies(t *testing.T) {
	tests := []struct {
		name       string
		login      auth
		status     int
		wantMaxAge int // of the cookies set: > 0 replaced, < 0 dropped
	}{
		{"with valid basic", admin, http.StatusOK, int((8 * time.Hour).Seconds())},
		{"without basic", noAuth, http.StatusUnauthorized, -1},
		{"with a wrong password", basic(adminUser, "x"), http.StatusUnauthorized, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			stale := newFixture(t, fixtureOpts{}).persistCookiesFor(t)
			res := f.get(t, "", "/", func(r *http.Request) { tt.login(r); cookies(stale...)(r) })
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.status == http.StatusUnauthorized && res.header.Get("WWW-Authenticate") == "" {
				t.Error("no Basic challenge: the browser would never ask for a password")
			}
			got := res.resp.Cookies()
			if len(got) != 2 {
				t.Fatalf("Set-Cookie = %q, want the two token cookies", res.header.Values("Set-Cookie"))
			}
			for _, c := range got {
				if c.MaxAge != tt.wantMaxAge {
					t.Errorf("%s MaxAge = %d, want %d", c.Name, c.MaxAge, tt.wantMaxAge)
				}
			}
			if tt.wantMaxAge > 0 {
				if res := f.get(t, "", "/v1/sessions", cookies(got...)); res.status != http.StatusOK {
					t.Errorf("replacement cookies: status %d, want 200", res.status)
				}
			}
		})
	}
}
