package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

// The session stream (GET /v1/sessions/stream) is built from three parts:
//
//   - a hub per server, which admits connections and shares groups;
//   - a group per (link base, normalised filter, fields, interval), which
//     holds one registry subscription and the view its members see, and at
//     each interval turns the registry's dirty sessions into one encoded
//     frame for all of them (encode once, write many);
//   - a subscriber per connection, whose single writer drains a bounded
//     queue of shared frames. A full queue detaches it from the group; once
//     it has written what it holds, it catches up from the registry's
//     changelog, or starts over from a snapshot.
//
// Mutations never wait on any of this: the registry only marks sessions
// dirty for each group's subscription.

// StreamConfig tunes the session stream; zero fields take the defaults in
// brackets.
type StreamConfig struct {
	// MaxConns caps concurrent stream connections [10000]. Past it the
	// upgrade is refused with 503.
	MaxConns int
	// QueueFrames and QueueBytes bound a connection's queue of frames not
	// yet written [64 frames, 8 MiB]. Frames are shared between the
	// connections of a group, so the bytes are mostly not the connection's
	// own.
	QueueFrames int
	QueueBytes  int
	// WriteTimeout bounds every write [10s].
	WriteTimeout time.Duration
	// LagLimit is how long a connection may stay detached before it is
	// closed with 1008 [30s].
	LagLimit time.Duration
	// BookmarkInterval is how long a group stays quiet before it sends a
	// bookmark [15s].
	BookmarkInterval time.Duration
	// SnapshotConcurrency caps snapshots and group views being built at
	// once [GOMAXPROCS, at least 2].
	SnapshotConcurrency int
	// MaxCatchUp is the most sessions a resume or catch-up frame carries;
	// a client further behind gets a reset and a snapshot [10000].
	MaxCatchUp int
}

func (c StreamConfig) withDefaults() StreamConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConns, 10_000)
	def(&c.QueueFrames, 64)
	def(&c.QueueBytes, 8<<20)
	defDur(&c.WriteTimeout, 10*time.Second)
	defDur(&c.LagLimit, 30*time.Second)
	defDur(&c.BookmarkInterval, 15*time.Second)
	def(&c.SnapshotConcurrency, max(2, runtime.GOMAXPROCS(0)))
	def(&c.MaxCatchUp, 10_000)
	return c
}

const (
	snapshotChunk = 500
	// streamReadLimit bounds a client frame. Clients send nothing but
	// control frames; a data frame closes the stream with 1008.
	streamReadLimit = 1024
	// closeGrace bounds the close handshake of a stream at shutdown.
	closeGrace = time.Second
	// snapshotReuse is how long an encoded snapshot is shared by clients
	// joining at the same revision; it bounds how stale their idle times are.
	snapshotReuse = time.Second
)

// volatileAttributes change every instant without a revision. They are sent
// in snapshots and added sessions only; clients derive them afterwards from
// last_activity, connected and the frames' time. Counters (bytes, packets,
// queries, io_activity, last_activity) are not volatile: the registry's
// activity publisher makes their changes revisions, at most one per session
// per sweep (core.Registry.PublishActivity).
var volatileAttributes = []string{"idle", "seconds_alive"}

// Reset reasons.
const (
	resetExpired = "expired" // the changelog no longer reaches back to the client's revision
	resetEpoch   = "epoch"   // the revision is from another process, or from the future
	resetLagging = "lagging" // the client fell too far behind to catch up cheaply
)

// sessionFeed is what the stream needs from the session registry.
type sessionFeed interface {
	Subscribe(match func(core.Session) bool) (*core.Subscription, core.Snapshot)
	Changed(after, through uint64) ([]core.SessionID, bool)
	LastChange() (uint64, time.Time)
	Now() time.Time
}

var _ sessionFeed = (*core.Registry)(nil)

