//go:build linux

package proxy_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// relays are the two ways the proxy relays a logged-in session: the event
// loops Linux uses, and the goroutines of other systems and of TLS. Both
// must relay the same bytes.
var relays = []struct {
	name string
	cfg  proxy.Config
}{
	{name: "event loop"},
	{name: "goroutines", cfg: proxy.Config{NoEventLoop: true}},
}

// TestRelaysBigAndSlowTraffic sends what makes a relay buffer and wait: a
// result far larger than socket buffers to a client that reads it late, and
// statements larger than one read, in both relays against the real MariaDB.
func TestRelaysBigAndSlowTraffic(t *testing.T) {
	srv := testMariaDB(t)
	for _, r := range relays {
		t.Run(r.name, func(t *testing.T) {
			baseline := openFDs(t)
			p := startProxy(t, r.cfg, srv)
			db := openDB(t, p.addr, "maxpwd", "portico_demo")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()

			t.Run("a 20 MB result read late", func(t *testing.T) {
				rows, err := db.QueryContext(ctx, "SELECT seq, REPEAT(CHAR(65 + seq % 26), 1000) FROM seq_1_to_20000")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				// The backend fills the sockets and the proxy must hold
				// the rest without losing or reordering a byte.
				time.Sleep(300 * time.Millisecond)
				want := 1
				for rows.Next() {
					var seq int
					var s sql.RawBytes
					if err := rows.Scan(&seq, &s); err != nil {
						t.Fatal(err)
					}
					if seq != want || len(s) != 1000 || s[0] != byte('A'+seq%26) || s[999] != s[0] {
						t.Fatalf("row %d: seq %d, %d bytes starting %q", want, seq, len(s), s[:min(1, len(s))])
					}
					want++
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				if want != 20001 {
					t.Fatalf("got %d rows, want 20000", want-1)
				}
			})

			t.Run("a 5 MB statement", func(t *testing.T) {
				arg := strings.Repeat("portico ", 5<<20/8)
				var n int
				var sum string
				if err := db.QueryRowContext(ctx, "SELECT LENGTH(?), SHA2(?, 256)", arg, arg).Scan(&n, &sum); err != nil {
					t.Fatal(err)
				}
				if n != len(arg) {
					t.Errorf("the server saw %d bytes, want %d", n, len(arg))
				}
				if want := sha256.Sum256([]byte(arg)); sum != hex.EncodeToString(want[:]) {
					t.Errorf("the server's SHA-256 %s differs from the client's", sum)
				}
			})

			db.Close()
			waitFor(t, 5*time.Second, "the sessions to end", func() bool { return len(sessions(p.reg)) == 0 })
			if err := p.stop(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the descriptors to be closed", func() bool { return openFDs(t) <= baseline })
		})
	}
}

// TestIdleSessionHoldsNoBuffers checks what the event loop is for: once a
// session is logged in and idle, its read buffers are back in the pool.
func TestIdleSessionHoldsNoBuffers(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		name        string
		cfg         proxy.Config
		wantBuffers bool
	}{
		{name: "event loop", wantBuffers: false},
		{name: "goroutines", cfg: proxy.Config{NoEventLoop: true}, wantBuffers: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, tt.cfg, srv)
			db := openDB(t, p.addr, "maxpwd", "portico_demo")
			if err := db.Ping(); err != nil {
				t.Fatal(err)
			}
			s := waitSessions(t, p.reg, 1)[0]
			if got := s.Memory.ClientBuffer+s.Memory.BackendBuffer > 0; got != tt.wantBuffers {
				t.Errorf("memory %+v: buffers held = %v, want %v", s.Memory, got, tt.wantBuffers)
			}
		})
	}
}

// TestIdleSessionMemory holds the Go memory (heap and stacks) an idle
// session costs the proxy to a budget: what 200 sessions through the proxy
// add, less what the same connections opened straight to the backend add.
// bench:proxy measures the whole process's RSS at 10,000 sessions; this
// finds a regression in a second, and needs no database.
func TestIdleSessionMemory(t *testing.T) {
	const n = 200
	greeting := captured(t, "greeting_mariadb_go_session.bin")
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	// The backend logs the client in and then waits, reading nothing.
	be := startBackend(t, "server1", func(c net.Conn) {
		if mysqlwire.WritePacket(c, 0, greeting) != nil {
			return
		}
		var b [4096]byte
		if _, err := c.Read(b[:]); err != nil {
			return
		}
		if mysqlwire.WritePacket(c, 2, []byte{0, 0, 0, 2, 0, 0, 0}) != nil {
			return
		}
		_, _ = c.Read(b[:1])
	})
	login := func(t *testing.T, addr string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		var b [4096]byte
		if _, err := c.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(packet(1, goResp)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		return c
	}
	inUse := func() uint64 {
		runtime.GC()
		runtime.GC() // the second sweeps what the first freed
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc + m.StackInuse
	}
	// open logs n clients in at addr and returns the memory they added
	// once the goroutines have settled (the hand-over to a loop ends one
	// per session).
	open := func(t *testing.T, addr string) float64 {
		before := inUse()
		for range n {
			login(t, addr)
		}
		prev := -1
		waitFor(t, 10*time.Second, "goroutines to settle", func() bool {
			g := runtime.NumGoroutine()
			settled := g == prev
			prev = g
			time.Sleep(50 * time.Millisecond)
			return settled
		})
		return float64(inUse()-before) / n
	}
	direct := open(t, net.JoinHostPort(be.srv.Address, strconv.Itoa(be.srv.Port)))
	p := startProxy(t, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, be.srv)
	waitSessions := func(want int) {
		waitFor(t, 10*time.Second, "the sessions", func() bool { return len(sessions(p.reg)) == want })
	}
	through := open(t, p.addr)
	waitSessions(n)
	perSession := through - direct
	t.Logf("Go heap and stacks per idle session: %.0f B (%.0f B through the proxy, %.0f B direct)", perSession, through, direct)
	// Measured at 5 KB: the session, its registry entry, its scanners
	// and the duplicated sockets. A goroutine waiting per session would
	// add at least its stack.
	const budget = 8 << 10
	if perSession > budget {
		t.Errorf("an idle session costs %.0f B of Go memory, over the budget of %d B", perSession, budget)
	}
}
