package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
)

// Service account that Portico itself uses on its servers (portico.cnf's
// [Read-Connection-Router] user and password); mariadb.sh creates the same.
const (
	serviceUser     = "maxuser"
	servicePassword = "maxpwd"
	// mariadb.sh creates it for the service account; keep the same set.
	serviceDatabase = "portico_demo"
)

// setupUser is the password-less superuser that runs the schema. It exists
// only while the schema loads: it is dropped before the port opens.
const setupUser = "root"

// Config is what Start needs.
type Config struct {
	// Addr is the TCP address to listen on, such as 127.0.0.1:13306;
	// port 0 picks a free one.
	Addr string
	// Schema is the SQL script run at start (demo.sql), as one string.
	Schema string
	// Logger receives the server's own messages.
	Logger *slog.Logger
}

// Server is a running in-memory database.
type Server struct {
	srv    *server.Server
	ln     net.Listener
	done   chan error
	logger *slog.Logger
}

// Start loads the schema into a new in-memory engine and starts accepting
// MySQL clients on cfg.Addr. Serve errors arrive on Done.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	pro := memory.NewDBProvider()
	engine := sqle.NewDefault(pro)

	users := engine.Analyzer.Catalog.MySQLDb
	// CREATE USER and GRANT persist the grant tables after each change and
	// panic without a persister; there is nothing to persist in memory.
	users.SetPersister(&mysql_db.NoopPersister{})
	// AddSuperUser enables the grant tables: from here on, unknown users and
	// wrong passwords are refused.
	ed := users.Editor()
	users.AddSuperUser(ed, setupUser, "localhost", "")
	ed.Close()

	if err := loadSchema(ctx, engine, pro, cfg.Schema); err != nil {
		return nil, fmt.Errorf("embeddb: load schema: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("embeddb: listen: %w", err)
	}
	srv, err := server.NewServer(server.Config{
		Protocol: "tcp",
		Listener: ln,
		// What SELECT @@version answers; clients and Portico show it.
		Version: "8.0.33-go-mysql-server-embedded",
		Options: []server.Option{withGrantErrors},
	}, engine, sql.NewContext, memory.NewSessionBuilder(pro), nil)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("embeddb: new server: %w", err)
	}
	s := &Server{srv: srv, ln: ln, done: make(chan error, 1), logger: cfg.Logger}
	go func() {
		s.done <- srv.Start()
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Done delivers the serve loop's result once it ends.
func (s *Server) Done() <-chan error { return s.done }

// Close stops accepting clients and closes the listener.
func (s *Server) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("embeddb: close: %w", err)
	}
	return nil
}

// loadSchema runs the service account's setup and then the schema script, as
// the setup superuser, and drops that superuser.
func loadSchema(ctx context.Context, engine *sqle.Engine, pro *memory.DbProvider, schema string) error {
	session := memory.NewSession(sql.NewBaseSessionWithClientServer("localhost",
		sql.Client{User: setupUser, Address: "localhost"}, 1), pro)
	sctx := sql.NewContext(ctx, sql.WithSession(session))

	stmts := []string{
		// Portico's service account, as mariadb.sh makes it. Only '%':
		// go-mysql-server matches hosts as MySQL does, and '%' covers
		// loopback.
		fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s'", serviceUser, servicePassword),
		fmt.Sprintf("GRANT ALL PRIVILEGES ON *.* TO '%s'@'%%' WITH GRANT OPTION", serviceUser),
		"CREATE DATABASE IF NOT EXISTS " + serviceDatabase,
	}
	stmts = append(stmts, splitStatements(schema)...)
	stmts = append(stmts, fmt.Sprintf("DROP USER '%s'@'localhost'", setupUser))
	for _, q := range stmts {
		if err := exec(sctx, engine, q); err != nil {
			return fmt.Errorf("%.60q: %w", q, err)
		}
	}
	return nil
}

// exec runs one statement and drains its rows: the engine does the work as
// the rows are read.
func exec(ctx *sql.Context, engine *sqle.Engine, q string) error {
	_, iter, _, err := engine.Query(ctx, q)
	if err != nil {
		return err
	}
	_, err = sql.RowIterToRows(ctx, iter)
	return err
}

// splitStatements splits a script into statements at semicolons outside
// quotes and comments, and drops the comments. It is enough for demo.sql and
// scripts like it: no DELIMITER, no stored programs.
func splitStatements(script string) []string {
	var (
		out   []string
		cur   strings.Builder
		quote rune
	)
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	rs := []rune(script)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote != 0:
			cur.WriteRune(c)
			if c == '\\' && i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
			cur.WriteRune(c)
		case c == '-' && i+1 < len(rs) && rs[i+1] == '-' && (i+2 == len(rs) || rs[i+2] == ' ' || rs[i+2] == '\t' || rs[i+2] == '\n'),
			c == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			cur.WriteRune('\n')
		case c == ';':
			flush()
		default:
			cur.WriteRune(c)
		}
	}
	flush()
	return out
}

// isClosed tells the end of a listener closed by Close from a real serve
// failure.
func isClosed(err error) bool { return err == nil || errors.Is(err, net.ErrClosed) }
