//go:build linux

package proxy_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
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
	{name: "event loops"},
	// One loop is pinned to no CPU.
	{name: "one event loop", cfg: proxy.Config{Loops: 1}},
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
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	be := startLoginBackend(t)
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

// TestSessionsGoToTheirClientsCPU checks the placement the loops are pinned
// for: a client logging in from a thread on CPU c is relayed by the loop on
// c, whichever CPU the handshake ran on, and that loop's thread may run on
// c alone.
func TestSessionsGoToTheirClientsCPU(t *testing.T) {
	cpus := proxy.AllowedCPUs()
	if len(cpus) == 0 {
		t.Fatal("sched_getaffinity found no CPU")
	}
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	be := startLoginBackend(t)
	p := startProxy(t, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, be.srv)

	pinned := map[string]int{}
	waitFor(t, 5*time.Second, "a loop thread pinned to every CPU", func() bool {
		clear(pinned)
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
			if err != nil {
				continue // the thread has ended
			}
			for line := range strings.Lines(string(b)) {
				if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
					pinned[strings.TrimSpace(v)]++
				}
			}
		}
		for _, c := range cpus {
			if pinned[strconv.Itoa(c)] < 1 {
				return false
			}
		}
		return true
	})

	for i, cpu := range cpus {
		t.Run("CPU "+strconv.Itoa(cpu), func(st *testing.T) {
			c, err := pinnedClient(p.addr, goResp, cpu, nil)
			if c != nil {
				// The session stays open for the CPUs after this one.
				t.Cleanup(func() { c.Close() })
			}
			if err != nil {
				st.Fatal(err)
			}
			waitFor(st, 5*time.Second, "the session on a loop", func() bool {
				total := 0
				for _, n := range proxy.LoopSessions(p.p) {
					total += n
				}
				return total == i+1
			})
			want := cpu
			if len(cpus) == 1 {
				want = -1 // one CPU: one loop, pinned to none
			}
			if got := proxy.LoopSessions(p.p)[want]; got != 1 {
				st.Errorf("sessions on the loop pinned to CPU %d: %d, want 1 (all: %v)", want, got, proxy.LoopSessions(p.p))
			}
		})
	}
}

// TestHeldLoopsYield checks the loops that hold their processor while they
// wait: the collector can still stop them, mid-traffic and idle, and idle
// they cost no CPU. Each holds on to a processor the runtime thinks is
// running, so a loop that ignored the runtime's signal would hang the
// collector, and one the runtime kept interrupting would burn CPU (2.4% of
// one, measured, before loops went back to ordinary waits when idle).
func TestHeldLoopsYield(t *testing.T) {
	srv := testMariaDB(t)
	p := startProxy(t, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, srv)
	db := openDB(t, p.addr, "maxpwd", "portico_demo")
	db.SetMaxIdleConns(4)
	ctx, cancel := context.WithCancel(context.Background())
	pinging := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := db.PingContext(ctx); err != nil && ctx.Err() == nil {
				pinging <- err
				return
			}
		}
		pinging <- nil
	}()
	for i := range 20 {
		start := time.Now()
		runtime.GC()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("collection %d during traffic took %v", i, d)
		}
	}
	cancel()
	if err := <-pinging; err != nil {
		t.Fatal(err)
	}

	// Idle: the sessions stay open, nothing moves.
	time.Sleep(100 * time.Millisecond)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	before := cpu()
	time.Sleep(time.Second)
	used := cpu() - before
	t.Logf("CPU used in an idle second: %v", used)
	if used > 10*time.Millisecond {
		t.Errorf("the idle proxy used %v of CPU in a second, want under 10ms", used)
	}
	start := time.Now()
	runtime.GC()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("collection while idle took %v", d)
	}
}

// startLoginBackend starts a backend that logs any client in and then
// waits, reading nothing.
func startLoginBackend(t *testing.T) *fakeBackend {
	greeting := captured(t, "greeting_mariadb_go_session.bin")
	return startBackend(t, "server1", func(c net.Conn) {
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
}

// TestSessionsFollowTheirClients checks that the loops look again where a
// client's packets arrive: a client that moves to another CPU is relayed
// by that CPU's loop before long, and one that hops between CPUs by the
// loop pinned to none.
func TestSessionsFollowTheirClients(t *testing.T) {
	cpus := proxy.AllowedCPUs()
	greeting := captured(t, "greeting_mariadb_go_session.bin")
	goResp := captured(t, "handshake_response_go_sql_driver.bin")
	// The backend logs the client in, then answers every command with OK.
	be := startBackend(t, "server1", func(c net.Conn) {
		if mysqlwire.WritePacket(c, 0, greeting) != nil {
			return
		}
		r := bufio.NewReader(c)
		if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
			return
		}
		for seq := byte(2); ; seq = 1 {
			if mysqlwire.WritePacket(c, seq, []byte{0, 0, 0, 2, 0, 0, 0}) != nil {
				return
			}
			if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
				return
			}
		}
	})
	p := startProxy(t, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, be.srv)

	client := func(t *testing.T, steps []int) {
		t.Helper()
		c, err := pinnedClient(p.addr, goResp, cpus[0], steps)
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	repeat := func(cpu, n int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = cpu
		}
		return s
	}

	if len(cpus) < 2 {
		// One CPU: nothing to pin, and every session on the one loop.
		client(t, repeat(cpus[0], 64))
		if got := proxy.LoopSessions(p.p); got[-1] != 1 {
			t.Errorf("sessions by loop CPU: %v, want one on a loop pinned to none", got)
		}
		return
	}
	a, b := cpus[0], cpus[1]
	// The loops look every 16 reads: two looks away from a pinned loop's
	// CPU move a session to the loop pinned to none, and eight in a row
	// on one CPU move it on to that CPU's loop.
	var hops []int
	hops = append(hops, repeat(b, 32)...)
	for range 8 {
		hops = append(append(hops, repeat(a, 16)...), repeat(b, 16)...)
	}
	tests := []struct {
		name  string
		steps []int
		want  int // the CPU of the loop that ends up with the session
	}{
		{"stays", repeat(a, 200), a},
		{"moves to another CPU", repeat(b, 200), b},
		{"hops between CPUs", hops, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proxy.LoopSessions(p.p)
			client(t, tt.steps)
			after := proxy.LoopSessions(p.p)
			if after[tt.want] != before[tt.want]+1 {
				t.Errorf("sessions by loop CPU went from %v to %v, want one more on the loop pinned to %d", before, after, tt.want)
			}
		})
	}
}

// pinnedClient logs in at addr from a thread pinned to cpu, so that the
// login's packets leave from cpu, then sends a COM_PING from the CPU of each
// step in turn and waits for its OK. It returns the connection open.
func pinnedClient(addr string, goResp []byte, cpu int, steps []int) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with its changed affinity
		if err := proxy.PinThread(cpu); err != nil {
			done <- result{err: err}
			return
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			done <- result{err: err}
			return
		}
		var b [4096]byte
		err = func() error {
			if _, err := c.Read(b[:]); err != nil {
				return err
			}
			if _, err := c.Write(packet(1, goResp)); err != nil {
				return err
			}
			if _, err := c.Read(b[:]); err != nil {
				return err
			}
			on := cpu
			for _, step := range steps {
				if step != on {
					if err := proxy.PinThread(step); err != nil {
						return err
					}
					on = step
				}
				if _, err := c.Write(packet(0, []byte{0x0e})); err != nil {
					return err
				}
				if _, err := c.Read(b[:]); err != nil {
					return err
				}
			}
			return nil
		}()
		done <- result{c, err}
	}()
	r := <-done
	return r.c, r.err
}
