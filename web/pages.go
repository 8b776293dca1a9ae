package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/a-h/templ"
	g "maragu.dev/gomponents"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/web/sessionrow"
)

// Sessions is what the pages need from the session registry.
type Sessions interface {
	List() (uint64, []core.Session)
	Now() time.Time
}

var (
	_ Sessions = (*core.Registry)(nil)
	_ g.Node   = sessionrow.Row{}
)

// Pages serves the dashboard's HTML pages.
type Pages struct {
	sessions Sessions
	log      *slog.Logger
	mux      *http.ServeMux
}

// NewPages returns the page handlers.
func NewPages(sessions Sessions, logger *slog.Logger) *Pages {
	p := &Pages{sessions: sessions, log: logger, mux: http.NewServeMux()}
	p.mux.HandleFunc("GET /{$}", p.home)
	return p
}

func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	rev, list := p.sessions.List()
	now := p.sessions.Now()
	vm := SessionsPage{Rev: strconv.FormatUint(rev, 10), Rows: make([]sessionrow.Row, len(list))}
	for i, s := range list {
		vm.Rows[i] = RowOf(s, now)
	}
	p.render(w, r, sessionsPage(vm))
}

// ServeLogin renders the sign-in form with status and an explanation. The
// server shows it wherever a page needs a login, so it works without
// JavaScript.
func (p *Pages) ServeLogin(w http.ResponseWriter, r *http.Request, status int, message string) {
	p.renderStatus(w, r, status, loginPage(LoginPage{Message: message}))
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, c templ.Component) {
	p.renderStatus(w, r, http.StatusOK, c)
}

func (p *Pages) renderStatus(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		p.log.Error("render page", "path", r.URL.Path, "err", err)
	}
}

// RowOf is the view model of one session, as of now.
func RowOf(s core.Session, now time.Time) sessionrow.Row {
	return sessionrow.Row{
		ID:        s.ID.String(),
		User:      s.User,
		Remote:    s.Remote,
		Service:   s.Service,
		State:     string(s.State),
		Connected: s.Connected.Local().Format(core.ConnectedLayout),
		Idle:      strconv.FormatFloat(s.Idle(now).Seconds(), 'f', 1, 64),
	}
}

// rows renders the table body through gomponents, whose nodes are the same
// sessionrow.Row values the WASM client renders.
func rows(list []sessionrow.Row) templ.Component {
	node := g.Map(list, func(r sessionrow.Row) g.Node { return r })
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		return node.Render(w)
	})
}
