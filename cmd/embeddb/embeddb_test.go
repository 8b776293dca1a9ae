package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/sirupsen/logrus"
)

func TestMain(m *testing.M) {
	// go-mysql-server logs every connection through logrus, a process-wide
	// logger: keep the test output to the tests'.
	logrus.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// startDemo starts the server on a free loopback port with the demo schema
// that `go tool task run` loads, and stops it when the test ends.
func startDemo(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile("../portico/devdb/demo.sql")
	if err != nil {
		t.Fatalf("read demo.sql: %v", err)
	}
	srv, err := Start(context.Background(), Config{
		Addr:   "127.0.0.1:0",
		Schema: string(script),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		<-srv.Done()
	})
	return srv.Addr().String()
}

func open(t *testing.T, addr, user, password, db string) *sql.DB {
	t.Helper()
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "tcp", addr, user, password, db
	conn, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestDemoAccounts(t *testing.T) {
	addr := startDemo(t)
	tests := []struct {
		user, password, db, query string
		want                      int
	}{
		{"maxuser", "maxpwd", "", "SELECT COUNT(*) FROM shop.products", 12},
		{"shop_app", "demo", "shop", "SELECT COUNT(*) FROM customers", 10},
		{"shop_ro", "demo", "shop", "SELECT COUNT(*) FROM orders", 10},
		{"reporting", "demo", "analytics", "SELECT COUNT(*) FROM events", 16},
		{"etl", "demo", "analytics", "SELECT COUNT(*) FROM events WHERE kind = 'checkout'", 3},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			var got int
			if err := open(t, addr, tt.user, tt.password, tt.db).QueryRow(tt.query).Scan(&got); err != nil {
				t.Fatalf("%s: %v", tt.query, err)
			}
			if got != tt.want {
				t.Errorf("%s = %d, want %d", tt.query, got, tt.want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	addr := startDemo(t)
	tests := []struct {
		name, user, password, db, stmt string
		wantNumber                     uint16
	}{
		// A wrong password must read as one, through Portico too.
		{"wrong password", "shop_app", "nope", "shop", "SELECT 1", 1045},
		// The setup superuser is gone once the port opens. go-mysql-server
		// v0.20.0 answers an unknown user with 2012 (clients may report
		// a malformed packet), not 1045: what matters is the refusal.
		{"no root", "root", "", "", "SELECT 1", 2012},
		// portico load turns an account read-only on 1142, as on MariaDB.
		{"read-only write", "shop_ro", "demo", "shop", "DELETE FROM orders WHERE id = 1", errTableAccessDenied},
		{"other database", "shop_app", "demo", "shop", "SELECT COUNT(*) FROM analytics.events", errDBAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := open(t, addr, tt.user, tt.password, tt.db).Exec(tt.stmt)
			var me *mysql.MySQLError
			if !errors.As(err, &me) {
				t.Fatalf("%s: err = %v, want MySQL error %d", tt.stmt, err, tt.wantNumber)
			}
			if me.Number != tt.wantNumber {
				t.Errorf("%s: error %d (%s), want %d", tt.stmt, me.Number, me.Message, tt.wantNumber)
			}
		})
	}
}

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name, script string
		want         []string
	}{
		{"comments and blanks", "-- a comment\nSELECT 1;\n\n# another\nSELECT 2;", []string{"SELECT 1", "SELECT 2"}},
		{"semicolon in a string", "INSERT INTO t VALUES ('a;b'); SELECT 'it''s'", []string{"INSERT INTO t VALUES ('a;b')", "SELECT 'it''s'"}},
		{"dashes in a string", "SELECT '--x'", []string{"SELECT '--x'"}},
		{"no trailing semicolon", "SELECT 1", []string{"SELECT 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := splitStatements(tt.script)
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("statement %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}
