// Command embeddb is an in-memory, MySQL-compatible database for trying
// Portico on a machine without MariaDB: go-mysql-server on a loopback port,
// loaded with the demo schema and accounts of cmd/portico/devdb/demo.sql.
// Everything lives in memory and is gone when it stops.
//
// It is a module of its own so that the main module's builds, tests and the
// portico binary do not carry go-mysql-server (tens of MB of modules).
//
//	embeddb --addr 127.0.0.1:13306 --schema cmd/portico/devdb/demo.sql
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/sirupsen/logrus"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "embeddb:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("embeddb", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:13306", "TCP address to listen on")
	schema := fs.String("schema", "cmd/portico/devdb/demo.sql", "SQL script to run at start (the demo schema and accounts)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
	// go-mysql-server logs through logrus: every connection at info, and
	// every refused statement at warning or error level, although the
	// client got the error already. Under `task run` that would bury
	// Portico's banner, so its log shows only at --log-level debug.
	logrus.SetOutput(stderr)
	logrus.SetLevel(logrus.PanicLevel)
	if lv <= slog.LevelDebug {
		logrus.SetLevel(logrus.InfoLevel)
	}

	// An empty secure_file_priv lets LOAD DATA read any file the process can
	// (go-mysql-server warns at start); no demo needs it, so point it at a
	// directory that does not exist. It is the library's process-wide
	// setting, hence here in main rather than in Start.
	if err := sql.SystemVariables.AssignValues(map[string]any{"secure_file_priv": "/nonexistent/embeddb"}); err != nil {
		return fmt.Errorf("secure_file_priv: %w", err)
	}

	script, err := os.ReadFile(*schema)
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv, err := Start(ctx, Config{Addr: *addr, Schema: string(script), Logger: logger})
	if err != nil {
		return err
	}
	logger.Info("embedded database ready", "addr", srv.Addr().String(), "schema", *schema,
		"service_user", serviceUser, "demo_users", "shop_app shop_ro reporting etl (password demo)")

	select {
	case <-ctx.Done():
		logger.Info("stopping")
		if err := srv.Close(); err != nil {
			return err
		}
		<-srv.Done()
		return nil
	case err := <-srv.Done():
		if isClosed(err) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	}
}
