package core_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

// settable is a registry clock the test moves by hand.
type settable struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settable) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settable) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// The proxy calls these on every packet or statement; none of them may
// publish a change, or every subscriber would hear about every packet.
func TestHotPathDoesNotBumpRevision(t *testing.T) {
	t0 := time.Date(2017, 7, 17, 11, 10, 39, 0, time.UTC)
	tests := []struct {
		name  string
		do    func(h *core.Handle)
		check func(t *testing.T, s core.Session)
	}{
		{
			name: "CountIn and CountOut",
			do:   func(h *core.Handle) { h.CountIn(100, 2); h.CountIn(5, 0); h.CountOut(70, 3); h.CountOut(0, 1) },
			check: func(t *testing.T, s core.Session) {
				want := core.Traffic{BytesIn: 105, PacketsIn: 2, BytesOut: 70, PacketsOut: 4}
				if s.Traffic != want {
					t.Errorf("traffic = %+v, want %+v", s.Traffic, want)
				}
			},
		},
		{
			name: "CountQuery",
			do:   func(h *core.Handle) { h.CountQuery(); h.CountQuery() },
			check: func(t *testing.T, s core.Session) {
				if s.Traffic.Queries != 2 {
					t.Errorf("queries = %d, want 2", s.Traffic.Queries)
				}
			},
		},
		{
			name: "IO",
			do:   func(h *core.Handle) { h.IO(t0.Add(-time.Second)); h.IO(t0) },
			check: func(t *testing.T, s core.Session) {
				if s.IOActivity != 2 || !s.LastActivity.Equal(t0) {
					t.Errorf("io activity %d, last activity %v; want 2 and %v", s.IOActivity, s.LastActivity, t0)
				}
			},
		},
		{
			name: "InFlight",
			do:   func(h *core.Handle) { h.InFlight(1); h.InFlight(1); h.InFlight(-1) },
			check: func(t *testing.T, s core.Session) {
				if !s.Busy || s.Idle(t0.Add(time.Hour)) != 0 {
					t.Errorf("busy %v, idle %v; want busy and idle 0", s.Busy, s.Idle(t0.Add(time.Hour)))
				}
			},
		},
		{
			name: "InFlight balanced",
			do:   func(h *core.Handle) { h.InFlight(1); h.InFlight(-1) },
			check: func(t *testing.T, s core.Session) {
				if s.Busy {
					t.Error("busy after every reply came")
				}
			},
		},
		{
			name: "ClearInFlight",
			do:   func(h *core.Handle) { h.InFlight(1); h.InFlight(1); h.ClearInFlight() },
			check: func(t *testing.T, s core.Session) {
				if s.Busy {
					t.Error("busy after ClearInFlight")
				}
			},
		},
		{
			name: "statements",
			do: func(h *core.Handle) {
				h.RetainStatements(1)
				h.StatementCompleted(h.StatementReceived("COM_QUERY", "SELECT 1", t0), "server1", t0)
			},
			check: func(t *testing.T, s core.Session) {
				if len(s.Statements) != 1 || s.Statements[0].Server != "server1" {
					t.Errorf("statements = %+v", s.Statements)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := core.NewRegistry(func() time.Time { return t0 })
			h := r.Open(core.Session{})
			rev := r.Rev()
			tt.do(h)
			if r.Rev() != rev {
				t.Errorf("rev %d, want %d", r.Rev(), rev)
			}
			s, err := r.Get(h.ID())
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}

func TestIOActivityWindow(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		events []time.Duration // after t0
		now    time.Duration
		want   int
	}{
		{name: "none", now: 0, want: 0},
		{name: "same second", events: []time.Duration{0, 100 * time.Millisecond, 999 * time.Millisecond}, now: time.Second, want: 3},
		{name: "29 seconds ago still counts", events: []time.Duration{0}, now: 29 * time.Second, want: 1},
		{name: "30 seconds ago has left the window", events: []time.Duration{0}, now: 30 * time.Second, want: 0},
		{name: "a bucket reused 30 s later counts afresh", events: []time.Duration{0, 0, 30 * time.Second}, now: 31 * time.Second, want: 1},
		{name: "spread over the window", events: []time.Duration{0, 10 * time.Second, 20 * time.Second, 29 * time.Second}, now: 35 * time.Second, want: 3},
		{name: "an hour later nothing is left", events: []time.Duration{0, time.Second}, now: time.Hour, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &settable{t: t0}
			r := core.NewRegistry(clk.now)
			h := r.Open(core.Session{})
			for _, d := range tt.events {
				h.IO(t0.Add(d))
			}
			clk.set(t0.Add(tt.now))
			s, _ := r.Get(h.ID())
			if s.IOActivity != tt.want {
				t.Errorf("io activity = %d, want %d", s.IOActivity, tt.want)
			}
		})
	}
}

func TestIOActivityConcurrent(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	r := core.NewRegistry(func() time.Time { return t0 })
	h := r.Open(core.Session{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				h.IO(t0)
			}
		})
	}
	wg.Wait()
	if s, _ := r.Get(h.ID()); s.IOActivity != 4000 {
		t.Errorf("io activity = %d, want 4000: concurrent counts were lost", s.IOActivity)
	}
}

