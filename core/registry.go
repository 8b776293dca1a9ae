package core

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxPending bounds how many distinct changed sessions a subscriber may
// owe before it is declared lagging and must start over from a snapshot. It
// keeps a stalled subscriber from growing memory without bound.
const DefaultMaxPending = 100_000

// Registry is the set of live sessions. Every meaningful mutation bumps a
// registry-wide revision and wakes subscribers; it never waits for them.
type Registry struct {
	now        func() time.Time
	maxPending int

	mu       sync.Mutex
	nextID   SessionID
	rev      uint64
	changeAt time.Time
	live     map[SessionID]*entry
	// order holds live entries by ascending id, plus entries closed since the
	// last compaction. Ids only grow, so Open appends; reads compact. It lets
	// a page of a large registry be served without touching every session.
	order []*entry
	dead  int
	// perService counts sessions by service, for the services resource.
	perService map[string]*ServiceCount
	subs       map[*Subscription]struct{}
	// changes records which session each recent revision touched, so stream
	// clients can resume (see changelog.go).
	changes changelog
	// published is what PublishActivity last saw (see publish.go).
	published activityMarks
	// totals keeps each service's statistics (see stats.go).
	totals map[string]*serviceTotals
}

type entry struct {
	s    Session // guarded by Registry.mu
	dead bool    // guarded by Registry.mu
	kill func()  // guarded by Registry.mu; ends the session's connections
	// svc is the session's service's tally, fixed at Open so that the relay
	// reaches it without a map lookup or a lock.
	svc *serviceTotals
	// log mirrors s.Log for the session's logger, which checks it per line.
	log atomic.Value // LogFlags

	// Everything below changes with every packet or statement, so it lives
	// outside the registry lock and publishes nothing.
	lastActivity          atomic.Int64
	bytesIn, bytesOut     atomic.Uint64
	packetsIn, packetsOut atomic.Uint64
	queries               atomic.Uint64
	inFlight              atomic.Int64
	io                    ioWindow
	hist                  history
}

func (e *entry) snapshot(now time.Time) Session {
	s := e.s.clone()
	s.LastActivity = time.Unix(0, e.lastActivity.Load())
	s.Busy = e.inFlight.Load() > 0
	s.Traffic = e.traffic()
	s.IOActivity = e.io.count(now)
	s.Statements, s.Memory.Statements = e.hist.list()
	s.LastStatement, _ = e.hist.last()
	return s
}

// NewRegistry returns an empty registry. now may be nil for time.Now.
func NewRegistry(now func() time.Time) *Registry {
	if now == nil {
		now = time.Now
	}
	return &Registry{
		now:        now,
		maxPending: DefaultMaxPending,
		live:       make(map[SessionID]*entry),
		perService: make(map[string]*ServiceCount),
		totals:     make(map[string]*serviceTotals),
		subs:       make(map[*Subscription]struct{}),
	}
}

// Now is the registry's clock, shared so that idle times and event times agree.
func (r *Registry) Now() time.Time { return r.now() }

// Open registers a new session, assigning its id and connect time.
func (r *Registry) Open(s Session) *Handle {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	s.ID = r.nextID
	if s.Connected.IsZero() {
		s.Connected = now
	}
	if s.State == "" {
		s.State = StateAllocated
	}
	if s.Log == (LogFlags{}) {
		s.Log = DefaultLogFlags
	}
	t := r.totals[s.Service]
	if t == nil {
		t = newServiceTotals()
		r.totals[s.Service] = t
	}
	e := &entry{s: s.clone(), svc: t}
	e.log.Store(s.Log)
	e.lastActivity.Store(now.UnixNano())
	r.live[s.ID] = e
	r.order = append(r.order, e)
	c := r.perService[s.Service]
	if c == nil {
		c = &ServiceCount{}
		r.perService[s.Service] = c
	}
	c.Current++
	c.Total++
	r.changedLocked(s.ID)
	return &Handle{r: r, e: e, id: s.ID}
}

