// Package sessionwatch keeps a live local copy of a Portico server's
// sessions by following its websocket stream, GET /v1/sessions/stream.
//
// A Watcher applies the stream's snapshot, changes and bookmark frames to a
// map of sessions. When the connection drops it reconnects with jittered
// exponential backoff and resumes from the last revision it applied
// (since=<epoch>:<rev>), so no change is lost; when the server answers with a
// reset (its changelog no longer reaches back, it restarted, or the client
// fell behind) it discards its copy and takes the fresh snapshot that
// follows. After a frame has been applied, the copy equals the REST
// collection with the same filter at the frame's revision, except for the
// attributes that change without a revision (idle, seconds_alive), which the
// stream sends only with whole sessions; Session.Idle derives idle time.
package sessionwatch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Config says where and how to watch.
type Config struct {
	// URL is the server's address, such as http://127.0.0.1:8989; the
	// stream's path is appended. ws and wss URLs are accepted too.
	URL string
	// Header is sent with every upgrade request; put credentials here
	// (Authorization: Basic or Bearer).
	Header http.Header
	// Query holds the stream's parameters: filter, filter[PATH],
	// fields[sessions] and interval. since is managed by the Watcher.
	Query url.Values
	// HTTPClient dials the stream; nil for http.DefaultClient.
	HTTPClient *http.Client
	// MinBackoff and MaxBackoff bound the wait between reconnects
	// [250ms, 15s]. Each wait is drawn between half and all of a delay that
	// doubles after every failed attempt.
	MinBackoff, MaxBackoff time.Duration
	// ReadLimit bounds one frame [64 MiB]; a snapshot chunk holds up to 500
	// sessions and a resume frame up to the server's catch-up limit.
	ReadLimit int64
	// Logger receives connection events at debug level; nil discards them.
	Logger *slog.Logger
}

// Status is the state of the Watcher's connection.
type Status int

const (
	// Connecting: no connection has delivered a frame yet.
	Connecting Status = iota
	// Live: connected and up to date as of the last frame.
	Live
	// Reconnecting: the connection dropped; the copy is kept and will be
	// resumed.
	Reconnecting
)

func (s Status) String() string {
	switch s {
	case Live:
		return "live"
	case Reconnecting:
		return "reconnecting"
	}
	return "connecting"
}

// Session is one session resource as the stream sent it, with updates
// merged in.
type Session struct {
	ID   string
	Type string
	// Attributes holds each attribute's JSON. Treat it as read-only: it is
	// shared with the Watcher's copy.
	Attributes map[string]json.RawMessage
	// Members holds the resource's other members (relationships, links).
	Members map[string]json.RawMessage
	// Received is when the whole resource last arrived, by the local clock:
	// its idle and seconds_alive were current then.
	Received time.Time
}

// String returns a string attribute, or "" if it is missing or not a string.
func (s Session) String(name string) string {
	var v string
	_ = json.Unmarshal(s.Attributes[name], &v)
	return v
}

// Float returns a numeric attribute, or 0.
func (s Session) Float(name string) float64 {
	var v float64
	_ = json.Unmarshal(s.Attributes[name], &v)
	return v
}

// Service returns the id of the session's service relationship.
func (s Session) Service() string {
	var rel struct {
		Services struct {
			Data []struct {
				ID string `json:"id"`
			} `json:"data"`
		} `json:"services"`
	}
	if err := json.Unmarshal(s.Members["relationships"], &rel); err != nil || len(rel.Services.Data) == 0 {
		return ""
	}
	return rel.Services.Data[0].ID
}

// MarshalJSON encodes the session back into a resource.
func (s Session) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(s.Members)+3)
	for k, v := range s.Members {
		m[k] = v
	}
	m["id"], m["type"] = s.ID, s.Type
	if s.Attributes != nil {
		m["attributes"] = s.Attributes
	}
	return json.Marshal(m)
}

// View is a consistent copy of the watched sessions.
type View struct {
	Status Status
	// Epoch and Rev identify the server's revision the copy reflects; Rev
	// is 0 before the first snapshot has been applied.
	Epoch string
	Rev   uint64
	// Time is the server's time at the last changes or bookmark frame, and
	// Received when that frame arrived by the local clock.
	Time, Received time.Time
	// Sessions are in id order.
	Sessions []Session
}

// Idle is how long s has been idle at now (local clock). The stream sends
// idle only with whole sessions; afterwards it is the server's time less
// last_activity, the server's time being the last frame's plus the time
// since it arrived. Without last_activity it is idle as sent plus the time
// since.
func (v View) Idle(s Session, now time.Time) time.Duration {
	var d time.Duration
	var last time.Time
	if err := json.Unmarshal(s.Attributes["last_activity"], &last); err == nil && !v.Time.IsZero() {
		d = v.Time.Add(now.Sub(v.Received)).Sub(last)
	} else {
		d = time.Duration(s.Float("idle")*float64(time.Second)) + now.Sub(s.Received)
	}
	return max(d, 0).Truncate(100 * time.Millisecond)
}