// stream serves GET /v1/sessions/stream.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	// Every parameter is checked before the upgrade, so a mistake is a plain
	// HTTP 400 that any client can read.
	q, err := s.parseStreamQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done, err := s.streams.admit()
	if err != nil {
		s.writeErrorStatus(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	// Origin was checked before the upgrade when it matters (cookie auth);
	// Basic and bearer clients are not browsers acting on someone's behalf.
	hw := &hijackWriter{ResponseWriter: w}
	c, err := websocket.Accept(hw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		done()
		s.log.Debug("stream: upgrade failed", "err", err)
		return
	}
	c.SetReadLimit(streamReadLimit)
	raw := hw.conn
	l := newLinker(r)
	// The connection is hijacked, so the handler returns and its goroutine,
	// with the request and its deep stack, goes away: an idle stream costs
	// two small goroutines, this writer and CloseRead's reader. CloseRead
	// handles pings and close frames and cancels ctx when the client goes.
	ctx := c.CloseRead(context.Background())
	go func() {
		defer done()
		defer c.CloseNow()
		err := s.streams.serve(ctx, c, l, q)
		select {
		case <-s.streams.closing:
			// The library waits up to 5 s to send its close frame and 5 s
			// more for the client's; a client that has stopped reading (a
			// suspended tab, a stalled network) would hold the shutdown
			// that long.
			_ = raw.SetDeadline(time.Now().Add(closeGrace))
		default:
		}
		var ce closeError
		switch {
		case errors.As(err, &ce):
			_ = c.Close(ce.code, ce.reason)
		case err == nil || ctx.Err() != nil:
			_ = c.Close(websocket.StatusNormalClosure, "")
		default:
			s.log.Debug("stream: write failed", "err", err)
		}
	}()
}

// closeError ends a stream with a close code.
type closeError struct {
	code   websocket.StatusCode
	reason string
}

func (e closeError) Error() string { return e.reason }

// CloseStreams closes every session stream with 1001 (going away) and refuses
// new ones. It returns once they are closed or ctx is done. Call it before
// shutting the HTTP server down: streams are hijacked connections that
// http.Server.Shutdown does not track.
func (s *Server) CloseStreams(ctx context.Context) {
	s.streams.close(ctx)
}

// hub admits connections and shares groups between them.
type hub struct {
	feed  sessionFeed
	epoch string
	cfg   StreamConfig
	log   *slog.Logger
	sem   chan struct{} // snapshot and view builds in progress

	mu      sync.Mutex
	groups  map[string]*group
	conns   int
	closing chan struct{} // closed by close
	closed  bool
	active  sync.WaitGroup

	// The counters below are for /metrics; they only grow.
	//
	// lagging counts the times a connection's queue filled and it was
	// detached to catch up later; dropped, the connections closed because
	// they stayed behind for the lag limit.
	lagging, dropped atomic.Uint64
	// resets counts reset frames by reason, guarded by mu.
	resets map[string]uint64
}

func newHub(feed sessionFeed, epoch string, cfg StreamConfig, log *slog.Logger) *hub {
	cfg = cfg.withDefaults()
	return &hub{
		feed:    feed,
		epoch:   epoch,
		cfg:     cfg,
		log:     log,
		sem:     make(chan struct{}, cfg.SnapshotConcurrency),
		groups:  make(map[string]*group),
		closing: make(chan struct{}),
		resets:  make(map[string]uint64),
	}
}

var (
	errTooManyStreams = errors.New("too many session streams are open; try again later")
	errShuttingDown   = errors.New("the server is shutting down")
)

// admit counts a connection against the cap, before the upgrade.
func (h *hub) admit() (done func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errShuttingDown
	}
	if h.conns >= h.cfg.MaxConns {
		return nil, errTooManyStreams
	}
	h.conns++
	h.active.Add(1)
	return func() {
		h.mu.Lock()
		h.conns--
		h.mu.Unlock()
		h.active.Done()
	}, nil
}

func (h *hub) close(ctx context.Context) {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.closing)
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.active.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// acquire returns the group for q, creating it if needed, once its view is
// built.
func (h *hub) acquire(ctx context.Context, l linker, q streamQuery) (*group, error) {
	key := l.base + "\x00" + q.key
	h.mu.Lock()
	g := h.groups[key]
	if g == nil {
		g = newGroup(h, key, l, q)
		h.groups[key] = g
		go g.start()
	}
	g.refs++
	h.mu.Unlock()
	select {
	case <-g.ready:
		return g, nil
	case <-ctx.Done():
		h.release(g)
		return nil, ctx.Err()
	}
}

func (h *hub) release(g *group) {
	h.mu.Lock()
	g.refs--
	last := g.refs == 0
	if last {
		delete(h.groups, g.key)
	}
	h.mu.Unlock()
	if last {
		g.stop()
	}
}

