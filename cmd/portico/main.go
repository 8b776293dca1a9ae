// Command portico is a MariaDB/MySQL-protocol proxy with a live admin plane.
// This is the only place where flags are read and the parts are wired
// together: the proxy, the session registry, the JSON:API server and the
// dashboard pages.
package main

import (
	"bytes"
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
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico [--config FILE]\n       portico user add|remove|list ...\n       portico sessions [--watch] ...\n       portico simulate [--sessions N] [--rate N] ...\n       portico load [--addr HOST:PORT] [--sessions N] ...\n\nPortico proxies MariaDB/MySQL clients and serves a live view of their sessions:\na MaxScale-compatible REST API, a websocket stream and a dashboard.\n`portico user` manages the accounts of that admin interface (see portico user --help).\n`portico sessions` prints a running Portico's sessions, live with --watch.\n`portico simulate` serves the admin interface over made-up, changing sessions.\n`portico load` opens real client sessions through a Portico listener, for demos.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, logger, err := configure(*cfgPath, *logLevel, stderr)
	if err != nil {
		return err
	}
	a, err := start(ctx, cfg, logger)
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

// start binds every socket before serving any, so a port clash fails the
// whole start instead of leaving half a proxy running.
func start(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*app, error) {
	a, err := newApp(cfg, logger)
	if err != nil {
		return nil, err
	}
	adminLn, err := a.listenAdmin(ctx, logger)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	listeners := make([]net.Listener, len(cfg.Topology.Listeners))
	closeAll := func() {
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
	if err := a.serveAdmin(ctx, adminLn, logger); err != nil {
		closeAll()
		return nil, err
	}
	// Monitors run until ctx ends, like the listeners, so wait covers them.
	for _, m := range cfg.Topology.Monitors {
		a.wg.Go(func() {
			monitor.Run(ctx, monitor.Config{Monitor: m, Topology: &cfg.Topology, States: a.states,
				Logger: logger.With("component", "monitor")})
		})
	}
	px := proxy.New(proxy.Config{Registry: a.registry, Topology: &cfg.Topology, States: a.states,
		Logger: logger.With("component", "proxy")})
	for i, l := range cfg.Topology.Listeners {
		a.wg.Go(func() {
			if err := px.Serve(ctx, listeners[i], l); err != nil {
				a.fail(err)
			}
		})
	}
	return a, nil
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
	pages := web.NewPages(a.registry, &a.cfg.Topology, history, assets, logger.With("component", "web"))
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
	hs := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second,
		// TLS handshake failures and the like, which net/http would print
		// with the standard logger.
		ErrorLog: slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn)}
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
		_ = hs.Close()
	})
	return nil
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
