package server

import (
	"context"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

// group is the connections sharing one filter, fieldset, interval and link
// base. Its goroutine flushes the registry's changes into frames.
type group struct {
	h      *hub
	key    string
	l      linker
	filter query.Filter
	fields query.Fields
	// columns are a rows-format stream's fields, nil for resources.
	columns  []string
	interval time.Duration
	refs     int // guarded by hub.mu

	ready chan struct{} // closed once the view is built
	quit  chan struct{}
	sub   *core.Subscription

	// Only the flush goroutine uses these, to tell which members of a
	// resource changed: attrKeys and otherKeys number every attribute and
	// other member seen, and memberNames lists them by number.
	seed        maphash.Seed
	scratch     encoder
	attrKeys    map[string]int
	otherKeys   map[string]int
	memberNames []memberName

	mu sync.Mutex
	// view holds the matching sessions at rev. Entries are replaced, never
	// modified (but for their sums, which only the flush goroutine uses),
	// so readers may keep them after unlocking.
	view     map[core.SessionID]*viewEntry
	rev      uint64
	members  map[*subscriber]struct{}
	flushed  chan struct{} // closed and replaced whenever rev moves
	snap     *snapshotJob
	lastSent time.Time
}

// viewEntry is a session as the group's members hold it.
type viewEntry struct {
	s core.Session
	// sums hashes each member of the encoded resource, by memberKeys
	// index; zero for absent. Nil until a diff first needs it.
	sums []uint64
}

func newGroup(h *hub, key string, l linker, q streamQuery) *group {
	return &group{
		h: h, key: key, l: l, filter: q.filter, fields: q.fields, columns: q.columns, interval: q.interval,
		ready:     make(chan struct{}),
		quit:      make(chan struct{}),
		seed:      maphash.MakeSeed(),
		attrKeys:  make(map[string]int),
		otherKeys: make(map[string]int),
		members:   make(map[*subscriber]struct{}),
		flushed:   make(chan struct{}),
	}
}

// start subscribes, builds the view and runs the flush loop.
func (g *group) start() {
	g.h.sem <- struct{}{}
	sub, snap := g.h.feed.Subscribe(nil)
	now := g.h.feed.Now()
	view := make(map[core.SessionID]*viewEntry, len(snap.Sessions))
	for i := range snap.Sessions {
		s := &snap.Sessions[i]
		if g.filter.Empty() || g.matches(g.l.session(*s, now)) {
			view[s.ID] = &viewEntry{s: *s}
		}
	}
	<-g.h.sem
	g.mu.Lock()
	g.sub, g.view, g.rev, g.lastSent = sub, view, snap.Rev, time.Now()
	g.mu.Unlock()
	close(g.ready)
	g.run()
}

func (g *group) stop() { close(g.quit) }

func (g *group) run() {
	defer g.sub.Close()
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	armed := false
	bookmark := time.NewTimer(g.h.cfg.BookmarkInterval)
	defer bookmark.Stop()
	for {
		select {
		case <-g.quit:
			return
		case <-g.sub.Ready():
			// The first change after a flush starts the interval; later ones
			// coalesce into the same frame.
			if !armed {
				flush.Reset(g.interval)
				armed = true
			}
			continue
		case <-flush.C:
			armed = false
			start := time.Now()
			g.flush()
			// Changes made while flushing have waited since it started: under
			// steady churn, frames go out every interval, not every interval
			// plus the time a flush takes.
			select {
			case <-g.sub.Ready():
				flush.Reset(max(g.interval-time.Since(start), 0))
				armed = true
			default:
			}
		case <-bookmark.C:
			g.bookmark()
		}
		g.mu.Lock()
		quiet := time.Since(g.lastSent)
		g.mu.Unlock()
		bookmark.Reset(max(g.h.cfg.BookmarkInterval-quiet, time.Millisecond))
	}
}

func (g *group) matches(res sessionResource) bool {
	return g.filter.Empty() || g.filter.Match(&sessionDoc{res: &res})
}

// flush turns what changed since the last flush into one frame for every
// member. Only this goroutine changes the view, so it reads it unlocked.
func (g *group) flush() {
	ch := g.sub.Next()
	if ch.Empty() {
		// Nothing this group can see, but the revision moved on.
		g.mu.Lock()
		g.advanceLocked(ch.Rev)
		g.mu.Unlock()
		return
	}
	now := g.h.feed.Now()
	var changed []core.Session
	var gone []core.SessionID
	if ch.Reset {
		// More sessions changed in one interval than the subscription
		// tracks: compare the whole registry with the view instead. Members
		// see an ordinary frame.
		changed = ch.Snapshot.Sessions
		present := make(map[core.SessionID]bool, len(changed))
		for i := range changed {
			present[changed[i].ID] = true
		}
		for id := range g.view {
			if !present[id] {
				gone = append(gone, id)
			}
		}
	} else {
		changed = append(ch.Added, ch.Updated...)
		gone = ch.Removed
	}

	var (
		f       changesBuilder
		set     []*viewEntry
		removed []core.SessionID
	)
	for i := range changed {
		cur := &changed[i]
		res := g.l.session(*cur, now)
		prev, had := g.view[cur.ID]
		switch match := g.matches(res); {
		case match && had:
			e := &viewEntry{s: *cur}
			set = append(set, e)
			if err := f.update(g, prev, e, res); err != nil {
				g.h.log.Debug("stream: encode update", "err", err)
			}
		case match:
			e := &viewEntry{s: *cur}
			set = append(set, e)
			if err := f.add(g, e, res); err != nil {
				g.h.log.Debug("stream: encode add", "err", err)
			}
		case had:
			removed = append(removed, cur.ID)
		}
	}
	for _, id := range gone {
		if _, had := g.view[id]; had {
			removed = append(removed, id)
		}
	}
	f.removed = removed

	var fr *frame
	if !f.empty() {
		fr = &frame{b: f.encode(g.h.epoch, ch.Rev, now), rev: ch.Rev}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, e := range set {
		g.view[e.s.ID] = e
	}
	for _, id := range removed {
		delete(g.view, id)
	}
	if fr != nil {
		g.broadcastLocked(fr)
	}
	g.advanceLocked(ch.Rev)
}

// advanceLocked records that the view is now at rev.
func (g *group) advanceLocked(rev uint64) {
	if rev == g.rev {
		return
	}
	g.rev = rev
	g.snap = nil
	close(g.flushed)
	g.flushed = make(chan struct{})
}

func (g *group) broadcastLocked(f *frame) {
	cfg := g.h.cfg
	for sub := range g.members {
		if sub.push(f, cfg.QueueFrames, cfg.QueueBytes) {
			g.h.lagging.Add(1)
		}
	}
	g.lastSent = time.Now()
}

func (g *group) bookmark() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.lastSent) < g.h.cfg.BookmarkInterval || len(g.members) == 0 {
		return
	}
	g.broadcastLocked(&frame{b: bookmarkFrame(g.h.epoch, g.rev, g.h.feed.Now()), rev: g.rev})
}

