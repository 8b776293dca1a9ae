package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portico-db/portico/server/users"
)

// Users is what authentication needs from the admin accounts.
type Users interface {
	Authenticate(user, pass string) (users.Role, bool)
	Role(user string) (users.Role, bool)
}

var _ Users = (*users.Store)(nil)

// Cookie names follow MaxScale: with persist=yes the JWT is split so that
// scripts can read the claims (token_body) but never the signature
// (token_sig, HttpOnly), which blocks token theft through XSS.
const (
	cookieBody = "token_body"
	cookieSig  = "token_sig"
	// tokenTTL is MaxScale's default token lifetime.
	tokenTTL = 8 * time.Hour
	// defaultMaxAge is MaxScale's default admin_jwt_max_age.
	defaultMaxAge = 24 * time.Hour
	// maxAgeLimit is the largest max-age MaxScale accepts.
	maxAgeLimit = 2147483646
	// minTokenKey is the shortest Config.TokenKey used: HS256's key size.
	minTokenKey = 32
)

// The error details are MaxScale's, word for word: clients match on them.
const (
	detailDenied       = "Access denied"
	detailNotAdmin     = "Administrative access required"
	detailNotEncrypted = "Connection is not encrypted"
)

type authenticator struct {
	users Users
	key   []byte
	now   func() time.Time
	// maxAge caps token lifetimes.
	maxAge time.Duration
	// insecure allows tokens and token cookies over plain HTTP.
	insecure bool
}

func newAuthenticator(cfg Config) *authenticator {
	key := cfg.TokenKey
	if len(key) < minTokenKey {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	maxAge := cfg.TokenMaxAge
	if maxAge <= 0 {
		maxAge = defaultMaxAge
	}
	return &authenticator{users: cfg.Users, key: key, now: cfg.Sessions.Now, maxAge: maxAge, insecure: cfg.InsecureGUI}
}

// defaultTTL is the lifetime of a token issued without max-age: MaxScale
// lowers it to admin_jwt_max_age when that is shorter.
func (a *authenticator) defaultTTL() time.Duration { return min(tokenTTL, a.maxAge) }

// ttl reads MaxScale's max-age parameter: seconds between 1 and 2147483646,
// anything else being ignored, capped by admin_jwt_max_age. given reports
// whether a valid value was present.
func (a *authenticator) ttl(maxAge string) (ttl time.Duration, given bool) {
	n, err := strconv.ParseInt(maxAge, 10, 64)
	if err != nil || n < 1 || n > maxAgeLimit {
		return a.defaultTTL(), false
	}
	return min(time.Duration(n)*time.Second, a.maxAge), true
}

// transportOK reports whether tokens may travel over r's connection: only
// under TLS unless admin_secure_gui=false.
func (a *authenticator) transportOK(r *http.Request) bool {
	return r.TLS != nil || a.insecure
}

type claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
	// Account is the role at issue time, which MaxScale's GUI reads from
	// token_body. Requests are authorised with the account's current role.
	Account users.Role `json:"account"`
}

var b64 = base64.RawURLEncoding

const jwtHeader = `{"alg":"HS256","typ":"JWT"}`

// token issues an HS256 JWT.
func (a *authenticator) token(id identity, ttl time.Duration) string {
	now := a.now()
	header := b64.EncodeToString([]byte(jwtHeader))
	body, _ := json.Marshal(claims{Iss: "portico", Sub: id.user, Iat: now.Unix(), Exp: now.Add(ttl).Unix(), Account: id.role})
	signing := header + "." + b64.EncodeToString(body)
	return signing + "." + a.sign(signing)
}

func (a *authenticator) sign(s string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(s))
	return b64.EncodeToString(m.Sum(nil))
}

var (
	// errBadToken answers a token that fails: 401 without a Basic
	// challenge, since the client holds no password to offer.
	errBadToken = errors.New("invalid token")
	// errBadBasic answers missing or wrong Basic credentials: 401 with a
	// Basic challenge.
	errBadBasic = errors.New("invalid credentials")
)

// verify returns the user and current role of a well-signed, unexpired token
// whose user still exists.
func (a *authenticator) verify(tok string) (identity, error) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return identity{}, errBadToken
	}
	if !hmac.Equal([]byte(a.sign(tok[:i])), []byte(tok[i+1:])) {
		return identity{}, errBadToken
	}
	header, payload, ok := strings.Cut(tok[:i], ".")
	if !ok {
		return identity{}, errBadToken
	}
	hb, err := b64.DecodeString(header)
	if err != nil || string(hb) != jwtHeader {
		return identity{}, errBadToken
	}
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return identity{}, errBadToken
	}
	var c claims
	if err := json.Unmarshal(pb, &c); err != nil || c.Sub == "" {
		return identity{}, errBadToken
	}
	if a.now().Unix() >= c.Exp {
		return identity{}, errBadToken
	}
	role, ok := a.users.Role(c.Sub)
	if !ok {
		return identity{}, errBadToken
	}
	return identity{user: c.Sub, role: role}, nil
}

