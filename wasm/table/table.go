// Package table is the dashboard client's model of the sessions table: it
// applies the stream's snapshots, changes and resets, keeps the sessions
// that match the view in the view's order, and renders any window of them
// through sessionview. It is plain Go, so its logic is tested on its own
// (under GOOS=js GOARCH=wasm too); package main only connects it to the
// browser.
package table

import (
	"cmp"
	"slices"
	"strings"

	"github.com/portico-db/portico/web/sessionview"
)

const (
	// MarkMS is how long added, changed and removed rows stay marked. A
	// removed session's row stays in the table, struck through, that long.
	MarkMS = 1500
	// ReorderMS is the least time between two re-sorts caused by changes,
	// so that a column sorted on a busy counter does not reshuffle every
	// frame. A new sort or filter applies at once.
	ReorderMS = 250
)

type entry struct {
	id  uint64
	raw string // the row as the stream sent it
	// state is the session's state, read from the row without decoding
	// the rest.
	state string
	s     *sessionview.Session // nil until decoded
	hay   string               // s.Haystack(), "" until needed
	mark  sessionview.Mark
	// markedAt is when the mark was set, local Unix ms.
	markedAt int64
}

// Table holds the sessions the client knows.
type Table struct {
	columns []string
	// all holds every entry in id order: the order rows arrive in, so
	// keeping it costs nothing, the default view needs no sort, and a
	// binary search finds a session (a map of 10,000 would cost a frame
	// to build in WASM).
	all []*entry
	// pending gathers a snapshot's chunks, so the table never shows half
	// a snapshot, and counts them as they come.
	pending       []*entry
	pendingStates map[string]int
	// marked are the entries with a mark, oldest first.
	marked []*entry

	view sessionview.View
	// order holds the entries that match the view, in its order; stale
	// says it must be rebuilt, at the latest ReorderMS after sortedAt.
	order    []*entry
	buf      []*entry // order's storage when it is not all
	stale    bool
	sortedAt int64
	// states counts live (not removed) sessions by state key.
	states map[string]int
	live   int

	// Epoch and Rev are the last revision applied, for resuming.
	Epoch, Rev string
	// serverTime and receivedAt relate the server's clock to the local one.
	serverTime, receivedAt int64

	// Selected is the selected session's id, 0 for none.
	Selected uint64
}

// New returns an empty table of rows with columns (see Columns), showing
// view.
func New(columns []string, view sessionview.View) *Table {
	return &Table{columns: columns, states: map[string]int{}, view: view}
}

// sessionOf decodes an entry's row on first use: a session the view never
// shows, sorts or filters on is never decoded.
func (t *Table) sessionOf(e *entry) *sessionview.Session {
	if e.s == nil {
		e.s = new(sessionview.Session)
		decodeRow(e.raw, t.columns, e.s)
		e.hay = ""
	}
	return e.s
}

func (t *Table) haystack(e *entry) string {
	if e.hay == "" {
		e.hay = t.sessionOf(e).Haystack()
	}
	return e.hay
}

func (t *Table) newEntry(id uint64, row string) *entry {
	// A copy, not a slice of the frame's text: one session left unchanged
	// would otherwise keep a whole frame alive, and WASM memory never
	// shrinks.
	e := &entry{id: id, raw: strings.Clone(row)}
	if len(t.columns) > 0 && t.columns[0] == "state" {
		e.state = firstColumn(e.raw)
	}
	return e
}

// View is the table's current sort and filters.
func (t *Table) View() sessionview.View { return t.view }

// SetView changes the sort and filters; the order is rebuilt at the next
// Rows.
func (t *Table) SetView(v sessionview.View) {
	t.view = v
	t.stale, t.sortedAt = true, 0
}

// byID reports whether the view is the id order, unfiltered: the order in
// which rows arrive, so that no row needs decoding to place it.
func (t *Table) byID() bool { return t.view.Sort == "id" && !t.view.Filtered() }

// ServerNow is the server's time (Unix ms) at local time now, from the last
// frame that carried one.
func (t *Table) ServerNow(now int64) int64 {
	if t.serverTime == 0 {
		return now
	}
	return t.serverTime + now - t.receivedAt
}

