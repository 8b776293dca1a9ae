// Package server is Portico's admin plane over HTTP: the MaxScale-compatible
// JSON:API resources, the websocket stream of session changes, and the
// authentication in front of both and of the pages it is handed.
package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/portico-db/portico/core"
)

// Sessions is what the API needs from the session registry.
type Sessions interface {
	List() (uint64, []core.Session)
	Page(offset, limit int) (total int, page []core.Session)
	Get(id core.SessionID) (core.Session, error)
	Subscribe(match func(core.Session) bool) (*core.Subscription, core.Snapshot)
	Changed(after, through uint64) ([]core.SessionID, bool)
	LastChange() (uint64, time.Time)
	Kill(id core.SessionID) error
	KillWhenIdle(id core.SessionID, ttl time.Duration) error
	ServiceCounts() map[string]core.ServiceCount
	ServiceStats() map[string]core.ServiceStats
	SetLogFlags(id core.SessionID, flags core.LogFlags) error
	Now() time.Time
}

var _ Sessions = (*core.Registry)(nil)

// ServerStates is what the API needs from the store of server states that
// monitors and the proxy keep.
type ServerStates interface {
	Get(server string) (core.ServerState, bool)
	LastChange() (uint64, time.Time)
}

var _ ServerStates = (*core.ServerStates)(nil)

// Config holds the server's dependencies.
type Config struct {
	Sessions Sessions
	Topology *core.Topology
	// ServerStates gives the servers resource its attributes.state and
	// /metrics its portico_server_up; nil knows no server's state.
	ServerStates ServerStates
	// Users are the admin accounts.
	Users Users
	// TokenKey signs the admin tokens. Kept across restarts, it keeps
	// signed-in dashboards signed in; shorter than 32 bytes, a random key
	// is made and tokens end with the process, as in MaxScale.
	TokenKey []byte
	// TokenMaxAge caps token lifetimes (admin_jwt_max_age); zero means 24h.
	TokenMaxAge time.Duration
	// InsecureGUI serves GET /auth and the dashboard's token cookies over
	// plain HTTP (admin_secure_gui=false).
	InsecureGUI bool
	// Pages serves the dashboard; it is mounted behind the same
	// authentication as the API.
	Pages http.Handler
	// Login renders the sign-in form shown to page requests without a valid
	// login. Without it they get the API's 401.
	Login LoginPage
	// Static serves the public assets (CSS, the WASM client) without
	// authentication. It gets every request under /static/, path unchanged,
	// and sets its own caching headers and encodings.
	Static http.Handler
	Logger *slog.Logger
	// StreamInterval is the minimum time between two change frames on the
	// stream; changes in between are coalesced.
	StreamInterval time.Duration
	// Stream tunes the session stream's limits.
	Stream StreamConfig
	// MetricsWithoutAuth serves GET /metrics without credentials
	// (admin_metrics_auth=false), for Prometheus servers that hold none.
	MetricsWithoutAuth bool
}

// Server is the admin HTTP server's handler set.
type Server struct {
	sessions Sessions
	topology *core.Topology
	states   ServerStates
	auth     *authenticator
	pages    http.Handler
	login    LoginPage
	static   http.Handler
	log      *slog.Logger
	epoch    string
	started  time.Time
	interval time.Duration
	streams  *hub
	metrics  http.Handler
	// metricsAuth puts /metrics behind the API's authentication.
	metricsAuth bool
}

// New returns a server for cfg.
func New(cfg Config) *Server {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	interval := cfg.StreamInterval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	s := &Server{
		sessions: cfg.Sessions,
		topology: cfg.Topology,
		states:   cfg.ServerStates,
		auth:     newAuthenticator(cfg),
		pages:    cfg.Pages,
		login:    cfg.Login,
		static:   cfg.Static,
		log:      logger,
		epoch:    newEpoch(),
		started:  cfg.Sessions.Now(),
		interval: interval,
	}
	s.streams = newHub(cfg.Sessions, s.epoch, cfg.Stream, logger)
	s.metrics = newMetricsHandler(cfg.Sessions, cfg.Topology, s.streams, newServerCollector(cfg.Topology, cfg.ServerStates))
	s.metricsAuth = !cfg.MetricsWithoutAuth
	return s
}

