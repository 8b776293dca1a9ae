package synthetic_test

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/synthetic"
)

// clock is a registry clock that tests move by hand. Only the test's
// goroutine reads it: Step and the registry calls it makes run there.
type clock struct{ t time.Time }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func distinct(list []core.Session, field func(core.Session) string) map[string]int {
	m := map[string]int{}
	for _, s := range list {
		m[field(s)]++
	}
	return m
}

func TestNew(t *testing.T) {
	topo := synthetic.Topology()
	tests := []struct {
		name     string
		sessions int
		// minimum distinct users, services and remotes
		users, services, remotes int
	}{
		{"none", 0, 0, 0, 0},
		{"one", 1, 1, 1, 1},
		{"many", 2000, 5, 3, 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := core.NewRegistry(newClock().now)
			synthetic.New(reg, synthetic.Config{Sessions: tt.sessions, Seed: 1})
			_, list := reg.List()
			if len(list) != tt.sessions {
				t.Fatalf("%d sessions, want %d", len(list), tt.sessions)
			}
			for _, s := range list {
				if s.State != core.StateReady || len(s.Backends) == 0 || s.User == "" || s.Port == 0 {
					t.Fatalf("session %+v: want a logged-in session with backends", s)
				}
				svc, err := topo.Service(s.Service)
				if err != nil {
					t.Fatalf("session %s: %v", s.ID, err)
				}
				for _, b := range s.Backends {
					if !slices.Contains(svc.Servers, b.Server) || b.ThreadID == 0 {
						t.Errorf("session %s on %+v, which service %s does not route to", s.ID, b, svc.Name)
					}
				}
			}
			if n := len(distinct(list, func(s core.Session) string { return s.User })); n < tt.users {
				t.Errorf("%d users, want at least %d", n, tt.users)
			}
			if n := len(distinct(list, func(s core.Session) string { return s.Service })); n < tt.services {
				t.Errorf("%d services, want at least %d", n, tt.services)
			}
			if n := len(distinct(list, func(s core.Session) string { return s.Remote })); n < tt.remotes {
				t.Errorf("%d remotes, want at least %d", n, tt.remotes)
			}
		})
	}
}

func TestSeedRepeats(t *testing.T) {
	key := func(seed uint64) []string {
		c := newClock()
		reg := core.NewRegistry(c.now)
		src := synthetic.New(reg, synthetic.Config{Sessions: 200, Seed: seed})
		for range 50 {
			c.advance(synthetic.Tick)
			src.Step(10)
		}
		_, list := reg.List()
		var out []string
		for _, s := range list {
			out = append(out, s.ID.String()+" "+s.User+"@"+s.Remote+" "+s.Service+" "+string(s.State))
		}
		return out
	}
	a, b, other := key(7), key(7), key(8)
	if !slices.Equal(a, b) {
		t.Error("the same seed made different sessions")
	}
	if slices.Equal(a, other) {
		t.Error("different seeds made the same sessions")
	}
}

// TestStep runs the realistic mix for a simulated minute and checks that the
// count holds while everything the dashboard shows changes.
func TestStep(t *testing.T) {
	const sessions, perTick, ticks = 500, 10, 6000
	c := newClock()
	reg := core.NewRegistry(c.now)
	src := synthetic.New(reg, synthetic.Config{Sessions: sessions, Seed: 3})
	_, before := reg.List()
	rev0 := reg.Rev()
	states := map[core.State]int{}
	busy := 0
	for i := range ticks {
		c.advance(synthetic.Tick)
		src.Step(perTick)
		if i%100 == 0 {
			_, list := reg.List()
			if len(list) != sessions {
				t.Fatalf("tick %d: %d sessions, want %d", i, len(list), sessions)
			}
			for _, s := range list {
				states[s.State]++
				if s.Busy {
					busy++
				}
			}
		}
	}
	reg.PublishActivity()
	_, after := reg.List()

	checks := []struct {
		name string
		ok   bool
	}{
		{"sessions were stopping", states[core.StateStopping] > 0},
		{"sessions were logging in", states[core.StateAllocated] > 0},
		{"sessions were busy", busy > 0},
		{"sessions were replaced", after[len(after)-1].ID > before[len(before)-1].ID},
		{"some sessions survived", slices.ContainsFunc(after, func(s core.Session) bool {
			_, found := slices.BinarySearchFunc(before, s.ID, func(b core.Session, id core.SessionID) int { return cmp.Compare(b.ID, id) })
			return found
		})},
		{"users changed", slices.ContainsFunc(after, func(s core.Session) bool { return strings.HasSuffix(s.User, "_ro") })},
		{"statements were kept", slices.ContainsFunc(after, func(s core.Session) bool {
			return len(s.Statements) > 0 && !s.Statements[0].Completed.IsZero() && s.Statements[0].Server != ""
		})},
		{"traffic was counted", slices.ContainsFunc(after, func(s core.Session) bool {
			return s.Traffic.Queries > 0 && s.Traffic.BytesOut > 0 && s.Traffic.PacketsIn > 0
		})},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if !ch.ok {
				t.Fail()
			}
		})
	}
	// Statements and traffic are published once per session per sweep; the
	// rest bumps the revision at once. Either way there must be thousands.
	if got := reg.Rev() - rev0; got < ticks*perTick/10 {
		t.Errorf("%d revisions for %d changes", got, ticks*perTick)
	}
}