// serve runs one connection: it joins the group, writes what the join
// requires (a snapshot, a resume frame, or a reset and a snapshot), then
// writes the group's frames as they are queued.
func (h *hub) serve(ctx context.Context, c *websocket.Conn, l linker, q streamQuery) error {
	g, err := h.acquire(ctx, l, q)
	if err != nil {
		return err
	}
	defer h.release(g)
	sub := &subscriber{wake: make(chan struct{}, 1)}
	defer g.leave(sub)
	w := &connWriter{h: h, c: c}

	j := g.join(sub, q.since, q.hasSince)
	for j.wait != nil {
		// Resuming from beyond the group's view: wait for its next flush.
		select {
		case <-j.wait:
		case <-ctx.Done():
			return nil
		case <-h.closing:
			return errGoingAway
		}
		j = g.join(sub, q.since, q.hasSince)
	}
	if err := w.writeJoin(ctx, j); err != nil {
		return err
	}
	for {
		f, detached, lagSince := sub.pop()
		if detached && time.Since(lagSince) > h.cfg.LagLimit {
			h.dropped.Add(1)
			return closeError{websocket.StatusPolicyViolation, "lagging: the client could not keep up for " + h.cfg.LagLimit.String()}
		}
		switch {
		case f != nil:
			if err := w.write(ctx, f.b); err != nil {
				return err
			}
			continue
		case detached:
			// Everything queued before it fell behind is written: catch up.
			if err := w.writeJoin(ctx, g.reattach(sub)); err != nil {
				return err
			}
			continue
		}
		select {
		case <-sub.wake:
		case <-ctx.Done():
			return nil
		case <-h.closing:
			return errGoingAway
		}
	}
}

var errGoingAway = closeError{websocket.StatusGoingAway, "the server is shutting down"}

// connWriter writes frames to one connection, each within the write timeout.
type connWriter struct {
	h *hub
	c *websocket.Conn
}

func (w *connWriter) write(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, w.h.cfg.WriteTimeout)
	defer cancel()
	return w.c.Write(ctx, websocket.MessageText, b)
}

// writeJoin writes what a join or catch-up decided, encoding it here, outside
// every lock.
func (w *connWriter) writeJoin(ctx context.Context, j joinPlan) error {
	if j.reset != "" {
		w.h.mu.Lock()
		w.h.resets[j.reset]++
		w.h.mu.Unlock()
		if err := w.write(ctx, resetFrame(j.reset)); err != nil {
			return err
		}
	}
	switch {
	case j.snapshot != nil:
		frames, err := j.snapshot.get(ctx, w.h)
		if err != nil {
			return err
		}
		for _, b := range frames {
			if err := w.write(ctx, b); err != nil {
				return err
			}
		}
	case j.catchUp != nil:
		b, err := j.catchUp.encode(w.h)
		if err != nil {
			return err
		}
		return w.write(ctx, b)
	}
	return nil
}

// frame is an encoded frame shared by the connections of a group.
type frame struct {
	b   []byte
	rev uint64 // the revision a client holds once it has applied the frame
}

// subscriber is one connection's place in a group.
type subscriber struct {
	wake chan struct{}

	mu       sync.Mutex
	queue    []*frame
	head     int
	bytes    int
	rev      uint64 // what the client holds once the queue is written
	detached bool
	lagSince time.Time // when it first fell behind; zero once caught up
}

// push queues f unless the queue is full, in which case the subscriber is
// detached and gets no more frames until it catches up. It reports whether
// this push detached it.
func (s *subscriber) push(f *frame, maxFrames, maxBytes int) (detached bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.detached {
		return false
	}
	if len(s.queue)-s.head >= maxFrames || s.bytes+len(f.b) > maxBytes {
		s.detached = true
		if s.lagSince.IsZero() {
			s.lagSince = time.Now()
		}
		return true
	}
	s.queue = append(s.queue, f)
	s.bytes += len(f.b)
	s.rev = f.rev
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return false
}

// pop returns the next frame to write, if any, whether the subscriber is
// detached and since when it has been behind. Draining the queue while
// attached means it has caught up.
func (s *subscriber) pop() (f *frame, detached bool, lagSince time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head < len(s.queue) {
		f = s.queue[s.head]
		s.queue[s.head] = nil
		s.head++
		s.bytes -= len(f.b)
		if s.head == len(s.queue) {
			s.queue, s.head = s.queue[:0], 0
		}
		return f, s.detached, s.lagSince
	}
	if !s.detached {
		s.lagSince = time.Time{}
		if cap(s.queue) > 16 {
			s.queue = nil // an idle connection keeps no backlog capacity
		}
	}
	return nil, s.detached, s.lagSince
}

const (
	minStreamInterval = 50 * time.Millisecond
	maxStreamInterval = 10 * time.Second
)

