package core_test

import (
	"sync"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

func TestServiceStats(t *testing.T) {
	tests := []struct {
		name string
		// run drives a registry; the stats are read after it.
		run  func(r *core.Registry)
		want map[string]core.ServiceStats
	}{
		{
			name: "no session yet",
			run:  func(*core.Registry) {},
			want: map[string]core.ServiceStats{},
		},
		{
			name: "live session",
			run: func(r *core.Registry) {
				h := r.Open(core.Session{Service: "rw"})
				h.CountIn(100, 2)
				h.CountOut(1000, 5)
				h.CountQuery()
			},
			want: map[string]core.ServiceStats{"rw": {
				Sessions: map[core.State]int{core.StateAllocated: 1},
				Connects: 1,
				Traffic:  core.Traffic{BytesIn: 100, BytesOut: 1000, PacketsIn: 2, PacketsOut: 5, Queries: 1},
			}},
		},
		{
			name: "closed sessions keep counting",
			run: func(r *core.Registry) {
				a := r.Open(core.Session{Service: "rw"})
				a.CountIn(10, 1)
				a.CountQuery()
				a.Close()
				a.Close() // twice must not count twice
				b := r.Open(core.Session{Service: "rw", State: core.StateReady})
				b.CountIn(5, 1)
				b.CountOut(7, 1)
			},
			want: map[string]core.ServiceStats{"rw": {
				Sessions: map[core.State]int{core.StateReady: 1},
				Connects: 2,
				Traffic:  core.Traffic{BytesIn: 15, BytesOut: 7, PacketsIn: 2, PacketsOut: 1, Queries: 1},
			}},
		},
		{
			name: "auth failures and kills by service",
			run: func(r *core.Registry) {
				a := r.Open(core.Session{Service: "rw"})
				a.AuthFailed()
				a.Close()
				b := r.Open(core.Session{Service: "ro"})
				_ = r.Kill(b.ID())
				// A second kill of a stopping session is the same kill.
				_ = r.Kill(b.ID())
				b.Close()
				// So is a kill of a session already gone.
				_ = r.Kill(b.ID())
			},
			want: map[string]core.ServiceStats{
				"rw": {Sessions: map[core.State]int{}, Connects: 1, AuthFailures: 1},
				"ro": {Sessions: map[core.State]int{}, Connects: 1, Kills: 1},
			},
		},
		{
			name: "sessions by state",
			run: func(r *core.Registry) {
				r.Open(core.Session{Service: "rw"})
				r.Open(core.Session{Service: "rw", State: core.StateReady})
				r.Open(core.Session{Service: "rw", State: core.StateReady})
				c := r.Open(core.Session{Service: "rw", State: core.StateReady})
				_ = r.Kill(c.ID())
			},
			want: map[string]core.ServiceStats{"rw": {
				Sessions: map[core.State]int{core.StateAllocated: 1, core.StateReady: 2, core.StateStopping: 1},
				Connects: 4,
				Kills:    1,
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := core.NewRegistry(fixedClock())
			tt.run(r)
			got := r.ServiceStats()
			if len(got) != len(tt.want) {
				t.Fatalf("stats for %d services, want %d: %+v", len(got), len(tt.want), got)
			}
			for name, want := range tt.want {
				g, ok := got[name]
				if !ok {
					t.Fatalf("no stats for %s", name)
				}
				if !sameStats(g, want) {
					t.Errorf("%s: got %+v\nwant %+v", name, withoutHistogram(g), want)
				}
				if g.QueryDuration.Count != 0 {
					t.Errorf("%s: %d timed queries, want none", name, g.QueryDuration.Count)
				}
			}
		})
	}
}

func sameStats(a, b core.ServiceStats) bool {
	if len(a.Sessions) != len(b.Sessions) {
		return false
	}
	for k, v := range b.Sessions {
		if a.Sessions[k] != v {
			return false
		}
	}
	return a.Connects == b.Connects && a.AuthFailures == b.AuthFailures && a.Kills == b.Kills && a.Traffic == b.Traffic
}

func withoutHistogram(s core.ServiceStats) core.ServiceStats {
	s.QueryDuration = core.Histogram{}
	return s
}

// TestQueryDurationBuckets checks where observations land: a bucket counts
// what is at most its bound, and the counts are cumulative.
func TestQueryDurationBuckets(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		// first is the upper bound of the first bucket that counts d; 0
		// means none does (only +Inf).
		first time.Duration
	}{
		{"zero", 0, 100 * time.Microsecond},
		{"negative counts as zero", -time.Second, 100 * time.Microsecond},
		{"just under the first bound", 99 * time.Microsecond, 100 * time.Microsecond},
		{"on the first bound", 100 * time.Microsecond, 100 * time.Microsecond},
		{"just over the first bound", 100*time.Microsecond + 1, 250 * time.Microsecond},
		{"a millisecond", time.Millisecond, time.Millisecond},
		{"between bounds", 3 * time.Millisecond, 5 * time.Millisecond},
		{"on the last bound", 10 * time.Second, 10 * time.Second},
		{"past the last bound", 10*time.Second + 1, 0},
		{"an hour", time.Hour, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := core.NewRegistry(fixedClock())
			h := r.Open(core.Session{Service: "rw"})
			h.QueryDone(tt.d)
			got := r.ServiceStats()["rw"].QueryDuration
			if got.Count != 1 {
				t.Fatalf("count = %d, want 1", got.Count)
			}
			if got.Sum != max(tt.d, 0) {
				t.Errorf("sum = %v, want %v", got.Sum, max(tt.d, 0))
			}
			if len(got.Buckets) != 16 {
				t.Fatalf("%d buckets, want 16", len(got.Buckets))
			}
			for i, b := range got.Buckets {
				if i > 0 && b.UpperBound <= got.Buckets[i-1].UpperBound {
					t.Fatalf("bounds not ascending: %+v", got.Buckets)
				}
				var want uint64
				if tt.first != 0 && b.UpperBound >= tt.first {
					want = 1
				}
				if b.Count != want {
					t.Errorf("bucket le=%v counts %d, want %d", b.UpperBound, b.Count, want)
				}
			}
			if got.Buckets[0].UpperBound != 100*time.Microsecond || got.Buckets[15].UpperBound != 10*time.Second {
				t.Errorf("bounds run from %v to %v, want 100µs to 10s", got.Buckets[0].UpperBound, got.Buckets[15].UpperBound)
			}
		})
	}
}

