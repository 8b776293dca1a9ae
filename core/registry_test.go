package core_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

func fixedClock() func() time.Time {
	t0 := time.Date(2017, 7, 17, 11, 10, 39, 0, time.UTC)
	return func() time.Time { return t0 }
}

func TestRegistryOpenAssignsIncreasingIDs(t *testing.T) {
	r := core.NewRegistry(fixedClock())
	a := r.Open(core.Session{Service: "svc", Remote: "127.0.0.1"})
	b := r.Open(core.Session{Service: "svc", Remote: "127.0.0.1"})
	a.Close()
	c := r.Open(core.Session{Service: "svc"})
	if got := []core.SessionID{a.ID(), b.ID(), c.ID()}; !slices.Equal(got, []core.SessionID{1, 2, 3}) {
		t.Fatalf("ids = %v, want [1 2 3]: ids must never be reused", got)
	}
	s, err := r.Get(b.ID())
	if err != nil {
		t.Fatal(err)
	}
	if s.State != core.StateAllocated {
		t.Errorf("state = %q, want %q", s.State, core.StateAllocated)
	}
	if _, err := r.Get(a.ID()); core.ErrorCode(err) != core.ENOTFOUND {
		t.Errorf("Get(closed) err = %v, want not found", err)
	}
	if rev := r.Rev(); rev != 4 {
		t.Errorf("rev = %d, want 4 (three opens, one close)", rev)
	}
}

