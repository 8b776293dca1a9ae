package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	g "maragu.dev/gomponents"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/web/sessionview"
)

// FirstPaintRows is how many rows the server renders: a tall screen's worth,
// so the first paint is quick. The live client then shows them all,
// virtually scrolled; without JavaScript the page says how many more there
// are and the search narrows them down.
const FirstPaintRows = 50

// Sessions is what the pages need from the session registry.
type Sessions interface {
	List() (uint64, []core.Session)
	Get(id core.SessionID) (core.Session, error)
	Now() time.Time
}

// History is the recent session counts, one a second, oldest first.
type History interface {
	Samples() []int
}

// ServerStates are what monitors, or failing them the proxy, last found
// each server to be.
type ServerStates interface {
	Get(server string) (core.ServerState, bool)
}

// AssetURLs names the content-hashed URL of a static file.
type AssetURLs interface {
	URL(name string) string
}

var (
	_ Sessions     = (*core.Registry)(nil)
	_ History      = (*core.CountHistory)(nil)
	_ ServerStates = (*core.ServerStates)(nil)
	_ g.Node       = sessionview.Row{}
	_ g.Node       = sessionview.Badge{}
	_ g.Node       = sessionview.Detail{}
)

// Pages serves the dashboard's HTML pages.
type Pages struct {
	sessions Sessions
	topo     *core.Topology
	states   ServerStates
	history  History
	assets   Assets
	log      *slog.Logger
	mux      *http.ServeMux
}

// NewPages returns the page handlers. states may be nil, for servers whose
// state is unknown, history nil, for a chart that starts empty, and assets
// nil, for plain /static/ URLs.
func NewPages(sessions Sessions, topo *core.Topology, states ServerStates, history History, assets AssetURLs, logger *slog.Logger) *Pages {
	url := func(name string) string { return "/static/" + name }
	if assets != nil {
		url = assets.URL
	}
	p := &Pages{
		sessions: sessions, topo: topo, states: states, history: history, log: logger, mux: http.NewServeMux(),
		assets: Assets{CSS: url("portico.css"), Icon: url("favicon.svg"), WasmExec: url("wasm_exec.js"), Boot: url("boot.js"), Wasm: url("portico.wasm")},
	}
	p.mux.HandleFunc("GET /{$}", p.home)
	p.mux.HandleFunc("GET /sessions/{id}", p.detail)
	p.mux.HandleFunc("GET /services", p.services)
	p.mux.HandleFunc("GET /", p.notFound)
	return p
}

func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func (p *Pages) chrome(title, nav string) Chrome {
	return Chrome{Title: title, Nav: nav, Assets: p.assets, Live: true}
}

func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	view := sessionview.ParseView(q.Get)
	rev, list := p.sessions.List()
	now := p.sessions.Now().UnixMilli()

	vm := SessionsPage{Chrome: p.chrome("Sessions", "sessions"), View: view, Rev: strconv.FormatUint(rev, 10), Total: len(list)}
	if p.history != nil {
		vm.Chart.Samples = p.history.Samples()
	}
	counts := map[string]int{}
	matching := make([]sessionview.Session, 0, len(list))
	connected := make(map[uint64]time.Time, min(len(list), FirstPaintRows))
	for _, s := range list {
		// Connected is formatted only for the rows shown: it is the
		// costliest field, and the id orders sessions as it would.
		v := sessionOf(s, false)
		counts[sessionview.StateKey(v.State)]++
		var hay string
		if view.Query != "" {
			hay = v.Haystack()
		}
		if view.Match(&v, hay) {
			matching = append(matching, v)
			connected[v.ID] = s.Connected
		}
	}
	for _, k := range sessionview.States {
		vm.States = append(vm.States, StateCount{Key: k, N: counts[k]})
	}
	slices.SortFunc(matching, func(a, b sessionview.Session) int { return view.Compare(&a, &b, now) })
	vm.Matching = len(matching)
	for i := range matching[:min(len(matching), FirstPaintRows)] {
		matching[i].Connected = connectedText(connected[matching[i].ID])
		vm.Rows = append(vm.Rows, sessionview.Row{Session: &matching[i], Now: now})
	}
	if p.topo != nil {
		for _, s := range p.topo.Services {
			vm.Services = append(vm.Services, s.Name)
		}
		for _, s := range p.topo.Servers {
			vm.Servers = append(vm.Servers, s.Name)
		}
	}
	p.render(w, r, http.StatusOK, sessionsPage(vm))
}

func (p *Pages) detail(w http.ResponseWriter, r *http.Request) {
	id, err := core.ParseSessionID(r.PathValue("id"))
	var s core.Session
	if err == nil {
		s, err = p.sessions.Get(id)
	}
	if err != nil {
		p.render(w, r, http.StatusNotFound, notFoundPage(NotFoundPage{
			Chrome:  p.chrome("Not found", "sessions"),
			Message: "Session " + r.PathValue("id") + " has ended or never existed.",
		}))
		return
	}
	d := DetailOf(s, p.sessions.Now())
	p.render(w, r, http.StatusOK, detailPage(DetailPage{Chrome: p.chrome("Session "+idText(d.ID), "sessions"), Detail: d}))
}