// streamQuery is the stream's parsed parameters.
type streamQuery struct {
	filter query.Filter
	fields query.Fields
	// columns are set for format=rows (see stream_rows.go).
	columns  []string
	interval time.Duration
	since    streamSince
	hasSince bool
	// key identifies the normalised filter, fields and interval: clients
	// with equal keys share frames.
	key string
}

// streamSince is a resume point, `since=<epoch>:<rev>`.
type streamSince struct {
	epoch string
	rev   uint64
}

func (s streamSince) String() string { return s.epoch + ":" + strconv.FormatUint(s.rev, 10) }

// parseSince reads `<epoch>:<rev>` as the stream's frames give them. The
// epoch is up to 64 letters, digits, '-' or '_'; the revision a decimal
// uint64 without sign or leading zeros.
func parseSince(v string) (streamSince, error) {
	bad := core.Errorf(core.EINVALID, "invalid value %q for parameter since: use <epoch>:<rev> from the last frame received", v)
	epoch, r, ok := strings.Cut(v, ":")
	if !ok || epoch == "" || len(epoch) > 64 || r == "" || (len(r) > 1 && r[0] == '0') {
		return streamSince{}, bad
	}
	for _, c := range []byte(epoch) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return streamSince{}, bad
		}
	}
	for _, c := range []byte(r) {
		if c < '0' || c > '9' {
			return streamSince{}, bad
		}
	}
	rev, err := strconv.ParseUint(r, 10, 64)
	if err != nil {
		return streamSince{}, bad
	}
	return streamSince{epoch: epoch, rev: rev}, nil
}

// parseStreamQuery reads the stream's parameters with the same parser as the
// REST collection, so a filter means the same thing in both.
func (s *Server) parseStreamQuery(r *http.Request) (streamQuery, error) {
	values := r.URL.Query()
	q := streamQuery{interval: s.interval}
	cq, err := parseCollectionQuery(values, "sessions")
	if err != nil {
		return q, err
	}
	if cq.page.Set {
		return q, core.Errorf(core.EINVALID, "the stream does not support page[size] or page[number]: it sends every matching session")
	}
	for _, ptr := range cq.filter.Reads() {
		for _, v := range volatileAttributes {
			if isPrefix(ptr, []string{"attributes", v}) {
				return q, core.Errorf(core.EINVALID, "the stream cannot filter on /attributes/%s, which changes without a revision: filter the REST collection instead", v)
			}
		}
	}
	q.filter, q.fields = cq.filter, cq.fields
	if v := values.Get("interval"); v != "" {
		ms, err := strconv.Atoi(v)
		d := time.Duration(ms) * time.Millisecond
		if err != nil || d < minStreamInterval || d > maxStreamInterval {
			return q, core.Errorf(core.EINVALID, "invalid value %q for parameter interval: use milliseconds from 50 to 10000", v)
		}
		q.interval = d
	}
	if values.Has("since") {
		if q.since, err = parseSince(values.Get("since")); err != nil {
			return q, err
		}
		q.hasSince = true
	}
	switch f := values.Get("format"); f {
	case "", "resources":
	case "rows":
		if q.columns, err = rowColumns(q.fields); err != nil {
			return q, err
		}
	default:
		return q, core.Errorf(core.EINVALID, "invalid value %q for parameter format: use resources (the default) or rows", f)
	}
	q.key = strconv.FormatInt(int64(q.interval), 10) + "\x00" + normalisedParams(values)
	if q.columns != nil {
		// Unlike a fieldset, the order of columns matters.
		q.key += "\x00rows\x00" + strings.Join(q.columns, ",")
	}
	return q, nil
}

func isPrefix(p, of []string) bool {
	return len(p) <= len(of) && slices.Equal(p, of[:len(p)])
}

// normalisedParams is the filter and fieldset parameters in a canonical
// order: filter terms are ANDed and fieldset items merged, so their order
// does not matter.
func normalisedParams(values url.Values) string {
	canon := url.Values{}
	for k, vs := range values {
		switch {
		case k == "filter" || strings.HasPrefix(k, "filter["):
			canon[k] = slices.Sorted(slices.Values(vs))
		case k == "fields[sessions]":
			var items []string
			for _, v := range vs {
				for item := range strings.SplitSeq(v, ",") {
					if item = strings.Trim(item, " \t"); item != "" {
						items = append(items, item)
					}
				}
			}
			slices.Sort(items)
			canon[k] = slices.Compact(items)
		}
	}
	return canon.Encode()
}
