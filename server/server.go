// Package server is Portico's admin plane over HTTP: the MaxScale-compatible
// JSON:API resources, the websocket stream of session changes, and the
// authentication in front of both and of the pages it is handed.
package server

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/portico-db/portico/core"
)

// Sessions is what the API needs from the session registry.
type Sessions interface {
	List() (uint64, []core.Session)
	Get(id core.SessionID) (core.Session, error)
	Subscribe(match func(core.Session) bool) (*core.Subscription, core.Snapshot)
	Now() time.Time
}

var _ Sessions = (*core.Registry)(nil)

// Config holds the server's dependencies.
type Config struct {
	Sessions Sessions
	Topology *core.Topology
	// Users maps admin user names to passwords.
	Users map[string]string
	// Pages serves the dashboard; it is mounted behind the same
	// authentication as the API.
	Pages http.Handler
	// Static holds public assets (CSS, the WASM client), served under /static/.
	Static fs.FS
	Logger *slog.Logger
	// StreamInterval is the minimum time between two change frames on the
	// stream; changes in between are coalesced.
	StreamInterval time.Duration
}

// Server is the admin HTTP server's handler set.
type Server struct {
	sessions Sessions
	topology *core.Topology
	auth     *authenticator
	pages    http.Handler
	static   fs.FS
	log      *slog.Logger
	epoch    string
	interval time.Duration
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
	return &Server{
		sessions: cfg.Sessions,
		topology: cfg.Topology,
		auth:     newAuthenticator(cfg.Users, cfg.Sessions.Now),
		pages:    cfg.Pages,
		static:   cfg.Static,
		log:      logger,
		epoch:    newEpoch(),
		interval: interval,
	}
}

// newEpoch identifies this process's revision sequence, so a client resuming
// with a revision from an earlier process is told to start over.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, core.Errorf(core.ENOTFOUND, "%s was not found", r.URL.Path))
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeErrorStatus(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path)
	})
	if s.static != nil {
		// The WASM client is about 2 MB raw and 0.6 MB gzipped.
		r.With(middleware.Compress(5, "application/wasm", "text/css", "text/javascript")).
			Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(s.static)))
	}
	r.Route("/v1", func(r chi.Router) {
		r.Use(s.requireAuth(false))
		r.Get("/auth", s.handleAuth)
		r.Get("/sessions", s.listSessions)
		r.Get("/sessions/", s.listSessions)
		r.Get("/sessions/stream", s.stream)
		r.Get("/sessions/{id}", s.getSession)
		r.Get("/services", s.listServices)
		r.Get("/services/", s.listServices)
		r.Get("/services/{id}", s.getService)
		r.Get("/servers", s.listServers)
		r.Get("/servers/", s.listServers)
		r.Get("/servers/{id}", s.getServer)
	})
	if s.pages != nil {
		r.With(s.requireAuth(true)).Handle("/*", s.pages)
	}
	return r
}