func TestParseSessionID(t *testing.T) {
	tests := []struct {
		in   string
		want core.SessionID
		ok   bool
	}{
		{"1", 1, true},
		{"18446744073709551615", 18446744073709551615, true},
		{"0", 0, false},
		{"007", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		{"abc", 0, false},
		{"", 0, false},
		{"18446744073709551616", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := core.ParseSessionID(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("ParseSessionID(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
			if !tt.ok && core.ErrorMessage(err) != tt.in+" is not a session" {
				t.Errorf("message = %q", core.ErrorMessage(err))
			}
		})
	}
}

func TestTouchDoesNotBumpRevision(t *testing.T) {
	r := core.NewRegistry(fixedClock())
	h := r.Open(core.Session{})
	rev := r.Rev()
	later := r.Now().Add(3 * time.Second)
	h.Touch(later)
	if r.Rev() != rev {
		t.Fatalf("Touch bumped rev")
	}
	s, _ := r.Get(h.ID())
	if !s.LastActivity.Equal(later) {
		t.Fatalf("LastActivity = %v, want %v", s.LastActivity, later)
	}
	if idle := s.Idle(later.Add(2345 * time.Millisecond)); idle != 2300*time.Millisecond {
		t.Fatalf("Idle = %v, want 2.3s (0.1 s resolution)", idle)
	}
}

// applied is a subscriber's view, built only from what the subscription said.
type applied map[core.SessionID]core.Session

func (v applied) apply(t *testing.T, c core.Changes) {
	t.Helper()
	if c.Reset {
		clear(v)
		for _, s := range c.Snapshot.Sessions {
			v[s.ID] = s
		}
		return
	}
	for _, id := range c.Removed {
		if _, ok := v[id]; !ok {
			t.Fatalf("removed %d that the view never had", id)
		}
		delete(v, id)
	}
	for _, s := range c.Added {
		if _, ok := v[s.ID]; ok {
			t.Fatalf("added %d twice", s.ID)
		}
		v[s.ID] = s
	}
	for _, s := range c.Updated {
		if _, ok := v[s.ID]; !ok {
			t.Fatalf("updated %d that the view never had", s.ID)
		}
		v[s.ID] = s
	}
}

func (v applied) equal(list []core.Session) bool {
	if len(v) != len(list) {
		return false
	}
	for _, s := range list {
		got, ok := v[s.ID]
		if !ok || got.State != s.State || got.User != s.User {
			return false
		}
	}
	return true
}

// The stream's guarantee rests on this: a subscriber that applies every
// Changes in order holds exactly the matching sessions at that revision.
func TestSubscriptionConvergesToList(t *testing.T) {
	tests := []struct {
		name       string
		match      func(core.Session) bool
		maxPending int
	}{
		{name: "all"},
		{name: "filtered", match: func(s core.Session) bool { return s.User == "alice" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := core.NewRegistry(nil)
			rng := rand.New(rand.NewPCG(1, 2))
			var handles []*core.Handle
			for range 20 {
				handles = append(handles, r.Open(core.Session{User: "bob"}))
			}
			sub, snap := r.Subscribe(tt.match)
			defer sub.Close()
			view := applied{}
			view.apply(t, core.Changes{Reset: true, Snapshot: snap})
			for step := range 2000 {
				switch op := rng.IntN(4); {
				case op == 0 || len(handles) == 0:
					handles = append(handles, r.Open(core.Session{User: "bob"}))
				case op == 1:
					i := rng.IntN(len(handles))
					handles[i].Close()
					handles = slices.Delete(handles, i, i+1)
				default:
					user := []string{"alice", "bob"}[rng.IntN(2)]
					handles[rng.IntN(len(handles))].Update(func(s *core.Session) {
						s.User = user
						s.State = core.StateReady
					})
				}
				if step%7 == 0 {
					c := sub.Next()
					view.apply(t, c)
					_, list := r.List()
					var want []core.Session
					for _, s := range list {
						if tt.match == nil || tt.match(s) {
							want = append(want, s)
						}
					}
					if c.Rev != r.Rev() || !view.equal(want) {
						t.Fatalf("step %d: view has %d sessions, registry %d match", step, len(view), len(want))
					}
				}
			}
		})
	}
}

func TestSlowSubscriberNeverBlocksAndResets(t *testing.T) {
	r := core.NewRegistry(nil)
	sub, _ := r.Subscribe(nil)
	defer sub.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range core.DefaultMaxPending + 10 {
			r.Open(core.Session{}).Close()
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("registry blocked on a subscriber that never reads")
	}
	c := sub.Next()
	if !c.Reset || len(c.Snapshot.Sessions) != 0 || c.Snapshot.Rev != r.Rev() {
		t.Fatalf("lagging subscriber got %+v, want a reset with an empty snapshot at rev %d", c, r.Rev())
	}
}

func TestConcurrentMutationAndSubscribers(t *testing.T) {
	r := core.NewRegistry(nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 500 {
				h := r.Open(core.Session{})
				h.Touch(time.Now())
				h.Update(func(s *core.Session) { s.State = core.StateReady })
				h.Close()
			}
		})
	}
	sub, _ := r.Subscribe(nil)
	stop := make(chan struct{})
	var drained sync.WaitGroup
	drained.Go(func() {
		for {
			select {
			case <-sub.Ready():
				sub.Next()
			case <-stop:
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	drained.Wait()
	sub.Close()
	if _, list := r.List(); len(list) != 0 {
		t.Fatalf("%d sessions left after all closed", len(list))
	}
}

func BenchmarkOpenUpdateClose(b *testing.B) {
	r := core.NewRegistry(nil)
	sub, _ := r.Subscribe(nil)
	defer sub.Close()
	for b.Loop() {
		h := r.Open(core.Session{})
		h.Update(func(s *core.Session) { s.State = core.StateReady })
		h.Close()
		sub.Next()
	}
}

func BenchmarkTouch(b *testing.B) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{})
	now := time.Now()
	for b.Loop() {
		h.Touch(now)
	}
}

func TestKill(t *testing.T) {
	tests := []struct {
		name    string
		killer  bool
		wantErr string
	}{
		{name: "with a killer", killer: true},
		{name: "without a killer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := core.NewRegistry(nil)
			h := r.Open(core.Session{State: core.StateReady})
			killed := make(chan struct{})
			if tt.killer {
				h.OnKill(func() { close(killed); h.Close() })
			}
			if err := r.Kill(h.ID()); err != nil {
				t.Fatal(err)
			}
			if tt.killer {
				<-killed
				if _, err := r.Get(h.ID()); core.ErrorCode(err) != core.ENOTFOUND {
					t.Fatalf("killed session still listed: %v", err)
				}
				return
			}
			s, err := r.Get(h.ID())
			if err != nil || s.State != core.StateStopping {
				t.Fatalf("state = %q, %v; want %q", s.State, err, core.StateStopping)
			}
		})
	}
	r := core.NewRegistry(nil)
	if err := r.Kill(42); core.ErrorMessage(err) != "42 is not a session" {
		t.Fatalf("Kill(unknown) = %v", err)
	}
}

func TestKillWhenIdleWaitsForIdleness(t *testing.T) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{})
	killed := make(chan time.Time, 1)
	h.OnKill(func() { at := time.Now(); h.Close(); killed <- at })
	const ttl = 300 * time.Millisecond
	start := time.Now()
	// Keep the session busy for a while: the deadline must move with it.
	busy := time.NewTicker(20 * time.Millisecond)
	if err := r.KillWhenIdle(h.ID(), ttl); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		<-busy.C
		h.Touch(time.Now())
	}
	busy.Stop()
	lastActivity := time.Now()
	select {
	case at := <-killed:
		if at.Sub(lastActivity) < ttl-20*time.Millisecond {
			t.Fatalf("killed %v after the last activity, before ttl %v (started %v ago)", at.Sub(lastActivity), ttl, at.Sub(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle session was never killed")
	}
	if err := r.KillWhenIdle(h.ID(), ttl); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("KillWhenIdle(closed) = %v, want not found", err)
	}
}

func TestPage(t *testing.T) {
	r := core.NewRegistry(nil)
	var hs []*core.Handle
	for range 10 {
		hs = append(hs, r.Open(core.Session{}))
	}
	hs[0].Close()
	hs[4].Close() // live ids: 2 3 4 6 7 8 9 10
	tests := []struct {
		offset, limit int
		want          []core.SessionID
	}{
		{0, 3, []core.SessionID{2, 3, 4}},
		{3, 3, []core.SessionID{6, 7, 8}},
		{6, 3, []core.SessionID{9, 10}},
		{8, 3, nil},
		{-1, 3, nil},
		{0, 0, nil},
		{0, 100, []core.SessionID{2, 3, 4, 6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.offset, tt.limit), func(t *testing.T) {
			total, page := r.Page(tt.offset, tt.limit)
			var got []core.SessionID
			for _, s := range page {
				got = append(got, s.ID)
			}
			if total != 8 || !slices.Equal(got, tt.want) {
				t.Fatalf("Page(%d, %d) = %d, %v; want 8, %v", tt.offset, tt.limit, total, got, tt.want)
			}
		})
	}
}

func BenchmarkPage50Of100k(b *testing.B) {
	r := core.NewRegistry(nil)
	for range 100_000 {
		r.Open(core.Session{User: "maxuser", State: core.StateReady})
	}
	b.ReportAllocs()
	for b.Loop() {
		r.Page(50_000, 50)
	}
}

func TestServiceCounts(t *testing.T) {
	r := core.NewRegistry(nil)
	a := r.Open(core.Session{Service: "a"})
	r.Open(core.Session{Service: "a"})
	r.Open(core.Session{Service: "b"})
	a.Close()
	a.Close() // twice must not count twice
	got := r.ServiceCounts()
	want := map[string]core.ServiceCount{"a": {Current: 1, Total: 2}, "b": {Current: 1, Total: 1}}
	if len(got) != len(want) || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("ServiceCounts = %v, want %v", got, want)
	}
}

func TestSetLogFlags(t *testing.T) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{})
	if got := h.LogFlags(); got != core.DefaultLogFlags {
		t.Fatalf("new session flags = %+v, want defaults %+v", got, core.DefaultLogFlags)
	}
	want := core.LogFlags{Info: true, Error: true}
	rev := r.Rev()
	if err := r.SetLogFlags(h.ID(), want); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Get(h.ID())
	if h.LogFlags() != want || s.Log != want || r.Rev() != rev+1 {
		t.Fatalf("flags = %+v / %+v, rev %d; want %+v at rev %d", h.LogFlags(), s.Log, r.Rev(), want, rev+1)
	}
	if err := r.SetLogFlags(h.ID(), want); err != nil || r.Rev() != rev+1 {
		t.Fatalf("an unchanged set bumped the revision")
	}
	if err := r.SetLogFlags(99, want); core.ErrorCode(err) != core.ENOTFOUND {
		t.Fatalf("SetLogFlags(unknown) = %v", err)
	}
}
