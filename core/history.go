package core

import (
	"context"
	"sync"
	"time"
)

// CountHistory remembers how many sessions there were, once per tick, for
// a bounded time: the dashboard's sessions-over-time chart shows the last
// 15 minutes from its first paint, not only from when the page was opened.
type CountHistory struct {
	mu   sync.Mutex
	ring []int
	next int // where the next sample goes
	full bool
}

// NewCountHistory keeps the last size samples.
func NewCountHistory(size int) *CountHistory {
	return &CountHistory{ring: make([]int, max(size, 1))}
}

// Add records a sample, dropping the oldest once full.
func (h *CountHistory) Add(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = n
	h.next++
	if h.next == len(h.ring) {
		h.next, h.full = 0, true
	}
}

// Samples returns the samples, oldest first.
func (h *CountHistory) Samples() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.full {
		return append([]int(nil), h.ring[:h.next]...)
	}
	return append(append(make([]int, 0, len(h.ring)), h.ring[h.next:]...), h.ring[:h.next]...)
}

// Run samples r's session count every interval until ctx ends.
func (h *CountHistory) Run(ctx context.Context, r *Registry, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		total, _ := r.Page(0, 0)
		h.Add(total)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
