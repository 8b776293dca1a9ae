// Package loadgen is demo traffic for Portico: real MariaDB/MySQL client
// sessions, opened with go-sql-driver/mysql through a Portico listener, that
// behave like an application's. Several accounts and databases, long-lived
// and short-lived connections, busy and idle sessions and the odd slow query
// keep a dashboard alive; `portico load`, `go tool task run`, the benchmarks
// and the browser tests all drive Portico with it.
//
// A Generator keeps Config.Sessions sessions open. Each is one connection
// (one *sql.Conn of a pool that keeps no idle connection), so a session on
// the dashboard is one simulated client. A client that leaves, by its own
// lifetime, an error or the deliberate churn, is replaced at once; a failed
// login backs off and retries. Every statement of every session waits for
// one shared pacer, so Config.Rate bounds the total.
//
// The statements expect the demo schema of cmd/portico/devdb/demo.sql when
// the database is shop or analytics; other databases get statements that
// need no table.
package loadgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// DefaultUsers are the demo accounts of cmd/portico/devdb/demo.sql, in the
// form ParseAccounts reads.
const DefaultUsers = "shop_app:demo@shop,shop_ro:demo@shop,reporting:demo@analytics,etl:demo@analytics"

// Backoff after a client failed: doubled on each failure in a row, reset by
// a successful login.
const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 15 * time.Second
	// dialTimeout bounds the TCP connect of a login; the login itself is
	// bounded by the context.
	dialTimeout = 5 * time.Second
	// minChurnInterval keeps an absurd --churn from spinning.
	minChurnInterval = time.Millisecond
)

// Account is a login of the simulated clients.
type Account struct {
	User     string
	Password string
	// Database is the default database, empty for none.
	Database string
}

func (a Account) String() string {
	if a.Database == "" {
		return a.User
	}
	return a.User + "@" + a.Database
}

// ParseAccounts reads a comma-separated list of user:password[@database].
// The password ends at the last '@', so it may hold ':' but neither ',' nor
// '@'.
func ParseAccounts(s string) ([]Account, error) {
	var list []Account
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		user, rest, ok := strings.Cut(item, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("account %q: want user:password[@database]", item)
		}
		a := Account{User: user, Password: rest}
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			a.Password, a.Database = rest[:i], rest[i+1:]
			if a.Database == "" {
				return nil, fmt.Errorf("account %q: empty database after '@'", item)
			}
		}
		list = append(list, a)
	}
	if len(list) == 0 {
		return nil, errors.New("no account given")
	}
	return list, nil
}

// Config is what a Generator does.
type Config struct {
	// Addr is host:port of a Portico listener (or of any MariaDB/MySQL
	// server).
	Addr string
	// Accounts are used in turn: session slot i logs in as
	// Accounts[i%len(Accounts)], so every account has its share.
	Accounts []Account
	// Sessions is how many sessions are kept open.
	Sessions int
	// Churn is how many sessions per second are ended on purpose, and so
	// replaced, besides those that end by themselves. 0: none.
	Churn float64
	// Rate caps the statements per second of all sessions together. 0: no
	// cap.
	Rate float64
	// SummaryEvery is the interval of the summary log line. 0: none.
	SummaryEvery time.Duration
	Logger       *slog.Logger
}

// Stats are counts since the Generator was made.
type Stats struct {
	// Sessions are open now.
	Sessions int
	// Connects counts successful logins.
	Connects uint64
	// Queries counts statements and pings sent, answered or not.
	Queries uint64
	// Errors counts failed logins, statements the server refused (but the
	// writes of an account that may only read) and connections that broke.
	Errors uint64
	// Replaced counts sessions ended by the churn.
	Replaced uint64
}

// account is an Account and what the sessions learnt about it.
type account struct {
	Account
	// readOnly is set once the server refused a write: its sessions then
	// only read.
	readOnly atomic.Bool
}

// Generator runs the simulated clients.
type Generator struct {
	cfg       Config
	accounts  []*account
	pace      *pacer
	log       *slog.Logger
	driverLog *slogPrinter

	open     atomic.Int64
	connects atomic.Uint64
	queries  atomic.Uint64
	errs     atomic.Uint64
	replaced atomic.Uint64

	mu sync.Mutex
	// cancels ends each slot's current client, nil between clients.
	cancels []context.CancelFunc
	lastErr error
	// warned is set once the first error has been logged as it happened;
	// later ones only reach the summary.
	warned bool
}

// New checks cfg.
func New(cfg Config) (*Generator, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("loadgen: no address")
	case len(cfg.Accounts) == 0:
		return nil, errors.New("loadgen: no account")
	case cfg.Sessions < 0 || cfg.Churn < 0 || cfg.Rate < 0 || cfg.SummaryEvery < 0:
		return nil, errors.New("loadgen: sessions, churn, rate and summary interval cannot be negative")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Generator{
		cfg:       cfg,
		pace:      newPacer(cfg.Rate),
		log:       log,
		driverLog: &slogPrinter{log: log},
		cancels:   make([]context.CancelFunc, cfg.Sessions),
	}
	for _, a := range cfg.Accounts {
		g.accounts = append(g.accounts, &account{Account: a})
	}
	return g, nil
}

// Stats are the counts so far.
func (g *Generator) Stats() Stats {
	return Stats{
		Sessions: int(g.open.Load()),
		Connects: g.connects.Load(),
		Queries:  g.queries.Load(),
		Errors:   g.errs.Load(),
		Replaced: g.replaced.Load(),
	}
}

