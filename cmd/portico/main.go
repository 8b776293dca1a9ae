// Command portico is a MariaDB/MySQL-protocol proxy with a live admin plane.
// This is the only place where flags are read and the parts are wired
// together: the proxy, the session registry, the JSON:API server and the
// dashboard pages.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
	"github.com/portico-db/portico/core/monitor"
	"github.com/portico-db/portico/core/proxy"
	"github.com/portico-db/portico/server"
	"github.com/portico-db/portico/server/users"
	"github.com/portico-db/portico/static"
	"github.com/portico-db/portico/web"
)

// The pages are the server's sign-in form too; the server cannot name the web
// package, so the guard lives where the two meet.
var (
	_ server.LoginPage = (*web.Pages)(nil)
	_ web.AssetURLs    = (*static.Assets)(nil)
)

//go:embed portico.cnf
var defaultConfig []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful stop; a second one ends Portico at
	// once, the default way.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "portico:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "user" {
		return runUser(args[1:], stdin, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "sessions" {
		return runSessions(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "simulate" {
		return runSimulate(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "load" {
		return runLoad(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("portico", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath, logLevel := commonFlags(fs)
	drain := fs.Duration("drain-timeout", 30*time.Second, "on SIGTERM or Ctrl-C, how long client sessions may go on before the ones left are killed")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico [--config FILE] [--drain-timeout D]\n       portico user add|remove|list ...\n       portico sessions [--watch] ...\n       portico simulate [--sessions N] [--rate N] ...\n       portico load [--addr HOST:PORT] [--sessions N] ...\n\nPortico proxies MariaDB/MySQL clients and serves a live view of their sessions:\na MaxScale-compatible REST API, a websocket stream and a dashboard.\n`portico user` manages the accounts of that admin interface (see portico user --help).\n`portico sessions` prints a running Portico's sessions, live with --watch.\n`portico simulate` serves the admin interface over made-up, changing sessions.\n`portico load` opens real client sessions through a Portico listener, for demos.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *drain < 0 {
		return errors.New("--drain-timeout cannot be negative")
	}
	cfg, logger, err := configure(*cfgPath, *logLevel, stderr)
	if err != nil {
		return err
	}
	a, err := startDraining(ctx, cfg, logger, *drain)
	if err != nil {
		return err
	}
	a.printBanner(stdout)
	return a.wait()
}

// commonFlags defines the flags of every command that runs the admin
// interface.
func commonFlags(fs *flag.FlagSet) (cfgPath, logLevel *string) {
	cfgPath = fs.String("config", "", "`file` in maxscale.cnf format (default: the built-in example, see cmd/portico/portico.cnf)")
	logLevel = fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	return cfgPath, logLevel
}

// configure makes the logger and loads the configuration, logging what it
// ignores.
func configure(cfgPath, logLevel string, stderr io.Writer) (*config.Config, *slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if cfgPath == "" {
		logger.Info("no --config given: using the built-in default configuration")
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	return cfg, logger, nil
}

// loadConfig reads the file at path, or the built-in configuration when
// path is empty.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Parse("portico.cnf (built-in)", bytes.NewReader(defaultConfig))
	}
	return config.Load(path)
}

// usersFile is where the admin accounts are kept, after MaxScale's
// <datadir>/passwd.
func usersFile(cfg *config.Config) (string, error) {
	if cfg.DataDir == "" {
		return "", errors.New("no datadir is configured for the admin users file")
	}
	return filepath.Join(cfg.DataDir, "passwd.json"), nil
}

// app is a running Portico.
type app struct {
	cfg       *config.Config
	registry  *core.Registry
	adminAddr net.Addr
	adminTLS  bool
	users     *users.Store
	// defaultLogin reports that admin/mariadb still works, for the banner.
	defaultLogin bool
	// listenerAddrs are the bound addresses, by listener name.
	listenerAddrs map[string]net.Addr
	// states are the servers' states, written by the monitors and the
	// proxy, read by the router and the admin API.
	states *core.ServerStates

	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (a *app) fail(err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.mu.Unlock()
}

// start is startDraining without a drain: once ctx is done, the sessions
// left are killed at once.
func start(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*app, error) {
	return startDraining(ctx, cfg, logger, 0)
}

// startDraining binds every socket before serving any, so a port clash
// fails the whole start instead of leaving half a proxy running.
//
// Once ctx is done, the listeners stop accepting at once and client
// sessions may go on for up to drain; those left then are killed as an
// operator's kill does, backend thread included. The admin interface keeps
// serving until the last session has ended, so that the drain can be
// watched, and then shuts down too.
func startDraining(ctx context.Context, cfg *config.Config, logger *slog.Logger, drain time.Duration) (*app, error) {
	a, err := newApp(cfg, logger)
	if err != nil {
		return nil, err
	}
	// Before any socket: a certificate that cannot be read stops Portico
	// with the file's name, not each client with a failed handshake.
	proxyTLS, err := proxy.LoadTLS(&cfg.Topology)
	if err != nil {
		return nil, err
	}
	adminLn, err := a.listenAdmin(ctx, logger)
	if err != nil {
		return nil, err
	}
	// What serves outlives ctx by the drain.
	life, end := context.WithCancel(context.WithoutCancel(ctx))
	var lc net.ListenConfig
	listeners := make([]net.Listener, len(cfg.Topology.Listeners))
	closeAll := func() {
		end()
		adminLn.Close()
		for _, ln := range listeners {
			if ln != nil {
				ln.Close()
			}
		}
	}
	for i, l := range cfg.Topology.Listeners {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(l.Address, strconv.Itoa(l.Port)))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		listeners[i] = ln
		a.listenerAddrs[l.Name] = ln.Addr()
	}
	if err := a.serveAdmin(life, adminLn, logger); err != nil {
		closeAll()
		return nil, err
	}
	// Monitors run as long as the proxy, through a drain too, so wait
	// covers them.
	for _, m := range cfg.Topology.Monitors {
		a.wg.Go(func() {
			monitor.Run(life, monitor.Config{Monitor: m, Topology: &cfg.Topology, States: a.states,
				Logger: logger.With("component", "monitor")})
		})
	}
	// PORTICO_RELAY=goroutines relays on goroutines instead of event
	// loops, for bench:proxy to compare the two in one run.
	noLoops := os.Getenv("PORTICO_RELAY") == "goroutines"
	if loops := cmp.Or(cfg.Threads, proxy.DefaultLoops()); loops > 0 && !noLoops {
		// Each loop holds a processor while it waits in epoll_wait; the
		// handshakes, TLS sessions, the API and the monitors keep the
		// ones they had.
		n := runtime.GOMAXPROCS(0) + proxy.LoopThreads(loops)
		logger.Debug("GOMAXPROCS raised for the event loops", "threads", loops, "gomaxprocs", n)
		runtime.GOMAXPROCS(n)
	}
	px := proxy.New(proxy.Config{Registry: a.registry, Topology: &cfg.Topology, TLS: proxyTLS, States: a.states,
		Logger:      logger.With("component", "proxy"),
		NoEventLoop: noLoops,
		Loops:       cfg.Threads})
	var proxies sync.WaitGroup
	for i, l := range cfg.Topology.Listeners {
		proxies.Go(func() {
			if err := px.Serve(life, listeners[i], l); err != nil {
				a.fail(err)
			}
		})
	}
	a.wg.Go(func() {
		defer end()
		<-ctx.Done()
		a.drain(listeners, &proxies, drain, logger)
	})
	return a, nil
}

// drainKillInterval is how often a drain past its timeout kills what is
// left, which catches a session accepted just as the listeners closed.
const drainKillInterval = 500 * time.Millisecond

// drain closes the proxy's listeners, which makes each Serve wait for its
// sessions, and returns once they have all returned: within timeout if the
// sessions end on their own, else after killing them.
func (a *app) drain(listeners []net.Listener, proxies *sync.WaitGroup, timeout time.Duration, logger *slog.Logger) {
	for _, ln := range listeners {
		ln.Close()
	}
	done := make(chan struct{})
	go func() {
		proxies.Wait()
		close(done)
	}()
	if _, list := a.registry.List(); len(list) > 0 {
		logger.Info("stopping: no longer accepting clients; open sessions may go on",
			"sessions", len(list), "drain_timeout", timeout)
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-done:
		return
	case <-deadline.C:
	}
	_, left := a.registry.List()
	if len(left) > 0 {
		logger.Warn("drain timeout: killing the sessions left", "sessions", len(left))
	}
	tick := time.NewTicker(drainKillInterval)
	defer tick.Stop()
	for {
		for _, s := range left {
			_ = a.registry.Kill(s.ID)
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
		_, left = a.registry.List()
	}
}

// newApp is a Portico with its admin accounts and an empty registry, serving
// nothing yet.
func newApp(cfg *config.Config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, registry: core.NewRegistry(nil), states: core.NewServerStates(), listenerAddrs: map[string]net.Addr{}}
	if err := a.openUsers(logger); err != nil {
		return nil, err
	}
	return a, nil
}

// listenAdmin binds the admin interface, behind TLS when the configuration
// has a certificate.
func (a *app) listenAdmin(ctx context.Context, logger *slog.Logger) (net.Listener, error) {
	tlsConfig, err := adminTLSConfig(a.cfg)
	if err != nil {
		return nil, err
	}
	if tlsConfig == nil && a.cfg.AdminSecureGUI {
		logger.Warn("admin_secure_gui is on but the admin interface has no TLS: the dashboard and GET /auth are refused; " +
			"set admin_ssl_cert and admin_ssl_key, or admin_secure_gui=false, under [maxscale]")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(a.cfg.AdminHost, strconv.Itoa(a.cfg.AdminPort)))
	if err != nil {
		return nil, fmt.Errorf("admin interface: %w", err)
	}
	a.adminAddr = ln.Addr()
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
		a.adminTLS = true
	}
	return ln, nil
}

// serveAdmin serves the REST API, the session stream and the dashboard on ln
// over a's registry until ctx ends. Whatever fills the registry, the proxy or
// a simulation, the admin plane is the same.
func (a *app) serveAdmin(ctx context.Context, ln net.Listener, logger *slog.Logger) error {
	assets, err := static.New(static.FS)
	if err != nil {
		return err
	}
	// Traffic counters reach stream clients through revisions, once a second.
	a.wg.Go(func() { a.registry.RunActivityPublisher(ctx, core.DefaultPublishInterval) })
	key, err := tokenKey(a.cfg)
	if err != nil {
		return err
	}
	// The dashboard's chart shows 15 minutes at one sample a second.
	history := core.NewCountHistory(15 * 60)
	a.wg.Go(func() { history.Run(ctx, a.registry, time.Second) })
	pages := web.NewPages(a.registry, &a.cfg.Topology, a.states, history, assets, logger.With("component", "web"))
	api := server.New(server.Config{
		Sessions:    a.registry,
		Topology:    &a.cfg.Topology,
		Users:       a.users,
		TokenKey:    key,
		TokenMaxAge: a.cfg.AdminJWTMaxAge,
		InsecureGUI: !a.cfg.AdminSecureGUI,
		// admin_metrics_auth=false lets Prometheus scrape without an account.
		MetricsWithoutAuth: !a.cfg.AdminMetricsAuth,
		ServerStates:       a.states,
		Pages:              pages,
		Login:              pages,
		Static:             assets,
		Logger:             logger.With("component", "server"),
	})
	unstarted := &unstartedConns{conns: map[net.Conn]struct{}{}}
	hs := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second,
		// TLS handshake failures and the like, which net/http would print
		// with the standard logger.
		ErrorLog:  slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
		ConnState: unstarted.track}
	hs.RegisterOnShutdown(unstarted.closeAll)
	a.wg.Go(func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.fail(fmt.Errorf("admin interface: %w", err))
		}
	})
	a.wg.Go(func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Websocket streams are hijacked connections that Shutdown does not
		// wait for: close them first (1001, going away), then the rest.
		api.CloseStreams(shutdownCtx)
		_ = hs.Shutdown(shutdownCtx)
		if err := shutdownCtx.Err(); err != nil {
			logger.Warn("admin interface: shutdown timed out; closing the connections left", "err", err)
		}
		_ = hs.Close()
	})
	return nil
}