// Rev returns the current revision.
func (r *Registry) Rev() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rev
}

// Get returns a copy of one live session.
func (r *Registry) Get(id SessionID) (Session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.live[id]
	if !ok {
		return Session{}, Errorf(ENOTFOUND, "%s is not a session", id)
	}
	return e.snapshot(r.now()), nil
}

// List returns every live session in id order and the revision they reflect.
func (r *Registry) List() (uint64, []Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rev, r.listLocked(nil)
}

func (r *Registry) listLocked(match func(Session) bool) []Session {
	r.compactLocked()
	now := r.now()
	out := make([]Session, 0, len(r.order))
	for _, e := range r.order {
		s := e.snapshot(now)
		if match == nil || match(s) {
			out = append(out, s)
		}
	}
	return out
}

// Page returns up to limit sessions in id order, starting at the offset-th,
// and how many sessions there are in all. Its cost depends on limit, not on
// the number of sessions, beyond compacting recent closes.
func (r *Registry) Page(offset, limit int) (total int, page []Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.compactLocked()
	total = len(r.order)
	if offset < 0 || offset >= total || limit <= 0 {
		return total, nil
	}
	end := min(total, offset+min(limit, total))
	page = make([]Session, 0, end-offset)
	now := r.now()
	for _, e := range r.order[offset:end] {
		page = append(page, e.snapshot(now))
	}
	return total, page
}

// compactLocked drops closed entries from order, in place.
func (r *Registry) compactLocked() {
	if r.dead == 0 {
		return
	}
	live := r.order[:0]
	for _, e := range r.order {
		if !e.dead {
			live = append(live, e)
		}
	}
	clear(r.order[len(live):])
	r.order = live
	r.dead = 0
}

// ServiceCount is how many sessions a service has now and has had since start.
type ServiceCount struct {
	Current int
	Total   int
}

// ServiceCounts returns the session counts of every service that has had a
// session.
func (r *Registry) ServiceCounts() map[string]ServiceCount {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]ServiceCount, len(r.perService))
	for name, c := range r.perService {
		out[name] = *c
	}
	return out
}

// LastChange returns the current revision and when it was made, for HTTP
// validators on the collection.
func (r *Registry) LastChange() (uint64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rev, r.changeAt
}

// changedLocked bumps the revision and marks id dirty for every subscriber.
func (r *Registry) changedLocked(id SessionID) {
	r.rev++
	r.changeAt = r.now()
	if e, ok := r.live[id]; ok {
		e.s.Modified = r.changeAt
	}
	r.changes.add(r.rev, id, r.changeAt)
	for sub := range r.subs {
		sub.mark(id, r.maxPending)
	}
}

// Handle is the proxy's grip on the session it serves. It is the only way to
// mutate a registered session.
type Handle struct {
	r  *Registry
	e  *entry
	id SessionID
}

// ID returns the session id.
func (h *Handle) ID() SessionID { return h.id }

// Update applies fn to the live session and publishes the change. fn must not
// change the id.
func (h *Handle) Update(fn func(*Session)) {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	if _, ok := h.r.live[h.id]; !ok {
		return
	}
	fn(&h.e.s)
	h.e.s.ID = h.id
	h.r.changedLocked(h.id)
}

// LogFlags returns the session's current log levels without locking.
func (h *Handle) LogFlags() LogFlags { return h.e.log.Load().(LogFlags) }

// SetLogFlags changes a session's log levels.
func (r *Registry) SetLogFlags(id SessionID, flags LogFlags) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.live[id]
	if !ok {
		return Errorf(ENOTFOUND, "%s is not a session", id)
	}
	if e.s.Log == flags {
		return nil
	}
	e.s.Log = flags
	e.log.Store(flags)
	r.changedLocked(id)
	return nil
}

// Touch records I/O activity. It is cheap and publishes nothing: idle time is
// derived by readers, not streamed.
func (h *Handle) Touch(t time.Time) { h.e.lastActivity.Store(t.UnixNano()) }

