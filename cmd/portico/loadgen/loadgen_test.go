package loadgen

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseAccounts(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Account
		wantErr string
	}{
		{name: "defaults", in: DefaultUsers, want: []Account{
			{"shop_app", "demo", "shop"}, {"shop_ro", "demo", "shop"},
			{"reporting", "demo", "analytics"}, {"etl", "demo", "analytics"},
		}},
		{name: "no database", in: "maxuser:maxpwd", want: []Account{{"maxuser", "maxpwd", ""}}},
		{name: "empty password", in: "guest:@test", want: []Account{{"guest", "", "test"}}},
		{name: "colon in password, spaces and empty items", in: " a:b:c@db , ,x:y ", want: []Account{{"a", "b:c", "db"}, {"x", "y", ""}}},
		{name: "no password", in: "maxuser", wantErr: "want user:password[@database]"},
		{name: "no user", in: ":pw@db", wantErr: "want user:password[@database]"},
		{name: "empty database", in: "u:p@", wantErr: "empty database"},
		{name: "nothing", in: " , ", wantErr: "no account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAccounts(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseAccounts(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("ParseAccounts(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPickProfile(t *testing.T) {
	tests := []struct {
		n    int
		want Profile
	}{
		{0, Busy}, {34, Busy}, {35, Idle}, {59, Idle}, {60, ShortLived}, {79, ShortLived},
		{80, Slow}, {89, Slow}, {90, Reporting}, {99, Reporting},
	}
	for _, tt := range tests {
		t.Run(tt.want.String(), func(t *testing.T) {
			if got := pickProfile(tt.n); got != tt.want {
				t.Errorf("pickProfile(%d) = %v, want %v", tt.n, got, tt.want)
			}
		})
	}
	t.Run("weights", func(t *testing.T) {
		counts := map[Profile]int{}
		for n := range totalWeight {
			counts[pickProfile(n)]++
		}
		sum := 0
		for p := range numProfiles {
			sum += p.weight()
			if counts[p] != p.weight() || p.weight() == 0 {
				t.Errorf("%v picked %d times in %d, weight %d", p, counts[p], totalWeight, p.weight())
			}
		}
		if sum != totalWeight {
			t.Errorf("weights add up to %d, want %d", sum, totalWeight)
		}
	})
}

func TestNew(t *testing.T) {
	ok := Config{Addr: "127.0.0.1:4006", Accounts: []Account{{User: "u"}}, Sessions: 1}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "valid", edit: func(*Config) {}},
		{name: "no address", edit: func(c *Config) { c.Addr = "" }, wantErr: "no address"},
		{name: "no account", edit: func(c *Config) { c.Accounts = nil }, wantErr: "no account"},
		{name: "negative sessions", edit: func(c *Config) { c.Sessions = -1 }, wantErr: "cannot be negative"},
		{name: "negative churn", edit: func(c *Config) { c.Churn = -0.5 }, wantErr: "cannot be negative"},
		{name: "negative rate", edit: func(c *Config) { c.Rate = -1 }, wantErr: "cannot be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			g, err := New(cfg)
			if tt.wantErr == "" {
				if err != nil || g == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("New: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

func TestPacer(t *testing.T) {
	tests := []struct {
		name     string
		rate     float64
		waits    int
		min, max time.Duration
	}{
		// The first wait is free: n waits take n-1 intervals.
		{name: "100/s", rate: 100, waits: 11, min: 95 * time.Millisecond, max: time.Second},
		{name: "no limit", rate: 0, waits: 1000, min: 0, max: 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(tt.rate)
			start := time.Now()
			for range tt.waits {
				if err := p.wait(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if d := time.Since(start); d < tt.min || d > tt.max {
				t.Errorf("%d waits took %v, want %v to %v", tt.waits, d, tt.min, tt.max)
			}
		})
	}
	t.Run("canceled", func(t *testing.T) {
		p := newPacer(0.1) // one statement every 10 s
		ctx, cancel := context.WithCancel(t.Context())
		if err := p.wait(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := p.wait(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("wait after cancel = %v, want context.Canceled", err)
		}
	})
}

// TestWorkloads checks that every statement carries as many arguments as
// it has placeholders, and that only the demo databases write.
func TestWorkloads(t *testing.T) {
	tests := []struct {
		database  string
		want      workload
		writes    bool
		tableName string
	}{
		{database: "shop", want: shop, writes: true, tableName: "orders"},
		{database: "Analytics", want: analytics, writes: true, tableName: "events"},
		{database: "portico_demo", want: generic},
		{database: "", want: generic},
	}
	for _, tt := range tests {
		t.Run(tt.database, func(t *testing.T) {
			w := workloadFor(tt.database)
			if w != tt.want {
				t.Fatalf("workloadFor(%q) = %v, want %v", tt.database, w, tt.want)
			}
			r := rand.New(rand.NewPCG(1, 2))
			sawTable := false
			for range 200 {
				stmts := []statement{w.read(r), w.report(r)}
				write := w.write(r)
				if (write != nil) != tt.writes {
					t.Fatalf("write = %v, want writes: %v", write, tt.writes)
				}
				for _, st := range append(stmts, write...) {
					if n := strings.Count(st.query, "?"); n != len(st.args) {
						t.Errorf("%q has %d placeholders and %d arguments", st.query, n, len(st.args))
					}
					sawTable = sawTable || strings.Contains(st.query, tt.tableName)
				}
			}
			if tt.tableName != "" && !sawTable {
				t.Errorf("no statement uses %s", tt.tableName)
			}
		})
	}
}

// testMariaDB is the real MariaDB of PORTICO_TEST_MARIADB, with the demo
// schema of cmd/portico/devdb/demo.sql.
func testMariaDB(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("PORTICO_TEST_MARIADB")
	if addr == "" {
		t.Fatal("PORTICO_TEST_MARIADB is not set: run `go tool task test`, or cmd/portico/devdb/mariadb.sh start and set it")
	}
	return addr
}

func TestWaitReady(t *testing.T) {
	db := testMariaDB(t)
	// A port that was free a moment ago: nothing answers there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name    string
		addr    string
		account Account
		wantErr string
		// within bounds how long WaitReady may take.
		within time.Duration
	}{
		{name: "ready", addr: db, account: Account{"shop_app", "demo", "shop"}, within: 2 * time.Second},
		{name: "wrong password fails at once", addr: db, account: Account{"shop_app", "wrong", "shop"},
			wantErr: "Access denied", within: 2 * time.Second},
		{name: "nothing listening", addr: closed, account: Account{"shop_app", "demo", "shop"},
			wantErr: "no login as shop_app@shop", within: 3 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(Config{Addr: tt.addr, Accounts: []Account{tt.account}})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = g.WaitReady(t.Context(), time.Second)
			if d := time.Since(start); d > tt.within {
				t.Errorf("WaitReady took %v, want at most %v", d, tt.within)
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("WaitReady: %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("WaitReady: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// TestRun drives the real MariaDB directly: the sessions open, run
// statements, and are all closed when Run returns.
func TestRun(t *testing.T) {
	accounts, err := ParseAccounts(DefaultUsers)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Config{Addr: testMariaDB(t), Accounts: accounts, Sessions: 8, Churn: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for st := g.Stats(); st.Sessions < 8 || st.Queries < 20 || st.Replaced < 2; st = g.Stats() {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("stats %+v: want 8 sessions, 20 queries and 2 replaced within 10s", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context")
	}
	st := g.Stats()
	if st.Sessions != 0 {
		t.Errorf("%d sessions still open after Run", st.Sessions)
	}
	if st.Connects < 8 {
		t.Errorf("stats %+v: fewer logins than sessions", st)
	}
}

// TestStatementsOnDemoSchema runs every kind of statement of each workload
// against the demo schema, as the account that would run it: none may fail,
// but the writes of a read-only account, which only make it read-only.
func TestStatementsOnDemoSchema(t *testing.T) {
	tests := []struct {
		name    string
		account Account
		// readOnly is whether the account learns that it may not write.
		readOnly bool
	}{
		{name: "shop", account: Account{"shop_app", "demo", "shop"}},
		{name: "analytics", account: Account{"etl", "demo", "analytics"}},
		{name: "generic", account: Account{"reporting", "demo", ""}},
		{name: "read-only shop", account: Account{"shop_ro", "demo", "shop"}, readOnly: true},
		{name: "read-only analytics", account: Account{"reporting", "demo", "analytics"}, readOnly: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(Config{Addr: testMariaDB(t), Accounts: []Account{tt.account}})
			if err != nil {
				t.Fatal(err)
			}
			db, err := g.pool(g.accounts[0], "test")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			conn, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A fixed seed makes the same draws every run; 100 rounds reach
			// every branch.
			s := &session{g: g, conn: conn, acct: g.accounts[0], work: workloadFor(tt.account.Database), r: rand.New(rand.NewPCG(3, 4))}
			for range 100 {
				for _, step := range []func(context.Context) error{s.read, s.report, s.ping} {
					if err := step(t.Context()); err != nil {
						t.Fatal(err)
					}
				}
				if w := s.work.write(s.r); w != nil {
					if err := s.transaction(t.Context(), w); err != nil {
						t.Fatal(err)
					}
				}
			}
			if st := g.Stats(); st.Errors != 0 || st.Queries < 300 {
				g.mu.Lock()
				defer g.mu.Unlock()
				t.Errorf("stats %+v, last error %v; want no error in at least 300 statements", st, g.lastErr)
			}
			if got := g.accounts[0].readOnly.Load(); got != tt.readOnly {
				t.Errorf("read-only = %v, want %v", got, tt.readOnly)
			}
		})
	}
}

// TestRunFailedLogins checks that logins that fail are counted and retried,
// and that the first failure is logged at once.
func TestRunFailedLogins(t *testing.T) {
	// The handler serialises the writes; logs is read once Run has
	// returned.
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	g, err := New(Config{Addr: testMariaDB(t), Accounts: []Account{{"shop_app", "wrong", "shop"}}, Sessions: 2, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	g.Run(ctx)
	// Two sessions retrying after 125-250 ms, then 250-500 ms, fail at
	// least twice each in 1.5 s.
	if st := g.Stats(); st.Errors < 4 || st.Connects != 0 || st.Sessions != 0 {
		t.Errorf("stats %+v, want at least 4 errors and no session", st)
	}
	if got := logs.String(); strings.Count(got, "first error") != 1 || !strings.Contains(got, "Access denied") {
		t.Errorf("log = %q, want the first error, Access denied, once", got)
	}
}