// unstartedConns are the admin connections that have not sent a request
// yet. http.Server.Shutdown gives those 5 s, since a request may be on its
// way; but browsers open such connections ahead of need and may never use
// them, so with a dashboard open every shutdown took that long. Shutdown
// closes the listeners before it runs closeAll, so none can start after.
type unstartedConns struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (u *unstartedConns) track(c net.Conn, state http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if state == http.StateNew {
		u.conns[c] = struct{}{}
	} else {
		delete(u.conns, c)
	}
}

func (u *unstartedConns) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.conns {
		c.Close()
	}
}

// openUsers opens the admin users file, creating MaxScale's default
// admin/mariadb account when there is none, as MaxScale does.
func (a *app) openUsers(logger *slog.Logger) error {
	path, err := usersFile(a.cfg)
	if err != nil {
		return err
	}
	store, err := users.Open(path, users.Options{Logger: logger.With("component", "users")})
	if err != nil {
		return err
	}
	created, err := store.InitDefault(config.DefaultAdminUser, config.DefaultAdminPasswd)
	if err != nil {
		return fmt.Errorf("%w (set datadir under [maxscale] to a writable directory)", err)
	}
	_, a.defaultLogin = store.Authenticate(config.DefaultAdminUser, config.DefaultAdminPasswd)
	switch {
	case created:
		logger.Warn("no admin users existed: created "+config.DefaultAdminUser+" with the default password "+config.DefaultAdminPasswd+
			"; add your own with `portico user add NAME --role admin`, then remove this one", "file", path)
	case a.defaultLogin:
		logger.Warn("the " + config.DefaultAdminUser + " account still has the default password; replace it with `portico user`")
	}
	if !slices.ContainsFunc(store.List(), func(u users.User) bool { return u.Role == users.RoleAdmin }) {
		logger.Warn("no admin account: the admin interface is read-only; add one with `portico user add NAME --role admin`", "file", path)
	}
	a.users = store
	return nil
}

