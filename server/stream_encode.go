package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/portico-db/portico/core"
)

// Frames are assembled from pre-encoded parts, so that a session is encoded
// once per flush however many connections receive it.

func bookmarkFrame(epoch string, rev uint64, now time.Time) []byte {
	b := append([]byte(nil), `{"type":"bookmark","epoch":`...)
	b = appendJSONString(b, epoch)
	b = append(b, `,"rev":`...)
	b = appendRev(b, rev)
	b = append(b, `,"time":`...)
	b = appendTime(b, now)
	return append(b, '}')
}

func resetFrame(reason string) []byte {
	return []byte(`{"type":"reset","reason":"` + reason + `"}`)
}

// appendRev writes a revision as a JSON string: JavaScript numbers cannot
// hold every uint64.
func appendRev(b []byte, rev uint64) []byte {
	b = append(b, '"')
	b = strconv.AppendUint(b, rev, 10)
	return append(b, '"')
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString is for strings the server makes (epochs, made of hex
// digits), which need no escaping.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// changesBuilder gathers a changes frame's encoded members.
type changesBuilder struct {
	added, updated []idBytes
	removed        []core.SessionID
}

type idBytes struct {
	id core.SessionID
	b  []byte
}

func (f *changesBuilder) empty() bool {
	return len(f.added) == 0 && len(f.updated) == 0 && len(f.removed) == 0
}

// add records a whole session, res being e's resource.
func (f *changesBuilder) add(g *group, e *viewEntry, res sessionResource) error {
	b, err := g.scratchResource(res)
	if err != nil {
		return err
	}
	b = bytes.Clone(b)
	if g.columns != nil {
		e.sums = g.rowSums(b)
	} else if e.sums, err = g.sums(b, nil); err != nil {
		return err
	}
	f.added = append(f.added, idBytes{e.s.ID, b})
	return nil
}

// update records what changed from prev to e, if anything a client sees.
func (f *changesBuilder) update(g *group, prev, e *viewEntry, res sessionResource) error {
	if g.columns != nil {
		return f.updateRow(g, prev, e, res)
	}
	if prev.sums == nil {
		// The entry came from the group's first snapshot: what it looked
		// like does not depend on the time, volatile attributes aside.
		pb, err := g.scratchResource(g.l.session(prev.s, time.Time{}))
		if err != nil {
			return err
		}
		if prev.sums, err = g.sums(pb, nil); err != nil {
			return err
		}
	}
	b, err := g.scratchResource(res)
	if err != nil {
		return err
	}
	var parts []part
	if e.sums, err = g.sums(b, &parts); err != nil {
		return err
	}
	if u := g.diff(e.s.ID, prev.sums, e.sums, parts); u != nil {
		f.updated = append(f.updated, idBytes{e.s.ID, u})
	}
	return nil
}

func (f *changesBuilder) encode(epoch string, rev uint64, now time.Time) []byte {
	byID := func(a, b idBytes) int { return cmpSessionID(a.id, b.id) }
	slices.SortFunc(f.added, byID)
	slices.SortFunc(f.updated, byID)
	slices.Sort(f.removed)
	n := 160 + len(f.removed)*12
	for _, l := range [][]idBytes{f.added, f.updated} {
		for _, x := range l {
			n += len(x.b) + 1
		}
	}
	b := make([]byte, 0, n)
	b = append(b, `{"type":"changes","epoch":`...)
	b = appendJSONString(b, epoch)
	b = append(b, `,"rev":`...)
	b = appendRev(b, rev)
	b = append(b, `,"time":`...)
	b = appendTime(b, now)
	b = appendList(append(b, `,"added":[`...), f.added)
	b = appendList(append(b, `],"updated":[`...), f.updated)
	b = append(b, `],"removed":[`...)
	for i, id := range f.removed {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendUint(b, uint64(id), 10)
		b = append(b, '"')
	}
	return append(b, "]}"...)
}

// updateRow records e's whole row if it differs from prev's.
func (f *changesBuilder) updateRow(g *group, prev, e *viewEntry, res sessionResource) error {
	if prev.sums == nil {
		pb, err := g.scratchResource(g.l.session(prev.s, time.Time{}))
		if err != nil {
			return err
		}
		prev.sums = g.rowSums(pb)
	}
	b, err := g.scratchResource(res)
	if err != nil {
		return err
	}
	if e.sums = g.rowSums(b); e.sums[0] != prev.sums[0] {
		f.updated = append(f.updated, idBytes{e.s.ID, bytes.Clone(b)})
	}
	return nil
}

func appendList(b []byte, list []idBytes) []byte {
	for i, x := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, x.b...)
	}
	return b
}

