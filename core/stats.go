package core

import (
	"sync/atomic"
	"time"
)

// ServiceStats is what a service's sessions have done since Portico started,
// closed sessions included, for monitoring systems that want counters which
// only grow (Prometheus computes rates from them).
type ServiceStats struct {
	// Sessions counts the live sessions by state.
	Sessions map[State]int
	// Connects counts the client connections the service accepted, whether
	// or not their login then succeeded.
	Connects uint64
	// AuthFailures counts logins the backend refused: an ERR that ends the
	// handshake's authentication (wrong password, unknown user, no access to
	// the database) or answers a COM_CHANGE_USER. Handshakes that fail for
	// other reasons (no server reachable, the server refuses the connection
	// before authentication, a malformed packet, a timeout, the client going
	// away) are not counted: they say nothing about credentials.
	AuthFailures uint64
	// Kills counts sessions an operator ended through Registry.Kill: the
	// API's DELETE, its ttl and the dashboard. A session killed twice counts
	// once. A client's own KILL statement is relayed to the backend and not
	// counted here.
	Kills uint64
	// Traffic sums the client side of every session, closed or live.
	Traffic Traffic
	// QueryDuration is how long statements (COM_QUERY, COM_STMT_EXECUTE,
	// COM_STMT_BULK_EXECUTE) took, from the command's arrival from the client
	// to the end of its reply. Statements whose reply the proxy could not
	// follow are not timed, so its count may fall short of Traffic.Queries.
	QueryDuration Histogram
}

// Histogram is a snapshot of a latency histogram in the form Prometheus
// exposes: cumulative bucket counts.
type Histogram struct {
	Count uint64
	Sum   time.Duration
	// Buckets are in ascending order of UpperBound; each counts the
	// observations up to and including its bound. Count is the implicit
	// +Inf bucket.
	Buckets []Bucket
}

// Bucket is one cumulative histogram bucket.
type Bucket struct {
	UpperBound time.Duration
	Count      uint64
}

// EmptyHistogram is the query duration histogram of a service that has had
// no session yet: every bucket, none counting anything.
func EmptyHistogram() Histogram {
	h := histogram{bounds: queryBuckets()}
	return h.snapshot()
}

// queryBuckets are the histogram's upper bounds, Prometheus's usual spread
// from 100µs to 10s: a fast point query lands at the bottom, a report at the
// top, and anything slower in +Inf.
func queryBuckets() [16]time.Duration {
	return [...]time.Duration{
		100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
	}
}

// histogram counts observations in fixed buckets with atomics only, so that
// recording one costs no lock and no allocation.
type histogram struct {
	bounds [16]time.Duration
	// counts are per bucket, not cumulative; the last is +Inf.
	counts [17]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

func (h *histogram) snapshot() Histogram {
	out := Histogram{Sum: time.Duration(h.sum.Load()), Buckets: make([]Bucket, len(h.bounds))}
	// The total is summed from the buckets, not kept apart, so that +Inf
	// always equals the last bucket plus the overflow even while writers
	// run, as Prometheus requires.
	for i, b := range h.bounds {
		out.Count += h.counts[i].Load()
		out.Buckets[i] = Bucket{UpperBound: b, Count: out.Count}
	}
	out.Count += h.counts[len(h.bounds)].Load()
	return out
}

// serviceTotals is the registry's running tally for one service.
type serviceTotals struct {
	// closed is the final traffic of the service's closed sessions; live
	// sessions are added when a snapshot is taken, so the relay pays for
	// nothing but its per-session counters. Guarded by Registry.mu.
	closed Traffic

	authFailures atomic.Uint64
	kills        atomic.Uint64
	latency      histogram
}

func newServiceTotals() *serviceTotals {
	return &serviceTotals{latency: histogram{bounds: queryBuckets()}}
}

func (t *Traffic) add(o Traffic) {
	t.BytesIn += o.BytesIn
	t.BytesOut += o.BytesOut
	t.PacketsIn += o.PacketsIn
	t.PacketsOut += o.PacketsOut
	t.Queries += o.Queries
}

func (e *entry) traffic() Traffic {
	return Traffic{
		BytesIn: e.bytesIn.Load(), BytesOut: e.bytesOut.Load(),
		PacketsIn: e.packetsIn.Load(), PacketsOut: e.packetsOut.Load(),
		Queries: e.queries.Load(),
	}
}

// ServiceStats returns the statistics of every service that has had a
// session. Its cost grows with the number of live sessions, whose counters
// it sums under the registry lock: a session's traffic moves from its own
// counters to its service's total in the same step that closes it, so no
// counter ever goes down between two calls.
func (r *Registry) ServiceStats() map[string]ServiceStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Sessions find their service's stats by their tally's pointer, which
	// is cheaper to hash than its name.
	byTotals := make(map[*serviceTotals]*ServiceStats, len(r.totals))
	for name, t := range r.totals {
		byTotals[t] = &ServiceStats{
			Sessions:      make(map[State]int),
			Connects:      uint64(r.perService[name].Total),
			AuthFailures:  t.authFailures.Load(),
			Kills:         t.kills.Load(),
			Traffic:       t.closed,
			QueryDuration: t.latency.snapshot(),
		}
	}
	r.compactLocked()
	for _, e := range r.order {
		st := byTotals[e.svc]
		st.Sessions[e.s.State]++
		st.Traffic.add(e.traffic())
	}
	out := make(map[string]ServiceStats, len(r.totals))
	for name, t := range r.totals {
		out[name] = *byTotals[t]
	}
	return out
}

// QueryDone records that a statement's reply ended d after the statement
// arrived from the client.
func (h *Handle) QueryDone(d time.Duration) { h.e.svc.latency.observe(d) }

// AuthFailed records that the backend refused the session's login (see
// ServiceStats.AuthFailures).
func (h *Handle) AuthFailed() { h.e.svc.authFailures.Add(1) }