func (p *Pages) services(w http.ResponseWriter, r *http.Request) {
	_, list := p.sessions.List()
	counts := map[string]int{}
	for _, s := range list {
		counts[s.Service]++
	}
	vm := ServicesPage{Chrome: p.chrome("Services", "services")}
	if p.topo != nil {
		for _, svc := range p.topo.Services {
			row := ServiceRow{Name: svc.Name, Router: svc.Router, Sessions: counts[svc.Name],
				Link: "/?service=" + url.QueryEscape(svc.Name)}
			for _, name := range svc.Servers {
				item := ServerItem{Name: name}
				if srv, err := p.topo.Server(name); err == nil {
					item.Address = srv.Address + ":" + strconv.Itoa(srv.Port)
				}
				// As /v1/servers shows it: Down until a monitor or a
				// session has reached the server, as in MaxScale.
				var st core.ServerState
				if p.states != nil {
					st, _ = p.states.Get(name)
				}
				item.State, item.Up = st.String(), st.Up
				row.Servers = append(row.Servers, item)
			}
			for _, l := range p.topo.Listeners {
				if l.Service == svc.Name {
					row.Listeners = append(row.Listeners, ListenerItem{Name: l.Name, Address: l.Address + ":" + strconv.Itoa(l.Port)})
				}
			}
			vm.Services = append(vm.Services, row)
		}
	}
	p.render(w, r, http.StatusOK, servicesPage(vm))
}

func (p *Pages) notFound(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusNotFound, notFoundPage(NotFoundPage{
		Chrome: Chrome{Title: "Not found", Nav: "sessions", Assets: p.assets}, Message: r.URL.Path + " is not a page here.",
	}))
}

// ServeLogin renders the sign-in form with status and an explanation. The
// server shows it wherever a page needs a login, so it works without
// JavaScript.
func (p *Pages) ServeLogin(w http.ResponseWriter, r *http.Request, status int, message string) {
	p.render(w, r, status, loginPage(LoginPage{Message: message, Assets: p.assets}))
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := c.Render(r.Context(), w); err != nil {
		p.log.Error("render page", "path", r.URL.Path, "err", err)
	}
}

// SessionOf is the table's view of a session.
func SessionOf(s core.Session) sessionview.Session { return sessionOf(s, true) }

func connectedText(t time.Time) string { return t.Local().Format(core.ConnectedLayout) }

func sessionOf(s core.Session, withConnected bool) sessionview.Session {
	v := sessionview.Session{
		ID:           uint64(s.ID),
		User:         s.User,
		Remote:       s.Remote,
		Service:      s.Service,
		State:        string(s.State),
		LastActivity: unixMS(s.LastActivity),
		IO:           int64(s.IOActivity),
		BytesIn:      s.Traffic.BytesIn,
		BytesOut:     s.Traffic.BytesOut,
		Queries:      s.Traffic.Queries,
	}
	if withConnected {
		v.Connected = connectedText(s.Connected)
	}
	if len(s.Backends) > 0 {
		v.Server, v.ServerConn = s.Backends[0].Server, s.Backends[0].ThreadID
	}
	if st := s.LastStatement; !st.Received.IsZero() {
		v.Statement, v.StatementAt, v.StatementMS = st.Text, st.Received.UnixMilli(), -1
		if !st.Completed.IsZero() {
			v.StatementMS = st.Completed.Sub(st.Received).Milliseconds()
		}
	}
	return v
}

// DetailOf is the detail view of a session at now.
func DetailOf(s core.Session, now time.Time) sessionview.Detail {
	d := sessionview.Detail{
		Session: SessionOf(s), Now: now.UnixMilli(), Port: s.Port, Database: s.Database,
		Log:       sessionview.LogFlags{Info: s.Log.Info, Notice: s.Log.Notice, Warning: s.Log.Warning, Error: s.Log.Error},
		PacketsIn: s.Traffic.PacketsIn, PacketsOut: s.Traffic.PacketsOut, Memory: uint64(max(s.Memory.Total(), 0)),
	}
	for name, value := range s.Attributes {
		d.Attributes = append(d.Attributes, sessionview.Pair{Name: name, Value: value})
	}
	slices.SortFunc(d.Attributes, func(a, b sessionview.Pair) int { return strings.Compare(a.Name, b.Name) })
	for _, b := range s.Backends {
		d.Connections = append(d.Connections, sessionview.Conn{Server: b.Server, ID: b.ThreadID})
	}
	for _, st := range s.Statements {
		item := sessionview.Statement{Command: st.Command, Text: st.Text, Received: st.Received.Local().Format(queryTimeLayout), MS: -1}
		if !st.Completed.IsZero() {
			item.MS, item.Server = st.Completed.Sub(st.Received).Milliseconds(), st.Server
		}
		d.Statements = append(d.Statements, item)
	}
	return d
}

// queryTimeLayout is how the API prints a retained statement's times.
const queryTimeLayout = "2006-01-02T15:04:05.000"

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func idText(id uint64) string { return strconv.FormatUint(id, 10) }

// rows renders the table body through gomponents, whose nodes are the same
// sessionview.Row values the WASM client renders.
func rows(list []sessionview.Row) templ.Component {
	return node(g.Map(list, func(r sessionview.Row) g.Node { return r }))
}

// node embeds a gomponents node (such as the sessionview components) in a
// templ page.
func node(n g.Node) templ.Component {
	return templ.ComponentFunc(func(_ context.Context, w io.Writer) error {
		return n.Render(w)
	})
}