// appendResource appends the resource as the REST API serves it (as
// json.Marshal writes it), trimmed to the group's fieldset. A flat fieldset
// (query.Fields.Names), such as the dashboard's, trims the encoded bytes
// (appendProjected); others go through Fields.Apply on a map, which costs
// tens of µs a session: about a second for a snapshot of 10k busy sessions
// (BenchmarkStreamSnapshotFields), against a few hundred ms for the bytes.
func (g *group) appendResource(b []byte, res sessionResource) ([]byte, error) {
	if g.columns != nil {
		return g.appendRow(b, res)
	}
	names, all, flat := g.fields.Names()
	if !g.fields.Empty() && !flat {
		m, err := toMap(res)
		if err != nil {
			return b, err
		}
		enc, err := json.Marshal(g.fields.Apply(m))
		return append(b, enc...), err
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	enc, err := e.encode(res)
	if err != nil || g.fields.Empty() {
		return append(b, enc...), err
	}
	out, err := appendProjected(b, enc, names, all)
	if err != nil {
		return b, fmt.Errorf("trim session %s to fields[sessions]: %w", res.ID, err)
	}
	return out, nil
}

// encoder reuses its buffer across encodings.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}}

// encode returns v as json.Marshal would, valid until the next call.
func (e *encoder) encode(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
}

// scratchResource encodes res into the flush goroutine's buffer: the result
// is valid until its next call.
func (g *group) scratchResource(res sessionResource) ([]byte, error) {
	if !g.fields.Empty() || g.columns != nil {
		// The buffer only holds bytes here (its encoder is never made):
		// appending to AvailableBuffer and then writing what was appended
		// reuses its storage, as bytes.Buffer documents.
		g.scratch.buf.Reset()
		b, err := g.appendResource(g.scratch.buf.AvailableBuffer(), res)
		if err != nil {
			return nil, err
		}
		g.scratch.buf.Write(b)
		return g.scratch.buf.Bytes(), nil
	}
	if g.scratch.enc == nil {
		g.scratch.enc = json.NewEncoder(&g.scratch.buf)
	}
	return g.scratch.encode(res)
}

var (
	keyRelationships = []byte("relationships")
	rawSessionsType  = []byte(`"sessions"`)
	rawOpenBrace     = []byte("{")
)

// appendProjected appends res, an encoded resource, trimmed to a flat
// fieldset (query.Fields.Names): id, type, links and any other top-level
// member as they are, and of attributes and relationships only the members
// the fieldset names (all of them if all is set), each dropped when nothing
// of it is left or it is not an object. That is what Fields.Apply keeps, and
// the values are the same bytes, but for order: members keep the resource's
// order, where json.Marshal of Apply's maps sorts them. The stream is
// Portico's own protocol, whose clients decode objects, and keeping the order
// is what lets members be copied without being decoded. (Large integers stay
// exact, too, where Apply's map holds float64.)
//
// res must be as encoding/json writes it, without whitespace (splitObject).
func appendProjected(dst, res []byte, names []string, all bool) ([]byte, error) {
	// Arrays on the stack: a session has five top-level members and some
	// twenty-five attributes, so splitting allocates nothing.
	var topBuf [8]member
	var subBuf [32]member
	top, err := splitObject(res, topBuf[:0])
	if err != nil {
		return dst, err
	}
	// Apply trims only resources of the fieldset's type, which for the
	// stream is always sessions.
	typed := false
	for _, m := range top {
		if bytes.Equal(m.key, keyType) {
			typed = bytes.Equal(m.raw, rawSessionsType)
		}
	}
	if !typed {
		return append(dst, res...), nil
	}
	start := len(dst)
	dst = append(dst, '{')
	for _, m := range top {
		if !bytes.Equal(m.key, keyAttributes) && !bytes.Equal(m.key, keyRelationships) {
			dst = appendMember(dst, start+1, m)
			continue
		}
		// Apply drops a member that is null or not an object, as nothing
		// can be selected in it, and an empty one even under "/".
		if len(m.raw) <= 2 || m.raw[0] != '{' {
			continue
		}
		if all {
			dst = appendMember(dst, start+1, m)
			continue
		}
		sub, err := splitObject(m.raw, subBuf[:0])
		if err != nil {
			return dst[:start], err
		}
		mark := len(dst)
		dst = appendMember(dst, start+1, member{key: m.key, raw: rawOpenBrace})
		open := len(dst)
		for _, a := range sub {
			if selected(a.key, names) {
				dst = appendMember(dst, open, a)
			}
		}
		if len(dst) == open {
			dst = dst[:mark] // nothing selected: Apply drops the member
			continue
		}
		dst = append(dst, '}')
	}
	return append(dst, '}'), nil
}

// appendMember appends m to an object being written, after a comma unless
// it is the first member, which starts at first.
func appendMember(dst []byte, first int, m member) []byte {
	if len(dst) > first {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, m.key...)
	dst = append(dst, '"', ':')
	return append(dst, m.raw...)
}

// selected reports whether key, a member name as encoding/json writes it,
// is one of names. A name without a backslash is written as it is; one with
// escapes (for quotes, control characters, <, > or &) is decoded first.
func selected(key []byte, names []string) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		var name string
		quoted := append(append(append(make([]byte, 0, len(key)+2), '"'), key...), '"')
		if err := json.Unmarshal(quoted, &name); err != nil {
			return false
		}
		return slices.Contains(names, name)
	}
	for _, n := range names {
		if string(key) == n {
			return true
		}
	}
	return false
}