// newEpoch identifies this process's revision sequence, so a client resuming
// with a revision from an earlier process is told to start over.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handler returns the routes. The API answers with and without the /v1
// prefix, as MaxScale's does, and ignores trailing slashes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer, methodOverride, securityHeaders, middleware.StripSlashes, s.options(r), middleware.GetHead)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, core.Errorf(core.ENOTFOUND, "%s was not found", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeErrorStatus(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
	})
	if s.static != nil {
		// Every method: under r.Get, chi would send HEAD and POST on to the
		// pages' catch-all, behind authentication.
		r.Handle("/static/*", s.static)
	}
	r.Route("/v1", func(r chi.Router) {
		r.Get("/", s.health)
		r.Get("/auth", s.handleAuth)
		r.Group(s.api)
	})
	r.Get("/auth", s.handleAuth)
	// /metrics sits outside /v1, where Prometheus looks by default; GetHead
	// answers HEAD with it too.
	if s.metricsAuth {
		r.With(s.requireAuth(false)).Get("/metrics", s.metrics.ServeHTTP)
	} else {
		r.Get("/metrics", s.metrics.ServeHTTP)
	}
	r.Group(func(r chi.Router) {
		if s.pages != nil {
			r.Use(s.pagesForBrowsers)
		}
		s.api(r)
	})
	if s.login != nil {
		r.Post("/login", s.handleLogin)
		r.Post("/logout", s.handleLogout)
	}
	if s.pages != nil {
		r.With(s.requireAuth(true)).Handle("/*", s.pages)
	}
	return r
}

// pagesForBrowsers sends a browser's visit to /sessions/ID or /services to
// the dashboard's page of that name. Without the /v1 prefix those are REST
// resources too (MaxScale answers both ways), and only the Accept header
// tells a person's browser from a script: browsers ask for text/html,
// MaxCtrl and curl do not.
func (s *Server) pagesForBrowsers(next http.Handler) http.Handler {
	pages := s.requireAuth(true)(s.pages)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && isPagePath(r.URL.Path) &&
			strings.Contains(r.Header.Get("Accept"), "text/html") && !isWebsocket(r) {
			// The pages route on the path itself, which StripSlashes
			// leaves as it came.
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimSuffix(r.URL.Path, "/")
			r2.URL.RawPath = ""
			pages.ServeHTTP(w, r2)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isPagePath reports whether a path is both a resource and a dashboard
// page: /services and /sessions/ID, whatever ID is, so that a mistyped one
// gets the dashboard's own 404 page. /sessions/stream is the stream's.
func isPagePath(p string) bool {
	p = strings.TrimSuffix(p, "/")
	if p == "/services" {
		return true
	}
	id, ok := strings.CutPrefix(p, "/sessions/")
	return ok && id != "" && id != "stream" && !strings.Contains(id, "/")
}

func (s *Server) api(r chi.Router) {
	r.Use(s.requireAuth(false))
	r.Get("/sessions", s.listSessions)
	r.Get("/sessions/stream", s.stream)
	r.Get("/sessions/{id}", s.getSession)
	r.Delete("/sessions/{id}", s.deleteSession)
	r.Patch("/sessions/{id}", s.patchSession)
	r.Post("/sessions/restart", s.restartSessions)
	r.Post("/sessions/{id}/restart", s.restartSessions)
	r.Get("/services", s.listServices)
	r.Get("/services/{id}", s.getService)
	r.Get("/services/{id}/relationships/{rel}", s.getRelationship("services"))
	r.Get("/servers", s.listServers)
	r.Get("/servers/{id}", s.getServer)
	r.Get("/servers/{id}/relationships/{rel}", s.getRelationship("servers"))
	r.Get("/listeners", s.listListeners)
	r.Get("/listeners/{id}", s.getListener)
	r.Get("/listeners/{id}/relationships/{rel}", s.getRelationship("listeners"))
	r.Get("/monitors", s.listMonitors)
	r.Get("/monitors/{id}", s.getMonitor)
	r.Get("/monitors/{id}/relationships/{rel}", s.getRelationship("monitors"))
}

// health answers load balancers and monitors without credentials.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.respond(w, r, http.StatusOK, map[string]any{"links": links{Self: newLinker(r).base + "/"}}, time.Time{})
}

// methodOverride honours X-HTTP-Method-Override, which MaxScale accepts for
// clients that can only send GET and POST.
func methodOverride(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := r.Header.Get("X-HTTP-Method-Override"); m != "" {
			r.Method = strings.ToUpper(m)
		}
		next.ServeHTTP(w, r)
	})
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Frame-Options", "Deny")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// options answers OPTIONS with the methods the route tree allows for the path.
func (s *Server) options(routes chi.Routes) func(http.Handler) http.Handler {
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodOptions {
				next.ServeHTTP(w, r)
				return
			}
			path := r.URL.Path
			if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.RoutePath != "" {
				path = rctx.RoutePath
			}
			allowed := []string{http.MethodOptions}
			for _, m := range methods {
				if m == http.MethodHead {
					if slices.Contains(allowed, http.MethodGet) {
						allowed = append(allowed, m)
					}
					continue
				}
				if routes.Match(chi.NewRouteContext(), m, path) {
					allowed = append(allowed, m)
				}
			}
			if len(allowed) == 1 {
				s.writeError(w, r, core.Errorf(core.ENOTFOUND, "%s was not found", r.URL.Path))
				return
			}
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			w.WriteHeader(http.StatusOK)
		})
	}
}
