package server_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
)

// churner rewrites sessions with long user names, so frames are large and a
// client that stops reading fills its socket buffers at once.
type churner struct {
	handles []*core.Handle
	stop    chan struct{}
	done    sync.WaitGroup
}

func startChurn(reg *core.Registry, sessions, perTick int) *churner {
	c := &churner{stop: make(chan struct{})}
	for range sessions {
		c.handles = append(c.handles, reg.Open(core.Session{Service: "RW-Split-Router", User: "u"}))
	}
	pad := strings.Repeat("x", 1000)
	c.done.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-c.stop:
				return
			case <-time.After(time.Millisecond):
			}
			for j := range perTick {
				c.handles[(i*perTick+j)%len(c.handles)].Update(func(s *core.Session) { s.User = pad + strconv.Itoa(i) })
			}
		}
	})
	return c
}

func (c *churner) halt() {
	close(c.stop)
	c.done.Wait()
}

// TestStreamSlowConsumer stalls one client while sessions churn. The other
// client on the same group keeps receiving every change, the registry never
// waits, server memory stays bounded, and the stalled connection is dropped
// once a write times out.
func TestStreamSlowConsumer(t *testing.T) {
	f := newFixture(t, fixtureOpts{
		interval: 20 * time.Millisecond, tinyBuffers: true,
		stream: server.StreamConfig{QueueFrames: 8, QueueBytes: 1 << 20, WriteTimeout: 2 * time.Second},
	})
	churn := startChurn(f.reg, 200, 20)
	defer churn.halt()

	stalled := f.dial(t, "", basicHeader())
	if fr := readFrame(t, stalled, frameTimeout); fr.Type != "snapshot" {
		t.Fatalf("first frame %.200s", fr.raw)
	}
	healthy := f.dial(t, "", basicHeader())
	readSnapshot(t, healthy)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	// Each probe is a session opened while the stalled client blocks its
	// connection's writer; the healthy client must see each one, in order.
	// The stall outlasts the write timeout, so the stalled client is
	// dropped on the way.
	received := 0
	stallAtLeast := time.Now().Add(3 * time.Second)
	giveUp := time.Now().Add(time.Minute)
	for time.Now().Before(stallAtLeast) || received < 8<<20 {
		if time.Now().After(giveUp) {
			t.Fatalf("the healthy client received only %d bytes in a minute", received)
		}
		h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: "probe"})
		id := h.ID().String()
		for seen := false; !seen; {
			fr := readChanges(t, healthy, frameTimeout)
			received += len(fr.raw)
			seen = slices.Contains(sessionIDs(t, fr.Added), id)
		}
		h.Close()
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	// The stalled client owes all of it; it may hold only its queue.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > int64(received/4) {
		t.Errorf("heap grew %d MiB while a client stalled and %d MiB went to another", grew>>20, received>>20)
	}

	// The stalled client reads again: what the kernel buffered, then the
	// end of a connection the server gave up on.
	ctx, cancel := context.WithTimeout(t.Context(), frameTimeout)
	defer cancel()
	for {
		if _, _, err := stalled.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the stalled connection is still open after the write timeout")
			}
			break
		}
	}
}

// TestStreamLaggingClientClosed keeps a client reading, but too slowly for
// the churn: it never drains its queue, and is closed with 1008 once it has
// lagged for the lag limit. /metrics counts it as lagging and dropped.
func TestStreamLaggingClientClosed(t *testing.T) {
	f := newFixture(t, fixtureOpts{
		interval: 10 * time.Millisecond, tinyBuffers: true,
		stream: server.StreamConfig{QueueFrames: 2, LagLimit: 300 * time.Millisecond},
	})
	churn := startChurn(f.reg, 200, 50)
	defer churn.halt()
	c := f.dial(t, "", basicHeader())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("closed with %v (%v), want 1008", got, err)
			}
			m := f.scrape(t)
			if m["portico_stream_dropped_total"] != "1" || m["portico_stream_lagging_total"] == "0" {
				t.Errorf("portico_stream_dropped_total %s, portico_stream_lagging_total %s; want 1 and more than 0",
					m["portico_stream_dropped_total"], m["portico_stream_lagging_total"])
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
