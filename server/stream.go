package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

const (
	snapshotChunk    = 500
	bookmarkInterval = 15 * time.Second
	writeTimeout     = 10 * time.Second
)

// Frames are JSON text messages. Revisions are strings because JavaScript
// numbers cannot hold every uint64.
type snapshotFrame struct {
	Type  string            `json:"type"`
	Epoch string            `json:"epoch"`
	Rev   string            `json:"rev"`
	Data  []sessionResource `json:"data"`
	More  bool              `json:"more"`
}

type changesFrame struct {
	Type    string            `json:"type"`
	Epoch   string            `json:"epoch"`
	Rev     string            `json:"rev"`
	Time    string            `json:"time"`
	Added   []sessionResource `json:"added"`
	Updated []sessionResource `json:"updated"`
	Removed []string          `json:"removed"`
}

type bookmarkFrame struct {
	Type  string `json:"type"`
	Epoch string `json:"epoch"`
	Rev   string `json:"rev"`
	Time  string `json:"time"`
}

type resetFrame struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// stream serves GET /v1/sessions/stream: a snapshot, then coalesced changes.
// Each connection drains its own subscription, so a slow client only ever
// delays itself; the registry never waits for it.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	// Every parameter is checked before the upgrade, so a mistake is a plain
	// HTTP 400 that any client can read.
	opts, err := s.parseStreamQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// Origin was checked before the upgrade when it matters (cookie auth);
	// Basic and bearer clients are not browsers acting on someone's behalf.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Debug("stream: upgrade failed", "err", err)
		return
	}
	defer c.CloseNow()
	// The protocol is server-to-client; CloseRead handles pings and close
	// frames and cancels ctx when the client goes away.
	ctx := c.CloseRead(r.Context())
	l := newLinker(r)

	var match func(core.Session) bool
	if !opts.filter.Empty() {
		match = func(sess core.Session) bool {
			res := l.session(sess, s.sessions.Now())
			return opts.filter.Match(&sessionDoc{res: &res})
		}
	}
	sub, snap := s.sessions.Subscribe(match)
	defer sub.Close()
	if err := s.writeSnapshot(ctx, c, l, snap); err != nil {
		s.log.Debug("stream: write failed", "err", err)
		return
	}
	lastRev := snap.Rev
	bookmark := time.NewTicker(bookmarkInterval)
	defer bookmark.Stop()
	for {
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return
		case <-bookmark.C:
			now := s.sessions.Now()
			err = writeFrame(ctx, c, bookmarkFrame{Type: "bookmark", Epoch: s.epoch, Rev: rev(lastRev), Time: now.UTC().Format(time.RFC3339Nano)})
		case <-sub.Ready():
			// Let a burst of changes settle into one frame.
			select {
			case <-time.After(opts.interval):
			case <-ctx.Done():
				continue
			}
			ch := sub.Next()
			if ch.Empty() {
				continue
			}
			lastRev = ch.Rev
			if ch.Reset {
				if err = writeFrame(ctx, c, resetFrame{Type: "reset", Reason: "lagging"}); err == nil {
					err = s.writeSnapshot(ctx, c, l, ch.Snapshot)
				}
			} else {
				err = writeFrame(ctx, c, s.changes(l, ch))
			}
			bookmark.Reset(bookmarkInterval)
		}
		if err != nil {
			s.log.Debug("stream: write failed", "err", err)
			return
		}
	}
}

func (s *Server) changes(l linker, ch core.Changes) changesFrame {
	now := s.sessions.Now()
	f := changesFrame{
		Type:    "changes",
		Epoch:   s.epoch,
		Rev:     rev(ch.Rev),
		Time:    now.UTC().Format(time.RFC3339Nano),
		Added:   l.sessions(ch.Added, now),
		Updated: l.sessions(ch.Updated, now),
		Removed: make([]string, len(ch.Removed)),
	}
	for i, id := range ch.Removed {
		f.Removed[i] = id.String()
	}
	return f
}

func (s *Server) writeSnapshot(ctx context.Context, c *websocket.Conn, l linker, snap core.Snapshot) error {
	data := l.sessions(snap.Sessions, s.sessions.Now())
	for {
		n := min(len(data), snapshotChunk)
		f := snapshotFrame{Type: "snapshot", Epoch: s.epoch, Rev: rev(snap.Rev), Data: data[:n], More: n < len(data)}
		if err := writeFrame(ctx, c, f); err != nil {
			return err
		}
		data = data[n:]
		if len(data) == 0 {
			return nil
		}
	}
}

func writeFrame(ctx context.Context, c *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b)
}

func rev(r uint64) string { return strconv.FormatUint(r, 10) }

const (
	minStreamInterval = 50 * time.Millisecond
	maxStreamInterval = 10 * time.Second
)

type streamQuery struct {
	filter   query.Filter
	interval time.Duration
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
	if !cq.fields.Empty() || cq.page.Set {
		return q, core.Errorf(core.EINVALID, "the stream supports filter and interval; fields and page are not supported yet")
	}
	q.filter = cq.filter
	if v := values.Get("interval"); v != "" {
		ms, err := strconv.Atoi(v)
		d := time.Duration(ms) * time.Millisecond
		if err != nil || d < minStreamInterval || d > maxStreamInterval {
			return q, core.Errorf(core.EINVALID, "invalid value %q for parameter interval: use milliseconds from 50 to 10000", v)
		}
		q.interval = d
	}
	if values.Has("since") {
		return q, core.Errorf(core.EINVALID, "parameter since is not supported yet: reconnect without it to get a fresh snapshot")
	}
	return q, nil
}