// WaitReady logs in as the first account until it succeeds, the server
// refuses the password, or timeout passes: Portico may still be starting.
func (g *Generator) WaitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	a := g.accounts[0]
	for {
		db, err := g.pool(a, "wait")
		if err != nil {
			return err
		}
		err = db.PingContext(ctx)
		db.Close()
		if err == nil {
			return nil
		}
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == errAccessDenied {
			return fmt.Errorf("loadgen: log in as %s through %s: %w", a, g.cfg.Addr, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("loadgen: no login as %s through %s within %v: %w", a, g.cfg.Addr, timeout, err)
		case <-time.After(minBackoff):
		}
	}
}

// Run keeps the sessions open until ctx ends, then closes every one of them
// and returns.
func (g *Generator) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i := range g.cfg.Sessions {
		wg.Go(func() { g.runSlot(ctx, i) })
	}
	if g.cfg.Churn > 0 && g.cfg.Sessions > 0 {
		wg.Go(func() { g.churn(ctx) })
	}
	if g.cfg.SummaryEvery > 0 {
		wg.Go(func() { g.summarize(ctx) })
	}
	wg.Wait()
}

// runSlot keeps one session open: a client, then its replacement, and so on.
func (g *Generator) runSlot(ctx context.Context, slot int) {
	r := newRand()
	a := g.accounts[slot%len(g.accounts)]
	var backoff time.Duration
	for ctx.Err() == nil {
		cctx, cancel := context.WithCancel(ctx)
		g.setCancel(slot, cancel)
		connected, err := g.runClient(cctx, a, pickProfile(r.IntN(totalWeight)), r)
		g.setCancel(slot, nil)
		ended := cctx.Err() != nil
		cancel()
		if connected {
			backoff = 0
		}
		if err == nil || ended {
			// Its time was up, the churn chose it, or we stop.
			continue
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		// Jitter spreads the retries of sessions that failed together.
		if sleep(ctx, backoff/2+rand.N(backoff/2+1)) != nil {
			// Stopping: the failure was likely part of it, such as Portico
			// closing the sessions on the same Ctrl-C.
			return
		}
		g.noteError(err)
	}
}

func (g *Generator) setCancel(slot int, cancel context.CancelFunc) {
	g.mu.Lock()
	g.cancels[slot] = cancel
	g.mu.Unlock()
}

// churn ends a random open session every 1/Churn seconds; its slot replaces
// it at once.
func (g *Generator) churn(ctx context.Context) {
	r := newRand()
	t := time.NewTicker(max(time.Duration(float64(time.Second)/g.cfg.Churn), minChurnInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g.mu.Lock()
		n := len(g.cancels)
		start := r.IntN(n)
		for i := range n {
			slot := (start + i) % n
			if c := g.cancels[slot]; c != nil {
				c()
				g.cancels[slot] = nil
				g.replaced.Add(1)
				break
			}
		}
		g.mu.Unlock()
	}
}

// noteError counts err; the first one is logged as it happens so that a
// wrong password or address shows at once, the others in the summary.
func (g *Generator) noteError(err error) {
	g.errs.Add(1)
	g.mu.Lock()
	g.lastErr = err
	first := !g.warned
	g.warned = true
	g.mu.Unlock()
	if first {
		g.log.Warn("first error", "err", err)
	} else {
		g.log.Debug("error", "err", err)
	}
}

// summarize logs one line every SummaryEvery: at warn level, with the last
// error, when there were errors.
func (g *Generator) summarize(ctx context.Context) {
	t := time.NewTicker(g.cfg.SummaryEvery)
	defer t.Stop()
	prev, prevAt := g.Stats(), time.Now()
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		cur := g.Stats()
		qps := float64(cur.Queries-prev.Queries) / now.Sub(prevAt).Seconds()
		attrs := []any{"sessions", cur.Sessions, "queries_per_s", math.Round(qps*10) / 10,
			"errors", cur.Errors - prev.Errors, "logins", cur.Connects - prev.Connects, "replaced", cur.Replaced - prev.Replaced}
		level := slog.LevelInfo
		if cur.Errors > prev.Errors {
			level = slog.LevelWarn
			g.mu.Lock()
			attrs = append(attrs, "last_error", g.lastErr)
			g.mu.Unlock()
		}
		g.log.Log(ctx, level, "summary", attrs...)
		prev, prevAt = cur, now
	}
}

// pool is a pool for one connection of a, which it does not keep once
// closed: the caller's *sql.Conn is the session. The profile is sent as a
// connection attribute, so the dashboard shows what each client is.
func (g *Generator) pool(a *account, profile string) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr = "tcp", g.cfg.Addr
	cfg.User, cfg.Passwd, cfg.DBName = a.User, a.Password, a.Database
	cfg.Timeout = dialTimeout
	cfg.ConnectionAttributes = "program_name:portico-load,profile:" + profile
	cfg.Logger = g.driverLog
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %s: %w", a, err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(0)
	return db, nil
}

// slogPrinter sends the driver's own log lines (such as a connection it
// found broken) to the debug level: the errors reach us anyway.
type slogPrinter struct{ log *slog.Logger }

func (p *slogPrinter) Print(v ...any) { p.log.Debug("mysql driver: " + fmt.Sprint(v...)) }

func newRand() *rand.Rand { return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())) }

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pacer spaces statements evenly so that all sessions together stay under a
// rate. Each caller reserves the next free slot and sleeps until it; nil
// paces nothing.
type pacer struct {
	interval time.Duration
	mu       sync.Mutex
	next     time.Time
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{interval: time.Duration(float64(time.Second) / rate)}
}

// wait returns when the caller may send a statement.
func (p *pacer) wait(ctx context.Context) error {
	if p == nil {
		return ctx.Err()
	}
	p.mu.Lock()
	now := time.Now()
	// A quiet spell earns no burst.
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	return sleep(ctx, at.Sub(now))
}