// Stats counts what a Watcher has been through.
type Stats struct {
	// Connects counts upgrades; Resumes those that continued from a held
	// revision without a reset.
	Connects, Resumes int
	// Resets counts reset frames by reason (expired, epoch, lagging).
	Resets map[string]int
	// Frames counts frames applied.
	Frames int
}

// Watcher follows one stream. Its methods are safe for concurrent use.
type Watcher struct {
	cfg    Config
	log    *slog.Logger
	notify chan struct{}

	mu       sync.Mutex
	status   Status
	epoch    string
	rev      uint64
	time     time.Time
	received time.Time
	sessions map[string]*Session
	// pending gathers a snapshot's chunks until the last one.
	pending map[string]*Session
	stats   Stats
}

// New returns a Watcher for cfg; Run starts it.
func New(cfg Config) *Watcher {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(15*time.Second, cfg.MinBackoff)
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = 64 << 20
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Watcher{
		cfg:      cfg,
		log:      log,
		notify:   make(chan struct{}, 1),
		sessions: make(map[string]*Session),
		stats:    Stats{Resets: map[string]int{}},
	}
}

// Updated is signalled after frames change the view or the status changes.
// Signals coalesce: read View after each.
func (w *Watcher) Updated() <-chan struct{} { return w.notify }

// View returns a copy of the current state.
func (w *Watcher) View() View {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := View{Status: w.status, Epoch: w.epoch, Rev: w.rev, Time: w.time, Received: w.received, Sessions: make([]Session, 0, len(w.sessions))}
	for _, s := range w.sessions {
		v.Sessions = append(v.Sessions, *s)
	}
	slices.SortFunc(v.Sessions, func(a, b Session) int {
		// Ids are decimal without leading zeros: shorter is smaller.
		return cmp.Or(cmp.Compare(len(a.ID), len(b.ID)), strings.Compare(a.ID, b.ID))
	})
	return v
}

// Stats returns the counters so far.
func (w *Watcher) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Resets = maps.Clone(s.Resets)
	return s
}

// PermanentError is a refusal that retrying cannot fix: bad parameters or
// credentials.
type PermanentError struct {
	Status int
	Err    error
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("session stream refused with HTTP %d: %v", e.Status, e.Err)
}

func (e *PermanentError) Unwrap() error { return e.Err }

// Run follows the stream until ctx is done, reconnecting as needed. It
// returns nil when ctx ends it, or a *PermanentError.
func (w *Watcher) Run(ctx context.Context) error {
	delay := w.cfg.MinBackoff
	for {
		delivered, err := w.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var perm *PermanentError
		if errors.As(err, &perm) {
			return err
		}
		w.setStatus(Reconnecting)
		if delivered {
			delay = w.cfg.MinBackoff
		}
		wait := delay/2 + rand.N(delay/2+1)
		w.log.Debug("session stream: reconnecting", "after", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		delay = min(2*delay, w.cfg.MaxBackoff)
	}
}

// session runs one connection. delivered reports whether it applied a frame.
func (w *Watcher) session(ctx context.Context) (delivered bool, err error) {
	u, err := w.streamURL()
	if err != nil {
		return false, &PermanentError{Err: err}
	}
	c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: w.cfg.HTTPClient, HTTPHeader: w.cfg.Header})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return false, &PermanentError{Status: resp.StatusCode, Err: err}
		}
		return false, fmt.Errorf("dial session stream: %w", err)
	}
	defer c.CloseNow()
	c.SetReadLimit(w.cfg.ReadLimit)
	w.mu.Lock()
	w.stats.Connects++
	resuming := w.epoch != ""
	w.mu.Unlock()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return delivered, fmt.Errorf("read session stream: %w", err)
		}
		if err := w.apply(b, resuming && !delivered); err != nil {
			// The copy can no longer be trusted: start over.
			w.mu.Lock()
			w.epoch, w.rev, w.pending = "", 0, nil
			w.mu.Unlock()
			_ = c.Close(websocket.StatusProtocolError, "bad frame")
			return delivered, err
		}
		delivered = true
	}
}

