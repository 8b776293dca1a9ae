package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// issueToken trades admin's Basic credentials for a token at GET /v1/auth.
func (f *fixture) issueToken(t *testing.T) string {
	t.Helper()
	res := f.get(t, "", "/v1/auth", admin)
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
	res := f.get(t, "", "/v1/auth?persist=yes", admin)
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

	tests := []struct {
		name string
		auth auth
		want int
	}{
		{"no credentials", noAuth, http.StatusUnauthorized},
		{"wrong password", basic(adminUser, "wrong"), http.StatusUnauthorized},
		{"unknown user", basic("root", adminPass), http.StatusUnauthorized},
		{"unknown user empty password", basic("root", ""), http.StatusUnauthorized},
		{"basic", admin, http.StatusOK},
		{"bearer", bearer(tok), http.StatusOK},
		{"cookies", cookies(body, sig), http.StatusOK},
		{"bearer with changed subject", bearer(retoken(t, tok, asRoot)), http.StatusUnauthorized},
		{"bearer with extended expiry", bearer(retoken(t, tok, func(c map[string]any) { c["exp"] = c["exp"].(float64) + 3600 })), http.StatusUnauthorized},
		{"bearer with changed signature", bearer(unsigned + "." + flipLast(tokSig)), http.StatusUnauthorized},
		{"bearer without signature", bearer(unsigned), http.StatusUnauthorized},
		{"bearer alg none", bearer(none + "."), http.StatusUnauthorized},
		{"bearer alg none keeping signature", bearer(none + "." + tokSig), http.StatusUnauthorized},
		{"bearer from another server", bearer(other), http.StatusUnauthorized},
		{"bearer garbage", bearer("garbage"), http.StatusUnauthorized},
		{"bearer empty", bearer(""), http.StatusUnauthorized},
		{"only the body cookie", cookies(body), http.StatusUnauthorized},
		{"only the signature cookie", cookies(sig), http.StatusUnauthorized},
		{"cookie body tampered", cookies(&http.Cookie{Name: body.Name, Value: first(splitSig(rootCookieTok))}, sig), http.StatusUnauthorized},
		{"cookie signature from another server", cookies(body, &http.Cookie{Name: sig.Name, Value: otherSig}), http.StatusUnauthorized},
		{"wrong password beats valid cookies", func(r *http.Request) { basic(adminUser, "x")(r); cookies(body, sig)(r) }, http.StatusUnauthorized},
		{"bad bearer beats valid cookies", func(r *http.Request) { bearer("x")(r); cookies(body, sig)(r) }, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.get(t, "", "/v1/sessions", tt.auth)
			if res.status != tt.want {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.want, res.body)
			}
			if tt.want != http.StatusUnauthorized {
				return
			}
			if got := res.header.Get("WWW-Authenticate"); got != `Basic realm="portico"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if want := errorBody("Access denied: valid credentials are required"); string(res.body) != want {
				t.Errorf("body = %s, want %s", res.body, want)
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
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Iat int64  `json:"iat"`
		Exp int64  `json:"exp"`
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
				if c.MaxAge != int((8 * time.Hour).Seconds()) {
					t.Errorf("%s MaxAge = %d, want 8h", name, c.MaxAge)
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