// joinPlan is what a connection writes on joining or catching up, before
// the group's frames: an optional reset, then a snapshot or a resume frame.
// A plan with wait set asks to try again once it is closed.
type joinPlan struct {
	reset    string
	snapshot *snapshotJob
	catchUp  *catchUp
	wait     <-chan struct{}
}

// join adds sub to the group. Without since it gets a snapshot of the view.
// With since it gets the sessions changed after it, or a reset and a
// snapshot when that is not possible.
func (g *group) join(sub *subscriber, since streamSince, hasSince bool) joinPlan {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !hasSince {
		return g.snapshotLocked(sub, "")
	}
	current, _ := g.h.feed.LastChange()
	if since.epoch != g.h.epoch || since.rev > current {
		return g.snapshotLocked(sub, resetEpoch)
	}
	if since.rev > g.rev || since.rev == g.rev && current > g.rev {
		// The client is ahead of this group's view (it came from a group
		// that flushed later), or level with it while the registry has
		// moved on. The changes after the view's revision are pending in
		// the group's subscription, so the next flush catches the view up,
		// and the client then gets them at once rather than a bookmark.
		return joinPlan{wait: g.flushed}
	}
	return g.catchUpLocked(sub, since.rev)
}

// reattach brings a detached subscriber back once it has written its queue.
func (g *group) reattach(sub *subscriber) joinPlan {
	g.mu.Lock()
	defer g.mu.Unlock()
	sub.mu.Lock()
	rev := sub.rev
	sub.mu.Unlock()
	return g.catchUpLocked(sub, rev)
}

