package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cookie names follow MaxScale: with persist=yes the JWT is split so that
// scripts can read the claims (token_body) but never the signature
// (token_sig, HttpOnly), which blocks token theft through XSS.
const (
	cookieBody = "token_body"
	cookieSig  = "token_sig"
	tokenTTL   = 8 * time.Hour
)

type authenticator struct {
	users map[string]string
	key   []byte
	now   func() time.Time
}

func newAuthenticator(users map[string]string, now func() time.Time) *authenticator {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &authenticator{users: users, key: key, now: now}
}

func (a *authenticator) checkPassword(user, pass string) bool {
	want, ok := a.users[user]
	// Compare even for unknown users so timing does not reveal which exist.
	eq := subtle.ConstantTimeCompare([]byte(pass), []byte(want)) == 1
	return ok && eq
}

type claims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

var b64 = base64.RawURLEncoding

// token issues an HS256 JWT for user.
func (a *authenticator) token(user string) string {
	now := a.now()
	header := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims{Iss: "portico", Sub: user, Iat: now.Unix(), Exp: now.Add(tokenTTL).Unix()})
	signing := header + "." + b64.EncodeToString(body)
	return signing + "." + a.sign(signing)
}

func (a *authenticator) sign(s string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(s))
	return b64.EncodeToString(m.Sum(nil))
}

var errBadToken = errors.New("invalid token")

// verify returns the token's user if it is well-signed and unexpired.
func (a *authenticator) verify(tok string) (string, error) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return "", errBadToken
	}
	if !hmac.Equal([]byte(a.sign(tok[:i])), []byte(tok[i+1:])) {
		return "", errBadToken
	}
	header, payload, ok := strings.Cut(tok[:i], ".")
	if !ok {
		return "", errBadToken
	}
	hb, err := b64.DecodeString(header)
	if err != nil || string(hb) != `{"alg":"HS256","typ":"JWT"}` {
		return "", errBadToken
	}
	pb, err := b64.DecodeString(payload)
	if err != nil {
		return "", errBadToken
	}
	var c claims
	if err := json.Unmarshal(pb, &c); err != nil || c.Sub == "" {
		return "", errBadToken
	}
	if a.now().Unix() >= c.Exp {
		return "", errBadToken
	}
	if _, ok := a.users[c.Sub]; !ok {
		return "", errBadToken
	}
	return c.Sub, nil
}

type authMethod int

const (
	authNone authMethod = iota
	authBasic
	authBearer
	authCookie
)

func (a *authenticator) authenticate(r *http.Request) (string, authMethod) {
	if user, pass, ok := r.BasicAuth(); ok {
		if a.checkPassword(user, pass) {
			return user, authBasic
		}
		return "", authNone
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		if user, err := a.verify(strings.TrimPrefix(h, "Bearer ")); err == nil {
			return user, authBearer
		}
		return "", authNone
	}
	body, err1 := r.Cookie(cookieBody)
	sig, err2 := r.Cookie(cookieSig)
	if err1 == nil && err2 == nil {
		if user, err := a.verify(body.Value + "." + sig.Value); err == nil {
			return user, authCookie
		}
	}
	return "", authNone
}

func (a *authenticator) setCookies(w http.ResponseWriter, r *http.Request, user string) {
	tok := a.token(user)
	i := strings.LastIndexByte(tok, '.')
	secure := r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: cookieBody, Value: tok[:i], Path: "/", MaxAge: int(tokenTTL.Seconds()),
		SameSite: http.SameSiteStrictMode, Secure: secure})
	http.SetCookie(w, &http.Cookie{Name: cookieSig, Value: tok[i+1:], Path: "/", MaxAge: int(tokenTTL.Seconds()),
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

// requireAuth admits requests with valid Basic credentials, a bearer token or
// the token cookies. Pages additionally get the cookies after a Basic login,
// so that the browser's websocket, which cannot send Basic credentials of its
// own, is authenticated too.
func (s *Server) requireAuth(page bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			user, method := s.auth.authenticate(r)
			if method == authNone {
				w.Header().Set("WWW-Authenticate", `Basic realm="portico"`)
				s.writeErrorStatus(w, http.StatusUnauthorized, "Access denied: valid credentials are required")
				return
			}
			if isWebsocket(r) && !websocketOriginOK(r, method) {
				s.writeErrorStatus(w, http.StatusForbidden, "websocket Origin is not this admin interface")
				return
			}
			if page && method == authBasic {
				s.auth.setCookies(w, r, user)
			}
			next.ServeHTTP(w, r)
		})
	}
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

// handleAuth is MaxScale's GET /v1/auth: it trades credentials for a JWT,
// returned in the body or, with persist=yes, as cookies.
func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	user, _ := s.auth.authenticate(r)
	if r.URL.Query().Get("persist") == "yes" {
		s.auth.setCookies(w, r, user)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{"token": s.auth.token(user)}})
}