// TestServiceStatsConcurrent runs sessions that count, time queries and
// close while a reader takes snapshots: under -race this checks that the
// relay's side takes no lock it should, and the reader checks that no
// counter ever goes down. The final totals must be exact.
func TestServiceStatsConcurrent(t *testing.T) {
	const (
		workers  = 8
		sessions = 50
		packets  = 20
	)
	r := core.NewRegistry(nil)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var prev core.ServiceStats
		for {
			select {
			case <-stop:
				return
			default:
			}
			cur := r.ServiceStats()["rw"]
			if cur.Traffic.BytesIn < prev.Traffic.BytesIn || cur.Traffic.PacketsOut < prev.Traffic.PacketsOut ||
				cur.Traffic.Queries < prev.Traffic.Queries || cur.QueryDuration.Count < prev.QueryDuration.Count ||
				cur.Connects < prev.Connects || cur.AuthFailures < prev.AuthFailures {
				t.Errorf("a counter went down: %+v after %+v", withoutHistogram(cur), withoutHistogram(prev))
				return
			}
			if n := len(cur.QueryDuration.Buckets); n > 0 && cur.QueryDuration.Buckets[n-1].Count > cur.QueryDuration.Count {
				t.Errorf("last bucket %d exceeds the count %d", cur.QueryDuration.Buckets[n-1].Count, cur.QueryDuration.Count)
				return
			}
			prev = cur
		}
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range sessions {
				h := r.Open(core.Session{Service: "rw"})
				for range packets {
					h.CountIn(3, 1)
					h.CountOut(5, 1)
					h.CountQuery()
					h.QueryDone(time.Millisecond)
				}
				h.AuthFailed()
				h.Close()
			}
		})
	}
	wg.Wait()
	close(stop)
	<-readerDone

	got := r.ServiceStats()["rw"]
	const n = workers * sessions * packets
	want := core.Traffic{BytesIn: 3 * n, BytesOut: 5 * n, PacketsIn: n, PacketsOut: n, Queries: n}
	if got.Traffic != want {
		t.Errorf("traffic = %+v, want %+v", got.Traffic, want)
	}
	if got.Connects != workers*sessions || got.AuthFailures != workers*sessions {
		t.Errorf("connects %d, auth failures %d; want %d each", got.Connects, got.AuthFailures, workers*sessions)
	}
	if got.QueryDuration.Count != n || got.QueryDuration.Sum != n*time.Millisecond {
		t.Errorf("histogram count %d sum %v, want %d and %v", got.QueryDuration.Count, got.QueryDuration.Sum, n, n*time.Millisecond)
	}
	if len(got.Sessions) != 0 {
		t.Errorf("live sessions %v, want none", got.Sessions)
	}
}

// BenchmarkHandleCount is what the relay pays per chunk in each direction
// for the counters every metric is derived from: it must stay a few
// nanoseconds and allocate nothing.
func BenchmarkHandleCount(b *testing.B) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{Service: "rw"})
	b.ReportAllocs()
	for b.Loop() {
		h.CountIn(512, 1)
		h.CountOut(4096, 3)
	}
}

// BenchmarkHandleQueryDone is what timing one statement costs.
func BenchmarkHandleQueryDone(b *testing.B) {
	r := core.NewRegistry(nil)
	h := r.Open(core.Session{Service: "rw"})
	b.ReportAllocs()
	for b.Loop() {
		h.CountQuery()
		h.QueryDone(3 * time.Millisecond)
	}
}

// BenchmarkHandleCountParallel has every goroutine count for its own
// session of one service, as the relay does: the counters are the
// session's, so sessions do not contend.
func BenchmarkHandleCountParallel(b *testing.B) {
	r := core.NewRegistry(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		h := r.Open(core.Session{Service: "rw"})
		for pb.Next() {
			h.CountIn(512, 1)
			h.CountOut(4096, 3)
		}
	})
}

// BenchmarkServiceStats10k is a scrape's cost with 10,000 live sessions,
// most of it under the registry lock, which Open and Close then wait for.
func BenchmarkServiceStats10k(b *testing.B) {
	r := core.NewRegistry(nil)
	for i := range 10_000 {
		h := r.Open(core.Session{Service: []string{"rw", "ro", "rc"}[i%3]})
		h.CountIn(i, 1)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(r.ServiceStats()) != 3 {
			b.Fatal("want 3 services")
		}
	}
}
