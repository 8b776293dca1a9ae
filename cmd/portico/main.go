// Command portico is a MariaDB/MySQL-protocol proxy with a live admin plane.
// This is the only place where flags are read and the parts are wired
// together: the proxy, the session registry, the JSON:API server and the
// dashboard pages.
package main

import (
	"bytes"
	"context"
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
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
	"github.com/portico-db/portico/core/proxy"
	"github.com/portico-db/portico/server"
	"github.com/portico-db/portico/static"
	"github.com/portico-db/portico/web"
)

//go:embed portico.cnf
var defaultConfig []byte

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "portico:", err)
		}
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "`file` in maxscale.cnf format (default: the built-in example, see cmd/portico/portico.cnf)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico [--config FILE]\n\nPortico proxies MariaDB/MySQL clients and serves a live view of their sessions:\na MaxScale-compatible REST API, a websocket stream and a dashboard.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var cfg *config.Config
	var err error
	if *cfgPath == "" {
		cfg, err = config.Parse("portico.cnf (built-in)", bytes.NewReader(defaultConfig))
		logger.Info("no --config given: using the built-in default configuration")
	} else {
		cfg, err = config.Load(*cfgPath)
	}
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}
	a, err := start(ctx, cfg, logger)
	if err != nil {
		return err
	}
	a.printBanner(stdout)
	return a.wait()
}

// app is a running Portico.
type app struct {
	cfg       *config.Config
	registry  *core.Registry
	adminAddr net.Addr
	// listenerAddrs are the bound addresses, by listener name.
	listenerAddrs map[string]net.Addr

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
	a := &app{cfg: cfg, registry: core.NewRegistry(nil), listenerAddrs: map[string]net.Addr{}}
	var lc net.ListenConfig
	adminLn, err := lc.Listen(ctx, "tcp", net.JoinHostPort(cfg.AdminHost, strconv.Itoa(cfg.AdminPort)))
	if err != nil {
		return nil, fmt.Errorf("admin interface: %w", err)
	}
	listeners := make([]net.Listener, len(cfg.Topology.Listeners))
	for i, l := range cfg.Topology.Listeners {
		ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort(l.Address, strconv.Itoa(l.Port)))
		if err != nil {
			adminLn.Close()
			for _, prev := range listeners[:i] {
				prev.Close()
			}
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
		listeners[i] = ln
		a.listenerAddrs[l.Name] = ln.Addr()
	}
	a.adminAddr = adminLn.Addr()

	px := proxy.New(proxy.Config{Registry: a.registry, Topology: &cfg.Topology, Logger: logger.With("component", "proxy")})
	for i, l := range cfg.Topology.Listeners {
		a.wg.Go(func() {
			if err := px.Serve(ctx, listeners[i], l); err != nil {
				a.fail(err)
			}
		})
	}

	api := server.New(server.Config{
		Sessions: a.registry,
		Topology: &cfg.Topology,
		Users:    map[string]string{config.DefaultAdminUser: config.DefaultAdminPasswd},
		Pages:    web.NewPages(a.registry, logger.With("component", "web")),
		Static:   static.FS,
		Logger:   logger.With("component", "server"),
	})
	hs := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	a.wg.Go(func() {
		if err := hs.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.fail(fmt.Errorf("admin interface: %w", err))
		}
	})
	a.wg.Go(func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// Websocket streams are hijacked connections that Shutdown does not
		// wait for; Close ends them.
		_ = hs.Shutdown(shutdownCtx)
		_ = hs.Close()
	})
	return a, nil
}

func (a *app) wait() error {
	a.wg.Wait()
	return errors.Join(a.errs...)
}

func (a *app) printBanner(w io.Writer) {
	fmt.Fprintf(w, "Portico is running.\n\n  Dashboard: http://%s/\n  Login:     %s / %s\n  REST API:  curl -u %s:%s http://%s/v1/sessions\n\n",
		a.adminAddr, config.DefaultAdminUser, config.DefaultAdminPasswd,
		config.DefaultAdminUser, config.DefaultAdminPasswd, a.adminAddr)
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