// IO records one socket read that returned data, on either connection, at
// t. It counts towards IOActivity and touches the session.
func (h *Handle) IO(t time.Time) {
	h.e.io.add(t)
	h.e.lastActivity.Store(t.UnixNano())
}

// CountIn adds bytes and packets read from the client.
func (h *Handle) CountIn(bytes, packets int) {
	if bytes > 0 {
		h.e.bytesIn.Add(uint64(bytes))
	}
	if packets > 0 {
		h.e.packetsIn.Add(uint64(packets))
	}
}

// CountOut adds bytes and packets written to the client.
func (h *Handle) CountOut(bytes, packets int) {
	if bytes > 0 {
		h.e.bytesOut.Add(uint64(bytes))
	}
	if packets > 0 {
		h.e.packetsOut.Add(uint64(packets))
	}
}

// CountQuery counts one executed statement.
func (h *Handle) CountQuery() { h.e.queries.Add(1) }

// InFlight adds delta to the number of commands waiting for their reply;
// the session is busy, not idle, while any is.
func (h *Handle) InFlight(delta int) { h.e.inFlight.Add(int64(delta)) }

// ClearInFlight forgets every waiting command, for when the proxy can no
// longer tell where replies end.
func (h *Handle) ClearInFlight() { h.e.inFlight.Store(0) }

// RetainStatements sets how many statements the session keeps, dropping
// any it kept before.
func (h *Handle) RetainStatements(n int) { h.e.hist.retain(n) }

// StatementReceived records a statement the client sent and returns the
// ticket that completes it.
func (h *Handle) StatementReceived(command, text string, t time.Time) uint64 {
	return h.e.hist.add(Statement{Command: command, Text: text, Received: t})
}

// StatementCompleted records that server finished answering the statement
// with the ticket. Statements already pushed out of the history are skipped.
func (h *Handle) StatementCompleted(ticket uint64, server string, t time.Time) {
	h.e.hist.complete(ticket, server, t)
}

// OnKill sets how the session is ended when an operator kills it. The proxy
// closes the session's connections; closing is what removes it.
func (h *Handle) OnKill(fn func()) {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.e.kill = fn
}

// Kill ends a session now. The session stays listed, as "Stopping session",
// until its connections have closed.
func (r *Registry) Kill(id SessionID) error {
	r.mu.Lock()
	e, ok := r.live[id]
	if !ok {
		r.mu.Unlock()
		return Errorf(ENOTFOUND, "%s is not a session", id)
	}
	kill := e.kill
	if e.s.State != StateStopping {
		e.svc.kills.Add(1)
		e.s.State = StateStopping
		r.changedLocked(id)
	}
	r.mu.Unlock()
	if kill != nil {
		kill()
	}
	return nil
}

// KillWhenIdle kills a session once it has been idle for ttl, checking again
// whenever activity has pushed the deadline back.
func (r *Registry) KillWhenIdle(id SessionID, ttl time.Duration) error {
	if _, err := r.Get(id); err != nil {
		return err
	}
	var check func()
	check = func() {
		s, err := r.Get(id)
		if err != nil {
			return // already gone
		}
		idle := r.now().Sub(s.LastActivity)
		if s.Busy {
			// A running command is activity, however long it takes.
			idle = 0
		}
		if idle >= ttl {
			_ = r.Kill(id)
			return
		}
		time.AfterFunc(ttl-idle, check)
	}
	check()
	return nil
}

// Close removes the session from the registry. It is safe to call twice.
func (h *Handle) Close() {
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	if _, ok := h.r.live[h.id]; !ok {
		return
	}
	delete(h.r.live, h.id)
	h.e.dead = true
	h.r.dead++
	h.r.perService[h.e.s.Service].Current--
	h.e.svc.closed.add(h.e.traffic())
	h.r.changedLocked(h.id)
}

func sortIDs(ids []SessionID) { slices.Sort(ids) }
