package core

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultPublishInterval is how often RunActivityPublisher publishes
// activity: the stream carries a session's counters at most this often.
const DefaultPublishInterval = time.Second

// Traffic counters, the last activity time, I/O activity and the statement
// history change with every packet, outside the registry lock and without a
// revision. Readers that take whole sessions (the REST API) see them live.
// The stream, which sends only what revisions changed, would hold them stale
// forever; so the publisher turns each session's activity since its last
// sweep into one revision. Counters then reach stream clients at most once
// per sweep per session, and a client that resumes catches up on them from
// the changelog like on any other change.

// activityMarks remembers what each session's activity looked like at the
// last sweep.
type activityMarks struct {
	mu    sync.Mutex // one sweep at a time
	marks map[*entry]activityMark
}

// activityMark is everything about a session's activity that a reader sees.
type activityMark struct {
	lastActivity                               int64
	bytesIn, bytesOut, packetsIn, packetsOut   uint64
	queries, statements, completed, ioActivity uint64
	busy                                       bool
}

func (e *entry) activityMark(now time.Time) activityMark {
	m := activityMark{
		lastActivity: e.lastActivity.Load(),
		bytesIn:      e.bytesIn.Load(), bytesOut: e.bytesOut.Load(),
		packetsIn: e.packetsIn.Load(), packetsOut: e.packetsOut.Load(),
		queries:    e.queries.Load(),
		ioActivity: uint64(e.io.count(now)),
		busy:       e.inFlight.Load() > 0,
	}
	h := &e.hist
	h.mu.Lock()
	m.statements = h.total
	for i := range h.ring {
		if !h.ring[i].Completed.IsZero() {
			m.completed++
		}
	}
	h.mu.Unlock()
	return m
}

// PublishActivity bumps the revision of every session whose activity has
// changed since the previous call, or which has not been swept before, and
// returns how many it published. The registry lock is held only to list the
// sessions and to publish; activity is read outside it.
func (r *Registry) PublishActivity() int {
	p := &r.published
	p.mu.Lock()
	defer p.mu.Unlock()
	r.mu.Lock()
	r.compactLocked()
	entries := slices.Clone(r.order)
	r.mu.Unlock()

	now := r.now()
	if p.marks == nil {
		p.marks = make(map[*entry]activityMark, len(entries))
	}
	var changed []*entry
	seen := make(map[*entry]struct{}, len(entries))
	for _, e := range entries {
		seen[e] = struct{}{}
		m := e.activityMark(now)
		if old, ok := p.marks[e]; !ok || old != m {
			p.marks[e] = m
			changed = append(changed, e)
		}
	}
	for e := range p.marks {
		if _, ok := seen[e]; !ok {
			delete(p.marks, e) // closed since the last sweep
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range changed {
		if !e.dead {
			r.changedLocked(e.s.ID)
			n++
		}
	}
	return n
}

// RunActivityPublisher calls PublishActivity every interval (zero for
// DefaultPublishInterval) until ctx is done.
func (r *Registry) RunActivityPublisher(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultPublishInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.PublishActivity()
		}
	}
}