// Apply applies a frame received at local time now. It reports whether the
// frame left the table complete (a whole snapshot, changes or a bookmark),
// which is when the client counts as live.
func (t *Table) Apply(f Frame, now int64) bool {
	if f.Time != 0 {
		t.serverTime, t.receivedAt = f.Time, now
	}
	switch f.Type {
	case "snapshot":
		if t.pendingStates == nil {
			t.pendingStates = map[string]int{}
		}
		splitRows(f.Rows, func(id uint64, row string) {
			e := t.newEntry(id, row)
			t.pending = append(t.pending, e)
			t.pendingStates[t.stateKey(e)]++
		})
		if f.More {
			return false
		}
		// The server sends snapshots in id order; this is a safety net.
		if !slices.IsSortedFunc(t.pending, byEntryID) {
			slices.SortFunc(t.pending, byEntryID)
			t.pending = slices.CompactFunc(t.pending, func(a, b *entry) bool { return a.id == b.id })
		}
		t.all, t.states, t.live = t.pending, t.pendingStates, len(t.pending)
		t.pending, t.pendingStates, t.marked = nil, nil, nil
		t.Epoch, t.Rev = f.Epoch, f.Rev
		t.stale, t.sortedAt = true, 0
		return true
	case "changes":
		for _, id := range f.Removed {
			if e := t.find(id); e != nil && e.mark != sessionview.Removed {
				t.count(e, -1)
				t.setMark(e, sessionview.Removed, now)
			}
		}
		splitRows(f.Rows, func(id uint64, row string) {
			e := t.newEntry(id, row)
			if old := t.find(id); old != nil {
				// A resume may resend a session the client holds.
				if old.mark != sessionview.Removed {
					t.count(old, -1)
				}
				t.all[t.position(id)] = e
				t.dropMark(old)
			} else {
				t.insert(e)
			}
			t.count(e, 1)
			t.setMark(e, sessionview.Added, now)
			t.stale = true
		})
		splitRows(f.Updated, func(id uint64, row string) { t.update(id, row, now) })
		t.Epoch, t.Rev = f.Epoch, f.Rev
		return true
	case "bookmark":
		t.Epoch, t.Rev = f.Epoch, f.Rev
		return true
	case "reset":
		// What the table holds is no base to resume from: the server
		// follows with a snapshot that replaces it.
		t.pending, t.Epoch, t.Rev = nil, "", ""
	}
	return false
}

// Disconnected forgets a snapshot cut short by a lost connection.
func (t *Table) Disconnected() { t.pending, t.pendingStates = nil, nil }

func (t *Table) update(id uint64, row string, now int64) {
	e := t.find(id)
	if e == nil || e.mark == sessionview.Removed || e.raw == row {
		return
	}
	next := t.newEntry(id, row)
	// Reorder only if the change can move the row or change whether it
	// matches.
	if !t.byID() {
		before, after := t.sessionOf(e), t.sessionOf(next)
		sn := t.ServerNow(now)
		if t.view.Sort != "id" && t.view.Compare(before, after, sn) != 0 ||
			t.view.Filtered() && t.view.Match(before, t.haystack(e)) != t.view.Match(after, t.haystack(next)) {
			t.stale = true
		}
	}
	t.count(e, -1)
	e.raw, e.state, e.s, e.hay = next.raw, next.state, next.s, next.hay
	t.count(e, 1)
	if e.mark != sessionview.Added {
		t.setMark(e, sessionview.Changed, now)
	}
}

func (t *Table) stateKey(e *entry) string {
	if e.state != "" || len(t.columns) > 0 && t.columns[0] == "state" {
		return sessionview.StateKey(e.state)
	}
	return sessionview.StateKey(t.sessionOf(e).State)
}

func (t *Table) count(e *entry, n int) {
	t.states[t.stateKey(e)] += n
	t.live += n
}

func (t *Table) setMark(e *entry, m sessionview.Mark, now int64) {
	// Keep marked in time order: a re-marked entry moves to the end.
	t.dropMark(e)
	t.marked = append(t.marked, e)
	e.mark, e.markedAt = m, now
}

func (t *Table) dropMark(e *entry) {
	if e.mark == sessionview.Unmarked {
		return
	}
	if i := slices.Index(t.marked, e); i >= 0 {
		t.marked = slices.Delete(t.marked, i, i+1)
	}
	e.mark = sessionview.Unmarked
}

func byEntryID(a, b *entry) int { return cmp.Compare(a.id, b.id) }

// position is where id is, or belongs, in all.
func (t *Table) position(id uint64) int {
	i, _ := slices.BinarySearchFunc(t.all, id, func(e *entry, id uint64) int { return cmp.Compare(e.id, id) })
	return i
}

// find returns session id's entry, nil if the table has none.
func (t *Table) find(id uint64) *entry {
	if i := t.position(id); i < len(t.all) && t.all[i].id == id {
		return t.all[i]
	}
	return nil
}

