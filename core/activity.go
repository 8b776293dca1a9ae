package core

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// IOWindow is how far back a session's I/O activity is counted, as MaxScale
// does for io_activity.
const IOWindow = 30 * time.Second

// ioWindow counts I/O events per second over the last IOWindow. Each bucket
// packs the Unix second it counts (low 32 bits of it) above its count, so a
// bucket is claimed for a new second and counted with one compare-and-swap:
// the proxy's two relay goroutines never take a lock per read.
type ioWindow [IOWindow / time.Second]atomic.Uint64

func (w *ioWindow) add(t time.Time) {
	sec := t.Unix()
	b := &w[uint64(sec)%uint64(len(w))]
	stamp := uint64(uint32(sec)) << 32
	for {
		old := b.Load()
		next := stamp | 1
		if old&^0xFFFFFFFF == stamp {
			next = old + 1
		}
		if b.CompareAndSwap(old, next) {
			return
		}
	}
}

// count returns the events in the window that ends at now.
func (w *ioWindow) count(now time.Time) int {
	sec := uint32(now.Unix())
	n := 0
	for i := range w {
		v := w[i].Load()
		if age := sec - uint32(v>>32); age < uint32(len(w)) {
			n += int(uint32(v))
		}
	}
	return n
}

// history keeps a session's last statements in a ring. It has its own lock
// so that recording a statement never waits on the registry.
type history struct {
	mu    sync.Mutex
	ring  []Statement // capacity is how many to keep
	total uint64      // statements ever recorded; the newest is number total
	// latest is statement number total, kept even when the ring keeps
	// none: the dashboard shows what every session is doing, whatever
	// retain_last_statements says.
	latest Statement
}

// statementSize is what one retained statement costs besides its text.
const statementSize = int(unsafe.Sizeof(Statement{}))

func (h *history) retain(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring = make([]Statement, 0, max(n, 0))
	h.total = 0
}

// add records s and returns its ticket.
func (h *history) add(s Statement) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if keep := cap(h.ring); len(h.ring) < keep {
		h.ring = append(h.ring, s)
	} else if keep > 0 {
		h.ring[h.total%uint64(keep)] = s
	}
	h.latest = s
	h.total++
	return h.total
}

// complete marks statement ticket as answered, unless newer statements have
// already pushed it out of the ring.
func (h *history) complete(ticket uint64, server string, t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ticket == 0 || ticket > h.total {
		return
	}
	if ticket == h.total {
		h.latest.Completed, h.latest.Server = t, server
	}
	keep := uint64(cap(h.ring))
	if h.total-ticket >= keep {
		return
	}
	s := &h.ring[(ticket-1)%keep]
	s.Completed, s.Server = t, server
}

// last returns the newest statement, and false if there has been none.
func (h *history) last() (Statement, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.latest, h.total > 0
}

// list returns the kept statements oldest first, and the bytes they hold.
func (h *history) list() ([]Statement, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	keep := cap(h.ring)
	out := make([]Statement, 0, len(h.ring))
	if len(h.ring) < keep {
		out = append(out, h.ring...)
	} else if keep > 0 {
		start := int(h.total % uint64(keep))
		out = append(out, h.ring[start:]...)
		out = append(out, h.ring[:start]...)
	}
	size := keep * statementSize
	if keep == 0 {
		size += len(h.latest.Text) // otherwise it shares the ring's text
	}
	for _, s := range out {
		size += len(s.Text)
	}
	return out, size
}
