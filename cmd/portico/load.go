package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/portico-db/portico/cmd/portico/loadgen"
	"github.com/portico-db/portico/core/config"
)

const loadAbout = `Opens real MariaDB/MySQL client sessions through a Portico listener and keeps
--sessions of them open, so that the dashboard has something to show. Each
session is a simulated client with a profile, chosen by weight:

  busy         a statement every 0.2-2 s, some writes, for 1-10 minutes (35%)
  idle         one query, then a ping every 30-90 s, for 2-15 minutes (25%)
  short-lived  1-5 statements, then it disconnects (20%)
  slow         now and then SELECT SLEEP(2..8), otherwise reports (10%)
  reporting    an aggregate query every 2-10 s (10%)

The profile is sent as the connection attribute "profile". Sessions log in
as the --users accounts in turn and run statements that suit their
database: the demo schema's shop and analytics, or statements that need no
table for any other. The default accounts and that schema are in
cmd/portico/devdb/demo.sql, which go tool task db:start loads.

A session that ends is replaced at once; --churn ends some on purpose. An
account whose writes are refused for want of a grant only reads from then
on; a failed login backs off and retries. A summary is logged every
--summary: at info level, at warn level when there were errors.

It first waits up to --wait for a login to succeed, as Portico may still be
starting. Ctrl-C closes every session and stops it.
`

// runLoad is `portico load`.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "`host:port` of a Portico listener (default: the first listener of the configuration)")
	sessions := fs.Int("sessions", 50, "keep `n` client sessions open")
	churn := fs.Float64("churn", 0.5, "end `n` sessions per second on purpose, to be replaced, besides those that end by themselves (0: none)")
	rate := fs.Float64("rate", 50, "send at most `n` statements per second, all sessions together (0: no limit)")
	usersList := fs.String("users", loadgen.DefaultUsers, "the `accounts` to log in as, in turn: a comma-separated list of user:password[@database]")
	duration := fs.Duration("duration", 0, "stop after `duration` (0: run until interrupted)")
	wait := fs.Duration("wait", 30*time.Second, "wait up to `duration` for the first login to succeed")
	summary := fs.Duration("summary", 10*time.Second, "log a summary every `interval` (0: never)")
	cfgPath, logLevel := commonFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico load [--addr HOST:PORT] [--sessions N] [--churn N] [--rate N] [--users LIST] [flags]\n\n%s\nFlags:\n", loadAbout)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *sessions < 0 || *churn < 0 || *rate < 0 || *duration < 0 || *wait < 0 || *summary < 0 {
		fs.Usage()
		return errors.New("load: --sessions, --churn, --rate, --duration, --wait and --summary cannot be negative")
	}
	accounts, err := loadgen.ParseAccounts(*usersList)
	if err != nil {
		fs.Usage()
		return fmt.Errorf("load: --users: %w", err)
	}
	cfg, logger, err := configure(*cfgPath, *logLevel, stderr)
	if err != nil {
		return err
	}
	if *addr == "" {
		if *addr, err = firstListener(cfg); err != nil {
			return err
		}
	}
	g, err := loadgen.New(loadgen.Config{
		Addr: *addr, Accounts: accounts, Sessions: *sessions, Churn: *churn, Rate: *rate,
		SummaryEvery: *summary, Logger: logger.With("component", "load"),
	})
	if err != nil {
		return err
	}
	if err := g.WaitReady(ctx, *wait); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	names := make([]string, len(accounts))
	for i, a := range accounts {
		names[i] = a.String()
	}
	limit := "no limit"
	if *rate > 0 {
		limit = "at most " + strconv.FormatFloat(*rate, 'f', -1, 64) + " statements/s"
	}
	fmt.Fprintf(stdout, "Load: %d sessions through %s as %s; churn %s/s, %s.\n",
		*sessions, *addr, strings.Join(names, ", "), strconv.FormatFloat(*churn, 'f', -1, 64), limit)

	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	began := time.Now()
	g.Run(ctx)
	st := g.Stats()
	fmt.Fprintf(stdout, "Load stopped after %v: %d statements, %d errors, %d logins, %d sessions replaced by churn.\n",
		time.Since(began).Round(time.Second), st.Queries, st.Errors, st.Connects, st.Replaced)
	return nil
}

// firstListener is where the configuration's first listener accepts
// clients, on loopback when it listens on every address.
func firstListener(cfg *config.Config) (string, error) {
	if len(cfg.Topology.Listeners) == 0 {
		return "", errors.New("load: the configuration has no listener: give --addr")
	}
	l := cfg.Topology.Listeners[0]
	host := l.Address
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(l.Port)), nil
}