func TestChange(t *testing.T) {
	tests := []struct{ sessions, n, want int }{{0, 5, 0}, {10, 0, 0}, {10, 1, 1}, {10, 25, 25}}
	for _, tt := range tests {
		t.Run("sessions="+strconv.Itoa(tt.sessions)+"/n="+strconv.Itoa(tt.n), func(t *testing.T) {
			reg := core.NewRegistry(newClock().now)
			var calls int
			src := synthetic.New(reg, synthetic.Config{Sessions: tt.sessions, Change: func(h *core.Handle) {
				calls++
				h.Update(func(s *core.Session) { s.User = "changed" })
			}})
			_, before := reg.List()
			src.Step(tt.n)
			_, after := reg.List()
			if calls != tt.want {
				t.Errorf("Change called %d times, want %d", calls, tt.want)
			}
			// No churn: the same sessions, only changed by the hook.
			ids := func(l []core.Session) []core.SessionID {
				out := make([]core.SessionID, len(l))
				for i, s := range l {
					out[i] = s.ID
				}
				return out
			}
			if !slices.Equal(ids(before), ids(after)) {
				t.Errorf("sessions %v became %v", ids(before), ids(after))
			}
			if tt.want > 0 && !slices.ContainsFunc(after, func(s core.Session) bool { return s.User == "changed" }) {
				t.Error("no session shows the hook's change")
			}
		})
	}
}

func TestKillIsReplaced(t *testing.T) {
	tests := []struct {
		name   string
		change func(*core.Handle)
	}{
		{"realistic", nil},
		{"with a Change hook", func(*core.Handle) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			reg := core.NewRegistry(c.now)
			src := synthetic.New(reg, synthetic.Config{Sessions: 5, Change: tt.change})
			_, list := reg.List()
			victim := list[2].ID
			if err := reg.Kill(victim); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Get(victim); core.ErrorCode(err) != core.ENOTFOUND {
				t.Fatalf("killed session still there: %v", err)
			}
			src.Step(0)
			_, list = reg.List()
			if len(list) != 5 {
				t.Fatalf("%d sessions after the kill, want 5", len(list))
			}
			newest := list[len(list)-1]
			if newest.ID <= victim || newest.State != core.StateAllocated {
				t.Errorf("newest session %s in state %q, want a new one logging in", newest.ID, newest.State)
			}
			c.advance(time.Second)
			src.Step(1)
			if s, err := reg.Get(newest.ID); err != nil || s.State != core.StateReady {
				t.Errorf("a second later the new session is %q (%v), want logged in", s.State, err)
			}
		})
	}
}

func TestRunRate(t *testing.T) {
	tests := []struct {
		rate     int
		min, max int64
	}{
		{0, 0, 0},
		// 400 ms at 1000/s: 400 changes, with room for a slow machine.
		{1000, 150, 520},
	}
	for _, tt := range tests {
		t.Run("rate="+strconv.Itoa(tt.rate), func(t *testing.T) {
			reg := core.NewRegistry(nil)
			var n atomic.Int64
			src := synthetic.New(reg, synthetic.Config{Sessions: 100, Rate: tt.rate,
				Change: func(*core.Handle) { n.Add(1) }})
			ctx, cancel := context.WithTimeout(t.Context(), 400*time.Millisecond)
			defer cancel()
			src.Run(ctx)
			if got := n.Load(); got < tt.min || got > tt.max {
				t.Errorf("%d changes in 400ms at %d/s, want %d to %d", got, tt.rate, tt.min, tt.max)
			}
		})
	}
}