func (w *Watcher) streamURL() (string, error) {
	u, err := url.Parse(w.cfg.URL)
	if err != nil {
		return "", fmt.Errorf("session stream URL: %w", err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("session stream URL %q: use http, https, ws or wss", w.cfg.URL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/sessions/stream"
	q := url.Values{}
	for k, v := range w.cfg.Query {
		q[k] = v
	}
	w.mu.Lock()
	if w.epoch != "" {
		q.Set("since", w.epoch+":"+strconv.FormatUint(w.rev, 10))
	} else {
		q.Del("since")
	}
	w.mu.Unlock()
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// wireFrame is any frame.
type wireFrame struct {
	Type    string            `json:"type"`
	Epoch   string            `json:"epoch"`
	Rev     string            `json:"rev"`
	Time    string            `json:"time"`
	Data    []json.RawMessage `json:"data"`
	More    bool              `json:"more"`
	Added   []json.RawMessage `json:"added"`
	Updated []json.RawMessage `json:"updated"`
	Removed []string          `json:"removed"`
	Reason  string            `json:"reason"`
}

// apply applies one frame. first is set for the first frame of a resumed
// connection, which tells whether the resume was accepted.
func (w *Watcher) apply(b []byte, first bool) error {
	var f wireFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	var rev uint64
	if f.Type != "reset" {
		var err error
		if rev, err = strconv.ParseUint(f.Rev, 10, 64); err != nil {
			return fmt.Errorf("%s frame: bad rev %q", f.Type, f.Rev)
		}
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stats.Frames++
	if first && f.Type != "reset" {
		w.stats.Resumes++
	}
	switch f.Type {
	case "reset":
		w.stats.Resets[f.Reason]++
		w.epoch, w.rev, w.pending = "", 0, nil
		clear(w.sessions)
	case "snapshot":
		if w.pending == nil {
			w.pending = make(map[string]*Session, len(f.Data))
		}
		for _, raw := range f.Data {
			s, err := decodeSession(raw, now)
			if err != nil {
				return err
			}
			w.pending[s.ID] = s
		}
		if f.More {
			return nil
		}
		w.sessions, w.pending = w.pending, nil
		w.epoch, w.rev = f.Epoch, rev
		w.status = Live
	case "changes":
		if err := w.changesLocked(f, now); err != nil {
			return err
		}
		w.epoch, w.rev = f.Epoch, rev
		w.time, _ = time.Parse(time.RFC3339Nano, f.Time)
		w.received = now
		w.status = Live
	case "bookmark":
		w.epoch, w.rev = f.Epoch, rev
		w.time, _ = time.Parse(time.RFC3339Nano, f.Time)
		w.received = now
		w.status = Live
	default:
		return nil // a newer server's frame type: ignore it
	}
	w.signal()
	return nil
}

// changesLocked applies removals, then whole sessions (which replace any
// held copy: a resume frame resends sessions the client may hold), then
// updates, which merge into the held copy; a null attribute removes it.
func (w *Watcher) changesLocked(f wireFrame, now time.Time) error {
	if w.epoch != "" && f.Epoch != w.epoch {
		return fmt.Errorf("changes frame from epoch %s without a reset, holding %s", f.Epoch, w.epoch)
	}
	for _, id := range f.Removed {
		delete(w.sessions, id)
	}
	for _, raw := range f.Added {
		s, err := decodeSession(raw, now)
		if err != nil {
			return err
		}
		w.sessions[s.ID] = s
	}
	for _, raw := range f.Updated {
		u, err := decodeSession(raw, now)
		if err != nil {
			return err
		}
		old, ok := w.sessions[u.ID]
		if !ok {
			return fmt.Errorf("update for session %s, which the copy does not hold", u.ID)
		}
		s := *old
		s.Attributes = maps.Clone(old.Attributes)
		for k, v := range u.Attributes {
			if string(v) == "null" {
				delete(s.Attributes, k)
			} else {
				s.Attributes[k] = v
			}
		}
		if len(u.Members) > 0 {
			s.Members = maps.Clone(old.Members)
			maps.Copy(s.Members, u.Members)
		}
		w.sessions[s.ID] = &s
	}
	return nil
}

func decodeSession(raw json.RawMessage, now time.Time) (*Session, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode session: %w", err)
	}
	s := &Session{Received: now}
	if err := json.Unmarshal(m["id"], &s.ID); err != nil || s.ID == "" {
		return nil, fmt.Errorf("session without an id: %.100s", raw)
	}
	_ = json.Unmarshal(m["type"], &s.Type)
	if a, ok := m["attributes"]; ok {
		if err := json.Unmarshal(a, &s.Attributes); err != nil {
			return nil, fmt.Errorf("session %s attributes: %w", s.ID, err)
		}
	}
	delete(m, "id")
	delete(m, "type")
	delete(m, "attributes")
	if len(m) > 0 {
		s.Members = m
	}
	return s, nil
}

func (w *Watcher) setStatus(s Status) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.status != s {
		w.status = s
		w.signal()
	}
}

func (w *Watcher) signal() {
	select {
	case w.notify <- struct{}{}:
	default:
	}
}