// insert adds a new entry to all; new sessions have the highest ids, so
// it is usually an append.
func (t *Table) insert(e *entry) {
	if n := len(t.all); n == 0 || t.all[n-1].id < e.id {
		t.all = append(t.all, e)
		return
	}
	t.all = slices.Insert(t.all, t.position(e.id), e)
}

// Expire clears marks older than MarkMS at local time now and drops removed
// sessions whose mark has run out. It reports whether a row changed.
func (t *Table) Expire(now int64) bool {
	n := 0
	for n < len(t.marked) && now-t.marked[n].markedAt >= MarkMS {
		e := t.marked[n]
		if e.mark == sessionview.Removed {
			if i := t.position(e.id); i < len(t.all) && t.all[i] == e {
				t.all = slices.Delete(t.all, i, i+1)
			}
			t.stale = true
		}
		e.mark = sessionview.Unmarked
		n++
	}
	t.marked = slices.Delete(t.marked, 0, n)
	return n > 0
}

// Marked reports whether any row is marked, and so will change when the
// mark runs out.
func (t *Table) Marked() bool { return len(t.marked) > 0 }

// Rows returns the sessions that match the view, in its order, rebuilding
// the order if it is stale (at most every ReorderMS unless the view
// changed) or if the order depends on the time and a second has passed.
func (t *Table) Rows(now int64) int {
	due := t.stale && now-t.sortedAt >= ReorderMS ||
		t.view.TimeDependent() && now-t.sortedAt >= 1000
	if !due {
		return len(t.order)
	}
	switch {
	case t.byID() && !t.view.Desc:
		t.order = t.all
	case t.byID():
		t.order = append(t.buf[:0], t.all...)
		slices.Reverse(t.order)
		t.buf = t.order
	default:
		t.order = t.buf[:0]
		for _, e := range t.all {
			var hay string
			if t.view.Query != "" {
				hay = t.haystack(e)
			}
			if t.view.Match(t.sessionOf(e), hay) {
				t.order = append(t.order, e)
			}
		}
		sn := t.ServerNow(now)
		slices.SortFunc(t.order, func(a, b *entry) int { return t.view.Compare(a.s, b.s, sn) })
		t.buf = t.order
	}
	t.stale, t.sortedAt = false, now
	return len(t.order)
}

// Len is the number of rows in the current order.
func (t *Table) Len() int { return len(t.order) }

// Live is the number of sessions, and Counts them by state key.
func (t *Table) Live() int { return t.live }

// Counts returns the live sessions by state key.
func (t *Table) Counts() map[string]int { return t.states }

// ID is the session id of row i of the current order.
func (t *Table) ID(i int) uint64 { return t.order[i].id }

// Index is the row of session id in the current order, -1 if absent.
func (t *Table) Index(id uint64) int {
	for i, e := range t.order {
		if e.id == id {
			return i
		}
	}
	return -1
}

// Session returns what the table knows of session id.
func (t *Table) Session(id uint64) (sessionview.Session, bool) {
	e := t.find(id)
	if e == nil || e.mark == sessionview.Removed {
		return sessionview.Session{}, false
	}
	return *t.sessionOf(e), true
}

// Render writes rows [first, first+n) of the current order at local time now.
func (t *Table) Render(b *strings.Builder, first, n int, now int64) {
	sn := t.ServerNow(now)
	end := min(first+n, len(t.order))
	for i := max(first, 0); i < end; i++ {
		t.row(t.order[i], sn).AppendHTML(b)
	}
}

func (t *Table) row(e *entry, serverNow int64) sessionview.Row {
	return sessionview.Row{Session: t.sessionOf(e), Now: serverNow, Mark: e.mark, Selected: e.id == t.Selected}
}

// Users lists the distinct users of live sessions, sorted, for the user
// filter's suggestions.
func (t *Table) Users() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range t.all {
		if u := t.sessionOf(e).User; u != "" && !seen[u] && e.mark != sessionview.Removed {
			seen[u] = true
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

func sortPairs(p []sessionview.Pair) {
	slices.SortFunc(p, func(a, b sessionview.Pair) int { return strings.Compare(a.Name, b.Name) })
}

// ServiceCounts returns the live sessions by service.
func (t *Table) ServiceCounts() map[string]int {
	out := map[string]int{}
	for _, e := range t.all {
		if e.mark != sessionview.Removed {
			out[t.sessionOf(e).Service]++
		}
	}
	return out
}
