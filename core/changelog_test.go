package core_test

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

// manualClock is a registry clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestChanged(t *testing.T) {
	clk := &manualClock{t: time.Date(2017, 7, 17, 11, 0, 0, 0, time.UTC)}
	r := core.NewRegistry(clk.now)
	a := r.Open(core.Session{}) // rev 1
	b := r.Open(core.Session{}) // rev 2
	a.Update(func(s *core.Session) { s.User = "x" })
	a.Update(func(s *core.Session) { s.User = "y" }) // rev 4
	b.Close()                                        // rev 5
	r.Open(core.Session{})                           // rev 6
	tests := []struct {
		name           string
		after, through uint64
		want           []core.SessionID
		ok             bool
	}{
		{"everything, each id once in id order", 0, 6, []core.SessionID{1, 2, 3}, true},
		{"a suffix", 4, 6, []core.SessionID{2, 3}, true},
		{"one revision", 5, 6, []core.SessionID{3}, true},
		{"a middle range", 2, 4, []core.SessionID{1}, true},
		{"nothing since the current revision", 6, 6, nil, true},
		{"nothing in an empty range", 3, 3, nil, true},
		{"from the future", 6, 7, nil, false},
		{"backwards", 5, 4, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := r.Changed(tt.after, tt.through)
			if ok != tt.ok || !slices.Equal(got, tt.want) {
				t.Fatalf("Changed(%d, %d) = %v, %v; want %v, %v", tt.after, tt.through, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestChangelogLimits(t *testing.T) {
	tests := []struct {
		name    string
		entries int
		age     time.Duration
		// changes are made a second apart, then the clock moves by wait.
		changes int
		wait    time.Duration
		// oldest is the earliest after that Changed(after, rev) still serves.
		oldest uint64
	}{
		{name: "count keeps the last entries", entries: 10, age: time.Hour, changes: 25, oldest: 15},
		{name: "count not reached", entries: 100, age: time.Hour, changes: 25, oldest: 0},
		{name: "age drops old entries", entries: 100, age: 10 * time.Second, changes: 25, oldest: 14},
		{name: "age drops everything when quiet", entries: 100, age: 10 * time.Second, changes: 25, wait: time.Minute, oldest: 25},
		{name: "count grows past the first ring", entries: 5000, age: 2 * time.Hour, changes: 4000, oldest: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &manualClock{t: time.Date(2017, 7, 17, 11, 0, 0, 0, time.UTC)}
			r := core.NewRegistry(clk.now)
			r.SetChangelogLimits(tt.entries, tt.age)
			h := r.Open(core.Session{})
			for range tt.changes - 1 {
				clk.add(time.Second)
				h.Update(func(s *core.Session) { s.User += "x" })
			}
			clk.add(tt.wait)
			rev := r.Rev()
			if rev != uint64(tt.changes) {
				t.Fatalf("rev = %d, want %d", rev, tt.changes)
			}
			if tt.oldest > 0 {
				if _, ok := r.Changed(tt.oldest-1, rev); ok {
					t.Errorf("Changed(%d, %d) still served: the log is not bounded", tt.oldest-1, rev)
				}
			}
			ids, ok := r.Changed(tt.oldest, rev)
			if !ok {
				t.Fatalf("Changed(%d, %d) refused, want it served", tt.oldest, rev)
			}
			if want := []core.SessionID{h.ID()}; tt.oldest < rev && !slices.Equal(ids, want) {
				t.Errorf("ids = %v, want %v", ids, want)
			}
		})
	}
}

// TestChangelogMatchesModel drives random changes, limit changes and clock
// steps, and compares every answer with a plain list of all revisions.
func TestChangelogMatchesModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			clk := &manualClock{t: time.Date(2017, 7, 17, 11, 0, 0, 0, time.UTC)}
			r := core.NewRegistry(clk.now)
			maxLen, maxAge := 3000, time.Hour
			r.SetChangelogLimits(maxLen, maxAge)
			type rec struct {
				id core.SessionID
				at time.Time
			}
			var model []rec // model[i] is revision i+1
			// floor is the oldest revision the count bound has kept: a
			// lower bound drops entries that a later higher one does not
			// bring back.
			floor := uint64(1)
			bound := func() {
				if rev := uint64(len(model)); rev > uint64(maxLen) {
					floor = max(floor, rev-uint64(maxLen)+1)
				}
			}
			var live []*core.Handle
			for step := range 20_000 {
				switch op := rng.IntN(100); {
				case op < 40 || len(live) == 0:
					live = append(live, r.Open(core.Session{}))
					model = append(model, rec{live[len(live)-1].ID(), clk.now()})
				case op < 75:
					h := live[rng.IntN(len(live))]
					h.Update(func(s *core.Session) { s.User += "x" })
					model = append(model, rec{h.ID(), clk.now()})
				case op < 95:
					i := rng.IntN(len(live))
					model = append(model, rec{live[i].ID(), clk.now()})
					live[i].Close()
					live = slices.Delete(live, i, i+1)
				case op < 97:
					clk.add(time.Duration(rng.IntN(120)) * time.Second)
				case op < 98:
					maxLen = 500 + rng.IntN(4000)
					r.SetChangelogLimits(maxLen, maxAge)
					bound()
				default:
					rev := uint64(len(model))
					after := uint64(rng.IntN(len(model) + 1))
					got, ok := r.Changed(after, rev)
					// The model serves after if every revision after it is
					// within both bounds.
					cutoff := clk.now().Add(-maxAge)
					wantOK := after+1 >= floor
					for i := after; wantOK && i < rev; i++ {
						wantOK = !model[i].at.Before(cutoff)
					}
					if after == rev {
						wantOK = true
					}
					if ok != wantOK {
						t.Fatalf("step %d: Changed(%d, %d) ok = %v, want %v", step, after, rev, ok, wantOK)
					}
					if ok {
						var want []core.SessionID
						for i := after; i < rev; i++ {
							want = append(want, model[i].id)
						}
						slices.Sort(want)
						want = slices.Compact(want)
						if !slices.Equal(got, want) {
							t.Fatalf("step %d: Changed(%d, %d) = %v, want %v", step, after, rev, got, want)
						}
					}
				}
				bound()
			}
		})
	}
}