type authMethod int

const (
	authNone authMethod = iota
	authBasic
	authBearer
	authCookie
)

// identity is who a request comes from and how that was established.
type identity struct {
	user   string
	role   users.Role
	method authMethod
}

// identify checks credentials in MaxScale's order: the token cookies, then a
// bearer token, then Basic. The first kind present decides; a bad token is
// not rescued by good credentials of a later kind. On failure the identity
// still tells which kind failed.
func (a *authenticator) identify(r *http.Request) (identity, error) {
	if sig, err := r.Cookie(cookieSig); err == nil && sig.Value != "" {
		body, err := r.Cookie(cookieBody)
		if err != nil {
			return identity{method: authCookie}, errBadToken
		}
		id, err := a.verify(body.Value + "." + sig.Value)
		id.method = authCookie
		return id, err
	}
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		id, err := a.verify(tok)
		id.method = authBearer
		return id, err
	}
	return a.basic(r)
}

func (a *authenticator) basic(r *http.Request) (identity, error) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return identity{}, errBadBasic
	}
	role, ok := a.users.Authenticate(user, pass)
	if !ok {
		return identity{user: user, method: authBasic}, errBadBasic
	}
	return identity{user: user, role: role, method: authBasic}, nil
}

// setCookies stores a token in the two cookies. cookieAge 0 makes them
// session cookies.
func (a *authenticator) setCookies(w http.ResponseWriter, r *http.Request, id identity, ttl time.Duration, cookieAge time.Duration) {
	tok := a.token(id, ttl)
	i := strings.LastIndexByte(tok, '.')
	a.writeCookies(w, r, tok[:i], tok[i+1:], int(cookieAge.Seconds()))
}

// clearCookies makes the browser drop the token cookies.
func (a *authenticator) clearCookies(w http.ResponseWriter, r *http.Request) {
	a.writeCookies(w, r, "", "", -1)
}

func (a *authenticator) writeCookies(w http.ResponseWriter, r *http.Request, body, sig string, maxAge int) {
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: cookieBody, Value: body, Path: "/", MaxAge: maxAge,
		SameSite: http.SameSiteStrictMode, Secure: secure})
	http.SetCookie(w, &http.Cookie{Name: cookieSig, Value: sig, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: secure})
}