// part is one member that updates compare: an attribute (attr) or another
// top-level member such as relationships. id, type and links never change,
// and volatile attributes are never compared. key is the member name as it
// appears between the quotes; idx numbers it within the group.
type part struct {
	attr bool
	key  []byte
	raw  []byte
	idx  int
}

var (
	keyID         = []byte("id")
	keyType       = []byte("type")
	keyLinks      = []byte("links")
	keyAttributes = []byte("attributes")
)

func isVolatile(key []byte) bool {
	for _, v := range volatileAttributes {
		if string(key) == v {
			return true
		}
	}
	return false
}

// sums hashes the parts of an encoded resource by member index, and returns
// the parts too if asked.
func (g *group) sums(b []byte, parts *[]part) ([]uint64, error) {
	top, err := splitObject(b, nil)
	if err != nil {
		return nil, err
	}
	ps := make([]part, 0, 32)
	var attrs []member
	for _, m := range top {
		switch {
		case bytes.Equal(m.key, keyID), bytes.Equal(m.key, keyType), bytes.Equal(m.key, keyLinks):
		case bytes.Equal(m.key, keyAttributes):
			if attrs, err = splitObject(m.raw, make([]member, 0, 32)); err != nil {
				return nil, err
			}
			for _, a := range attrs {
				if !isVolatile(a.key) {
					ps = append(ps, part{attr: true, key: a.key, raw: a.raw})
				}
			}
		default:
			ps = append(ps, part{key: m.key, raw: m.raw})
		}
	}
	sums := make([]uint64, len(g.memberNames)+len(ps))
	for i := range ps {
		p := &ps[i]
		p.idx = g.memberIndex(p.attr, p.key)
		if p.idx >= len(sums) {
			sums = append(sums, make([]uint64, p.idx+1-len(sums))...)
		}
		sums[p.idx] = maphash.Bytes(g.seed, p.raw) | 1 // zero means absent
	}
	if parts != nil {
		*parts = ps
	}
	return sums, nil
}

