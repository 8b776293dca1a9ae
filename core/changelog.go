package core

import (
	"slices"
	"time"
)

// Changelog limits: a client that reconnects within them resumes from the
// revision it had instead of starting over from a snapshot. At 16 bytes an
// entry, the count bound caps the log at 16 MiB.
const (
	DefaultChangelogEntries = 1_000_000
	DefaultChangelogAge     = 5 * time.Minute
)

// changelog records which session each revision touched. Every revision
// touches exactly one session, so entry i of the ring is revision first+i and
// only the id and time need storing. It is guarded by Registry.mu.
type changelog struct {
	maxLen int
	maxAge time.Duration

	ring  []logEntry
	head  int    // index of the oldest entry
	n     int    // entries held
	first uint64 // revision of the oldest entry; meaningful when n > 0
}

type logEntry struct {
	id SessionID
	at int64 // unix nanoseconds
}

const minChangelogRing = 1024

func (l *changelog) limits() (int, time.Duration) {
	n, age := l.maxLen, l.maxAge
	if n <= 0 {
		n = DefaultChangelogEntries
	}
	if age <= 0 {
		age = DefaultChangelogAge
	}
	return n, age
}

// add records that revision rev changed id. Revisions arrive in order, one
// apart.
func (l *changelog) add(rev uint64, id SessionID, at time.Time) {
	maxLen, maxAge := l.limits()
	l.expire(at.Add(-maxAge).UnixNano())
	if l.n == 0 {
		l.first = rev
	}
	if l.n == maxLen {
		l.drop(1)
	}
	if l.n == len(l.ring) {
		l.resize(min(max(2*len(l.ring), minChangelogRing), maxLen))
	}
	l.ring[(l.head+l.n)%len(l.ring)] = logEntry{id: id, at: at.UnixNano()}
	l.n++
}

// expire drops entries made before cutoff. Entries are in time order as long
// as the clock does not step back; if it does, they expire a little late.
func (l *changelog) expire(cutoff int64) {
	k := 0
	for k < l.n && l.ring[(l.head+k)%len(l.ring)].at < cutoff {
		k++
	}
	l.drop(k)
	// Give memory back after a burst.
	if len(l.ring) > minChangelogRing && l.n < len(l.ring)/4 {
		l.resize(max(len(l.ring)/2, minChangelogRing))
	}
}

func (l *changelog) drop(k int) {
	if k == 0 {
		return
	}
	l.head = (l.head + k) % len(l.ring)
	l.n -= k
	l.first += uint64(k)
}

func (l *changelog) resize(size int) {
	ring := make([]logEntry, size)
	for i := range l.n {
		ring[i] = l.ring[(l.head+i)%len(l.ring)]
	}
	l.ring, l.head = ring, 0
}

// between returns the ids of revisions after..through, with repeats, or false
// if the log no longer holds all of them.
func (l *changelog) between(after, through, current uint64, now time.Time) ([]SessionID, bool) {
	if after > through || through > current {
		return nil, false
	}
	if after == through {
		return nil, true
	}
	_, maxAge := l.limits()
	l.expire(now.Add(-maxAge).UnixNano())
	// The log holds revisions first..current when n > 0.
	if l.n == 0 || after+1 < l.first || through > l.first+uint64(l.n)-1 {
		return nil, false
	}
	ids := make([]SessionID, 0, through-after)
	for rev := after + 1; rev <= through; rev++ {
		ids = append(ids, l.ring[(l.head+int(rev-l.first))%len(l.ring)].id)
	}
	return ids, true
}

// SetChangelogLimits bounds the changelog that resuming stream clients catch
// up from, by entry count and by age; zero keeps a default. The log only
// shrinks to the new bounds as changes arrive.
func (r *Registry) SetChangelogLimits(entries int, age time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes.maxLen, r.changes.maxAge = entries, age
	if maxLen, _ := r.changes.limits(); r.changes.n > maxLen {
		r.changes.drop(r.changes.n - maxLen)
		r.changes.resize(max(maxLen, minChangelogRing))
	}
}

// Changed returns, in id order and each once, the sessions that revisions
// after+1 through through changed: opened, updated or closed. ok is false if
// the changelog no longer reaches back that far, or if the range is not
// within the revisions made so far; the caller must then start over from a
// snapshot.
func (r *Registry) Changed(after, through uint64) (ids []SessionID, ok bool) {
	now := r.now()
	r.mu.Lock()
	ids, ok = r.changes.between(after, through, r.rev, now)
	r.mu.Unlock()
	if !ok {
		return nil, false
	}
	slices.Sort(ids)
	return slices.Compact(ids), true
}
