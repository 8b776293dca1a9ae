package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
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

	sub, snap := s.sessions.Subscribe(nil)
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
			case <-time.After(s.interval):
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