// adminTLSConfig loads admin_ssl_cert and admin_ssl_key; nil means plain
// HTTP.
func adminTLSConfig(cfg *config.Config) (*tls.Config, error) {
	if cfg.AdminSSLCert == "" && cfg.AdminSSLKey == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.AdminSSLCert, cfg.AdminSSLKey)
	if err != nil {
		return nil, fmt.Errorf("admin TLS (admin_ssl_cert=%s, admin_ssl_key=%s): %w", cfg.AdminSSLCert, cfg.AdminSSLKey, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: the session stream is a websocket upgrade, which
		// needs HTTP/1.1.
		NextProtos: []string{"http/1.1"},
	}, nil
}

func (a *app) wait() error {
	a.wg.Wait()
	return errors.Join(a.errs...)
}

func (a *app) printBanner(w io.Writer) {
	scheme := "http"
	if a.adminTLS {
		scheme = "https"
	}
	base := scheme + "://" + a.adminAddr.String()
	login, curl := "an account from "+a.users.Path()+" (see portico user list)", "USER"
	if a.defaultLogin {
		login = config.DefaultAdminUser + " / " + config.DefaultAdminPasswd + " (the default: change it with portico user)"
		curl = config.DefaultAdminUser + ":" + config.DefaultAdminPasswd
	}
	fmt.Fprintf(w, "Portico is running.\n\n  Dashboard: %s/\n  Login:     %s\n  REST API:  curl -u %s %s/v1/sessions\n\n", base, login, curl, base)
	for _, l := range a.cfg.Topology.Listeners {
		host, port, _ := net.SplitHostPort(a.listenerAddrs[l.Name].String())
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		line := "mariadb -h " + host + " -P " + port
		if l.SSL {
			line += " --ssl"
		}
		if svc, err := a.cfg.Topology.Service(l.Service); err == nil && svc.User != "" {
			line += " -u " + svc.User
			if svc.Password != "" {
				line += " -p" + svc.Password
			}
		}
		fmt.Fprintf(w, "  Listener %s (service %s):\n    %s\n", l.Name, l.Service, line)
	}
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}

// parseFlags parses a command's flags and refuses arguments it does not take.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
