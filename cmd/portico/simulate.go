package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/portico-db/portico/core/synthetic"
)

const simulateAbout = `Serves Portico's admin interface (REST API, session stream and dashboard) over
made-up sessions that change at a steady rate: statements start and finish,
clients ping, change user, stop and are replaced by new ones that log in, so
that the number of sessions stays at --sessions. No MariaDB is needed and
nothing is proxied. It is for measuring the dashboard under load (go tool
task bench:dashboard) and for demos.

The admin accounts, datadir and TLS settings come from the configuration as
for portico itself, so the default login is admin / mariadb. Its servers,
services and listeners are replaced by made-up ones: three services over
four servers.
`

// runSimulate is `portico simulate`.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sessions := fs.Int("sessions", 10_000, "keep `n` sessions open")
	rate := fs.Int("rate", 1000, "make `n` changes per second, spread evenly (0: the sessions never change)")
	admin := fs.String("admin", "", "`host:port` of the admin interface; port 0 picks a free one (default: admin_host and admin_port of the configuration)")
	seed := fs.Uint64("seed", 1, "`seed` of the made-up sessions and changes, for repeatable runs")
	cfgPath, logLevel := commonFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico simulate [--sessions N] [--rate N] [--admin HOST:PORT] [flags]\n\n%s\nFlags:\n", simulateAbout)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sessions < 0 || *rate < 0 {
		fs.Usage()
		return errors.New("simulate: --sessions and --rate cannot be negative")
	}
	cfg, logger, err := configure(*cfgPath, *logLevel, stderr)
	if err != nil {
		return err
	}
	if *admin != "" {
		host, port, err := net.SplitHostPort(*admin)
		if err != nil {
			return fmt.Errorf("simulate: --admin: %w", err)
		}
		if cfg.AdminPort, err = strconv.Atoi(port); err != nil || cfg.AdminPort < 0 || cfg.AdminPort > 65535 {
			return fmt.Errorf("simulate: --admin: bad port %q", port)
		}
		cfg.AdminHost = host
	}
	cfg.Topology = synthetic.Topology()

	a, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	ln, err := a.listenAdmin(ctx, logger)
	if err != nil {
		return err
	}
	// Filled before serving, so that the first request sees every session.
	src := synthetic.New(a.registry, synthetic.Config{Sessions: *sessions, Rate: *rate, Topology: &cfg.Topology, Seed: *seed})
	if err := a.serveAdmin(ctx, ln, logger); err != nil {
		ln.Close()
		return err
	}
	a.wg.Go(func() { src.Run(ctx) })
	fmt.Fprintf(stdout, "Simulating %d sessions with %d changes/s: made-up sessions, no proxy.\n", *sessions, *rate)
	a.printBanner(stdout)
	return a.wait()
}