// websocketOriginOK guards upgrades against cross-site websocket hijacking:
// browsers attach cookies and cached Basic credentials to cross-site
// upgrades. A browser always sends Origin, so a cookie-authenticated upgrade
// without one is refused, and any Origin present must be this host.
func websocketOriginOK(r *http.Request, method authMethod) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return method != authCookie
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// isWrite reports whether method changes state, which only admin accounts
// may do.
func isWrite(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// requireAuth admits requests with valid credentials (see identify) whose
// account may use the method. Pages additionally get the cookies after a
// Basic login, so that the browser's websocket, which cannot send Basic
// credentials of its own, is authenticated too.
func (s *Server) requireAuth(page bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if page && !s.auth.transportOK(r) {
				writeInsecurePage(w)
				return
			}
			id, err := s.auth.identify(r)
			if page && errors.Is(err, errBadToken) && id.method == authCookie {
				// Stale cookies, from before a restart say, must not lock
				// the browser out of its Basic login: Basic decides, and
				// the cookies are replaced or dropped.
				id, err = s.auth.basic(r)
				if err != nil {
					s.auth.clearCookies(w, r)
				}
			}
			if err != nil {
				s.logDenied(r, id, "authentication failed")
				if page && s.login != nil {
					s.showLogin(w, r, id)
					return
				}
				s.deny(w, r, errors.Is(err, errBadBasic))
				return
			}
			if isWrite(r.Method) && !id.role.CanWrite() {
				s.logDenied(r, id, "authorization failed: the request needs an admin account")
				if id.method == authBasic {
					s.deny(w, r, true)
				} else {
					s.writeErrorStatus(w, http.StatusForbidden, detailNotAdmin)
				}
				return
			}
			if isWebsocket(r) && !websocketOriginOK(r, id.method) {
				s.writeErrorStatus(w, http.StatusForbidden, "websocket Origin is not this admin interface")
				return
			}
			if page && id.method == authBasic {
				ttl := s.auth.defaultTTL()
				s.auth.setCookies(w, r, id, ttl, ttl)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// logDenied logs a refusal as MaxScale does with admin_log_auth_failures,
// except for requests that offered no credentials at all, which is how every
// browser starts.
func (s *Server) logDenied(r *http.Request, id identity, msg string) {
	if id.method != authNone {
		s.log.Warn(msg, "user", id.user, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	}
}

// deny answers 401. A Basic failure carries the Basic challenge, except to
// scripts that say they are XMLHttpRequests (MaxScale's GUI does), for which
// a browser would otherwise pop up its own login dialog.
func (s *Server) deny(w http.ResponseWriter, r *http.Request, basicFailure bool) {
	if basicFailure && !strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		w.Header().Set("WWW-Authenticate", `Basic realm="portico"`)
	}
	s.writeErrorStatus(w, http.StatusUnauthorized, detailDenied)
}

// insecurePage answers dashboard requests over plain HTTP while
// admin_secure_gui is on, as MaxScale answers for its GUI.
const insecurePage = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Connection not secure</title></head>
<body><p>The Portico dashboard requires HTTPS: set <code>admin_ssl_cert</code> and
<code>admin_ssl_key</code> under <code>[maxscale]</code>. To allow it over plain
HTTP, add <code>admin_secure_gui=false</code> under <code>[maxscale]</code>.</p></body></html>
`

func writeInsecurePage(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, insecurePage)
}

// isWebsocket reports whether r asks for a websocket upgrade. It must accept
// everything websocket.Accept does, which takes "websocket" anywhere in the
// Upgrade header's token lists; otherwise such an upgrade skips the Origin
// check.
func isWebsocket(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

// truthy reads a MaxScale boolean request parameter.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "true", "on", "1":
		return true
	}
	return false
}

// handleAuth is MaxScale's GET /v1/auth: it trades credentials for a JWT,
// returned in the body or, with persist=yes, as cookies; logout=yes drops
// the cookies. It authenticates by itself rather than behind requireAuth
// because MaxScale answers it differently: over plain HTTP it is refused
// before any credentials are looked at, and a failed login gets no Basic
// challenge.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if truthy(q.Get("logout")) {
		// Dropping cookies needs no credentials: an expired session must
		// be able to log out too.
		s.auth.clearCookies(w, r)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if !s.auth.transportOK(r) {
		s.writeErrorStatus(w, http.StatusUnauthorized, detailNotEncrypted)
		return
	}
	id, err := s.auth.identify(r)
	if err != nil {
		s.logDenied(r, id, "authentication failed")
		s.deny(w, r, false)
		return
	}
	ttl, given := s.auth.ttl(q.Get("max-age"))
	if truthy(q.Get("persist")) {
		// As in MaxScale, the cookies outlive the browser session only
		// when max-age asks for it.
		var cookieAge time.Duration
		if given {
			cookieAge = ttl
		}
		s.auth.setCookies(w, r, id, ttl, cookieAge)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{"token": s.auth.token(id, ttl)}})
}

// LoginPage renders the dashboard's sign-in form.
type LoginPage interface {
	ServeLogin(w http.ResponseWriter, r *http.Request, status int, message string)
}

const (
	msgExpired   = "Your session has expired. Sign in again."
	msgWrong     = "Wrong user name or password."
	msgSignedOut = "You have signed out."
)

// showLogin answers a page request that has no valid login with the sign-in
// form: 200 for a plain visit, so monitors and browsers see a working page,
// and a message saying why when there was a login that no longer works.
func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, id identity) {
	msg := ""
	if _, err := r.Cookie(cookieSig); err == nil {
		// Only a login that no longer works leaves token cookies behind.
		msg = msgExpired
		s.auth.clearCookies(w, r)
	} else if id.method == authBasic {
		msg = msgWrong
	}
	status := http.StatusOK
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status = http.StatusUnauthorized
	}
	s.login.ServeLogin(w, r, status, msg)
}

// handleLogin is the sign-in form's POST. It works without JavaScript and
// sets the same token cookies as GET /v1/auth?persist=yes.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !s.auth.transportOK(r) {
		writeInsecurePage(w)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	user, pass := r.PostFormValue("user"), r.PostFormValue("password")
	role, ok := s.auth.users.Authenticate(user, pass)
	if !ok {
		s.log.Warn("authentication failed", "user", user, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		s.login.ServeLogin(w, r, http.StatusUnauthorized, msgWrong)
		return
	}
	ttl := s.auth.defaultTTL()
	s.auth.setCookies(w, r, identity{user: user, role: role, method: authBasic}, ttl, ttl)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// handleLogout drops the token cookies and returns to the sign-in form.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	s.auth.clearCookies(w, r)
	s.login.ServeLogin(w, r, http.StatusOK, msgSignedOut)
}