// memberName is a member that a group's resources have had.
type memberName struct {
	attr bool
	key  string
}

func (g *group) memberIndex(attr bool, key []byte) int {
	m := g.otherKeys
	if attr {
		m = g.attrKeys
	}
	i, ok := m[string(key)]
	if !ok {
		i = len(g.memberNames)
		m[string(key)] = i
		g.memberNames = append(g.memberNames, memberName{attr: attr, key: string(key)})
	}
	return i
}

// diff encodes an updated entry, {"id","type","attributes":{...}}: the
// attributes that changed, in resource order, then null for those that are
// gone, and any other member that changed, whole. It returns nil if nothing
// changed.
func (g *group) diff(id core.SessionID, prev, cur []uint64, parts []part) []byte {
	sum := func(sums []uint64, i int) uint64 {
		if i < len(sums) {
			return sums[i]
		}
		return 0
	}
	var attrs, others []byte
	add := func(dst []byte, key string, raw []byte) []byte {
		if len(dst) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		return append(dst, raw...)
	}
	for _, p := range parts {
		if sum(prev, p.idx) == sum(cur, p.idx) {
			continue
		}
		if p.attr {
			attrs = add(attrs, string(p.key), p.raw)
		} else {
			others = add(others, string(p.key), p.raw)
		}
	}
	for i, name := range g.memberNames {
		if sum(prev, i) != 0 && sum(cur, i) == 0 {
			if name.attr {
				attrs = add(attrs, name.key, []byte("null"))
			} else {
				others = add(others, name.key, []byte("null"))
			}
		}
	}
	if attrs == nil && others == nil {
		return nil
	}
	b := make([]byte, 0, len(attrs)+len(others)+64)
	b = append(b, `{"id":"`...)
	b = strconv.AppendUint(b, uint64(id), 10)
	b = append(b, `","type":"sessions"`...)
	if attrs != nil {
		b = append(b, `,"attributes":{`...)
		b = append(b, attrs...)
		b = append(b, '}')
	}
	if others != nil {
		b = append(append(b, ','), others...)
	}
	return append(b, '}')
}

// member is one member of a JSON object: its name as written between the
// quotes (escapes and all) and its value.
type member struct {
	key []byte
	raw []byte
}

var errNotObject = errors.New("split resource: not a JSON object")

// splitObject appends the members of a JSON object to out, in order, as
// views into b. It expects what encoding/json writes: no whitespace between
// tokens.
func splitObject(b []byte, out []member) ([]member, error) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, errNotObject
	}
	i := 1
	for i < len(b)-1 {
		if b[i] != '"' {
			return nil, errNotObject
		}
		end, _ := skipString(b, i)
		if end < 0 || end >= len(b) || b[end] != ':' {
			return nil, errNotObject
		}
		key := b[i+1 : end-1]
		vs := end + 1
		ve := skipValue(b, vs)
		if ve < 0 || ve > len(b)-1 {
			return nil, errNotObject
		}
		out = append(out, member{key: key, raw: b[vs:ve]})
		i = ve
		if b[i] == ',' && i+1 < len(b)-1 {
			i++
		} else if i != len(b)-1 {
			return nil, errNotObject
		}
	}
	return out, nil
}

// skipString returns the index just past the string starting at b[i], and
// whether it holds escapes; -1 if it does not end.
func skipString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index just past the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			end, _ := skipString(b, j)
			if end < 0 {
				return -1
			}
			if depth == 0 {
				return end
			}
			j = end - 1
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j
			}
			depth--
			if depth == 0 {
				return j + 1
			}
		case ',':
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}