// catchUpLocked plans bringing sub from revision since to the view's, and
// attaches it at the view's revision.
func (g *group) catchUpLocked(sub *subscriber, since uint64) joinPlan {
	ids, ok := g.h.feed.Changed(since, g.rev)
	switch {
	case !ok:
		return g.snapshotLocked(sub, resetExpired)
	case len(ids) > g.h.cfg.MaxCatchUp:
		return g.snapshotLocked(sub, resetLagging)
	}
	c := &catchUp{g: g, rev: g.rev, now: g.h.feed.Now()}
	for _, id := range ids {
		if e, ok := g.view[id]; ok {
			c.set = append(c.set, e)
		} else {
			c.removed = append(c.removed, id)
		}
	}
	g.attachLocked(sub)
	return joinPlan{catchUp: c}
}

func (g *group) attachLocked(sub *subscriber) {
	sub.mu.Lock()
	sub.detached = false
	sub.rev = g.rev
	sub.mu.Unlock()
	g.members[sub] = struct{}{}
}

// snapshotLocked plans a snapshot of the view and attaches sub at its
// revision. Clients joining at the same revision share one encoding.
func (g *group) snapshotLocked(sub *subscriber, reset string) joinPlan {
	if g.snap == nil || g.snap.rev != g.rev || g.snap.stale() {
		list := make([]*viewEntry, 0, len(g.view))
		for _, e := range g.view {
			list = append(list, e)
		}
		g.snap = &snapshotJob{g: g, rev: g.rev, list: list, done: make(chan struct{})}
	}
	g.attachLocked(sub)
	return joinPlan{reset: reset, snapshot: g.snap}
}

func (g *group) leave(sub *subscriber) {
	g.mu.Lock()
	delete(g.members, sub)
	g.mu.Unlock()
}

// snapshotJob is a snapshot of a group's view at one revision, encoded once
// by the first connection that needs it and shared by the others.
type snapshotJob struct {
	g     *group
	rev   uint64
	start sync.Once
	list  []*viewEntry // cleared once encoded

	done   chan struct{}
	frames [][]byte
	err    error
	at     time.Time
}

func (j *snapshotJob) stale() bool {
	select {
	case <-j.done:
		return time.Since(j.at) > snapshotReuse
	default:
		return false // being encoded: share it
	}
}

// get returns the encoded frames, encoding them on first use. Encoding runs
// on its own, so a client that leaves does not fail the others waiting.
func (j *snapshotJob) get(ctx context.Context, h *hub) ([][]byte, error) {
	j.start.Do(func() {
		go func() {
			h.sem <- struct{}{}
			defer func() { <-h.sem }()
			j.frames, j.err = j.encode(h)
			j.list = nil
			j.at = time.Now()
			close(j.done)
		}()
	})
	select {
	case <-j.done:
		return j.frames, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (j *snapshotJob) encode(h *hub) ([][]byte, error) {
	slices.SortFunc(j.list, func(a, b *viewEntry) int { return cmpSessionID(a.s.ID, b.s.ID) })
	now := h.feed.Now()
	var frames [][]byte
	for start := 0; start == 0 || start < len(j.list); start += snapshotChunk {
		end := min(start+snapshotChunk, len(j.list))
		b := make([]byte, 0, 512*(end-start)+128)
		b = append(b, `{"type":"snapshot","epoch":`...)
		b = appendJSONString(b, h.epoch)
		b = append(b, `,"rev":`...)
		b = appendRev(b, j.rev)
		b = append(b, `,"data":[`...)
		for i, e := range j.list[start:end] {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = j.g.appendResource(b, j.g.l.session(e.s, now)); err != nil {
				return nil, err
			}
		}
		b = append(b, `],"more":`...)
		b = strconv.AppendBool(b, end < len(j.list))
		b = append(b, '}')
		frames = append(frames, b)
	}
	return frames, nil
}

func cmpSessionID(a, b core.SessionID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// catchUp is a resume frame: the current values of the sessions that changed
// after the client's revision, and the ids of those that no longer match.
// Unlike an ordinary frame, it may add a session the client already holds
// (replace it) or remove one it never had (ignore it).
type catchUp struct {
	g       *group
	rev     uint64
	now     time.Time
	set     []*viewEntry
	removed []core.SessionID
}

func (c *catchUp) encode(h *hub) ([]byte, error) {
	if len(c.set) == 0 && len(c.removed) == 0 {
		return bookmarkFrame(h.epoch, c.rev, c.now), nil
	}
	var f changesBuilder
	for _, e := range c.set {
		b, err := c.g.appendResource(nil, c.g.l.session(e.s, c.now))
		if err != nil {
			return nil, err
		}
		f.added = append(f.added, idBytes{e.s.ID, b})
	}
	f.removed = c.removed
	return f.encode(h.epoch, c.rev, c.now), nil
}
