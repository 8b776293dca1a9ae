package core

import "sync"

// Subscription follows the registry from a snapshot onwards. Mutations only
// mark session ids dirty; the subscriber later reads the current state of those
// ids. Coalescing this way keeps the registry from ever blocking on a slow
// reader and bounds a reader's backlog by the number of sessions, not by the
// number of events.
type Subscription struct {
	r     *Registry
	match func(Session) bool
	ready chan struct{}

	mu      sync.Mutex // guards pending and lagging; taken inside Registry.mu
	pending map[SessionID]struct{}
	lagging bool

	// known is what the subscriber has been told exists. Only the goroutine
	// calling Next touches it.
	known map[SessionID]struct{}
}

// Snapshot is a consistent view of the matching sessions at a revision.
type Snapshot struct {
	Rev      uint64
	Sessions []Session
}

// Changes turns the subscriber's view at one revision into its view at Rev.
// Applying Removed, then Added, then Updated, yields exactly the sessions that
// match at Rev.
type Changes struct {
	Rev     uint64
	Added   []Session
	Updated []Session
	Removed []SessionID
	// Reset means the subscriber fell too far behind: it must discard its view
	// and take Snapshot instead of the other fields.
	Reset    bool
	Snapshot Snapshot
}

// Empty reports whether the changes carry nothing to send.
func (c Changes) Empty() bool {
	return !c.Reset && len(c.Added) == 0 && len(c.Updated) == 0 && len(c.Removed) == 0
}

// Subscribe registers a subscriber for sessions that satisfy match (nil for
// all) and returns the snapshot it starts from. Taking the snapshot and
// registering happen under one lock, so no change can fall between them.
func (r *Registry) Subscribe(match func(Session) bool) (*Subscription, Snapshot) {
	sub := &Subscription{
		r:       r,
		match:   match,
		ready:   make(chan struct{}, 1),
		pending: make(map[SessionID]struct{}),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	snap := sub.snapshotLocked()
	r.subs[sub] = struct{}{}
	return sub, snap
}

func (s *Subscription) snapshotLocked() Snapshot {
	list := s.r.listLocked(s.match)
	s.known = make(map[SessionID]struct{}, len(list))
	for _, sess := range list {
		s.known[sess.ID] = struct{}{}
	}
	return Snapshot{Rev: s.r.rev, Sessions: list}
}

// Ready is signalled whenever changes may be waiting. Spurious wake-ups are
// possible; Next then returns empty Changes.
func (s *Subscription) Ready() <-chan struct{} { return s.ready }

func (s *Subscription) mark(id SessionID, maxPending int) {
	s.mu.Lock()
	if !s.lagging {
		s.pending[id] = struct{}{}
		if len(s.pending) > maxPending {
			s.lagging = true
			s.pending = make(map[SessionID]struct{})
		}
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// Next collects everything that changed since the previous call (or the
// snapshot), as of the current revision.
func (s *Subscription) Next() Changes {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()

	s.mu.Lock()
	pending, lagging := s.pending, s.lagging
	s.pending, s.lagging = make(map[SessionID]struct{}), false
	s.mu.Unlock()

	if lagging {
		return Changes{Rev: r.rev, Reset: true, Snapshot: s.snapshotLocked()}
	}
	ch := Changes{Rev: r.rev}
	now := r.now()
	// Taking ids in order keeps the lists sorted without moving sessions.
	ids := make([]SessionID, 0, len(pending))
	for id := range pending {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		_, wasKnown := s.known[id]
		e, live := r.live[id]
		var cur Session
		matches := false
		if live {
			cur = e.snapshot(now)
			matches = s.match == nil || s.match(cur)
		}
		switch {
		case matches && wasKnown:
			ch.Updated = append(ch.Updated, cur)
		case matches:
			s.known[id] = struct{}{}
			ch.Added = append(ch.Added, cur)
		case wasKnown:
			delete(s.known, id)
			ch.Removed = append(ch.Removed, id)
		}
	}
	return ch
}

// Close unregisters the subscription.
func (s *Subscription) Close() {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	delete(s.r.subs, s)
}