func TestStatementHistory(t *testing.T) {
	t0 := time.Date(2026, 11, 29, 18, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type op struct {
		text string // received; empty means complete ticket number done
		done int
	}
	tests := []struct {
		name      string
		keep      int
		ops       []op
		want      []string // text, and "+" if completed
		wantBytes int      // text bytes, besides the fixed cost per kept slot
		last      string   // LastStatement, as want
	}{
		{name: "nothing yet", keep: 2, last: ""},
		{name: "keep none still knows the last", keep: 0, ops: []op{{text: "SELECT 1"}, {text: "SELECT 2"}, {done: 2}}, want: nil, wantBytes: 8, last: "SELECT 2+"},
		{name: "keep none, running", keep: 0, ops: []op{{text: "SELECT 1"}, {done: 1}, {text: "SELECT SLEEP(9)"}}, want: nil, wantBytes: 15, last: "SELECT SLEEP(9)"},
		{name: "fewer than kept", keep: 3, ops: []op{{text: "a"}, {text: "bb"}}, want: []string{"a", "bb"}, wantBytes: 3, last: "bb"},
		{name: "oldest first after wrapping", keep: 2, ops: []op{{text: "a"}, {text: "b"}, {text: "c"}, {text: "d"}, {text: "e"}}, want: []string{"d", "e"}, wantBytes: 2, last: "e"},
		{name: "completion by ticket", keep: 2, ops: []op{{text: "a"}, {text: "b"}, {done: 1}}, want: []string{"a+", "b"}, wantBytes: 2, last: "b"},
		{name: "pipelined: completing a statement pushed out is ignored", keep: 2, ops: []op{{text: "a"}, {text: "b"}, {text: "c"}, {done: 1}, {done: 2}, {done: 3}}, want: []string{"b+", "c+"}, wantBytes: 2, last: "c+"},
		{name: "unknown tickets are ignored", keep: 2, ops: []op{{text: "a"}, {done: 0}, {done: 7}}, want: []string{"a"}, wantBytes: 1, last: "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := core.NewRegistry(func() time.Time { return t0 })
			h := r.Open(core.Session{})
			h.RetainStatements(tt.keep)
			var tickets []uint64
			for i, o := range tt.ops {
				if o.text != "" {
					tickets = append(tickets, h.StatementReceived("COM_QUERY", o.text, at(i)))
					continue
				}
				ticket := uint64(o.done)
				if o.done >= 1 && o.done <= len(tickets) {
					ticket = tickets[o.done-1]
				}
				h.StatementCompleted(ticket, "server1", at(i))
			}
			s, _ := r.Get(h.ID())
			var got []string
			for _, st := range s.Statements {
				g := st.Text
				if !st.Completed.IsZero() {
					g += "+"
					if st.Server != "server1" || !st.Completed.After(st.Received) {
						t.Errorf("statement %+v: completion not recorded", st)
					}
				}
				if st.Command != "COM_QUERY" {
					t.Errorf("command = %q", st.Command)
				}
				got = append(got, g)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("statements = %q, want %q", got, tt.want)
			}
			if tt.keep > 0 && s.Memory.Statements <= tt.wantBytes {
				t.Errorf("memory.statements = %d, want more than the %d text bytes", s.Memory.Statements, tt.wantBytes)
			}
			if tt.keep == 0 && s.Memory.Statements != tt.wantBytes {
				t.Errorf("memory.statements = %d with nothing kept, want the last text's %d bytes", s.Memory.Statements, tt.wantBytes)
			}
			last := s.LastStatement.Text
			if !s.LastStatement.Completed.IsZero() {
				last += "+"
			}
			if last != tt.last {
				t.Errorf("last statement = %q, want %q", last, tt.last)
			}
		})
	}
}

func TestKillWhenIdleSparesRunningCommand(t *testing.T) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{})
	killed := make(chan struct{})
	h.OnKill(func() { h.Close(); close(killed) })
	h.Touch(time.Now().Add(-time.Hour))
	h.InFlight(1)
	const ttl = 100 * time.Millisecond
	if err := r.KillWhenIdle(h.ID(), ttl); err != nil {
		t.Fatal(err)
	}
	select {
	case <-killed:
		t.Fatal("killed while a command was running")
	case <-time.After(3 * ttl):
	}
	h.InFlight(-1)
	select {
	case <-killed:
	case <-time.After(5 * time.Second):
		t.Fatal("not killed once the command ended")
	}
}

func BenchmarkHandleIO(b *testing.B) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		h.IO(now)
		h.CountIn(512, 1)
	}
}
