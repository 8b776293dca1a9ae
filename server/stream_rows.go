package server

import (
	"bytes"
	"hash/maphash"
	"slices"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

// The rows format (`format=rows`) sends each session as one JSON string
// instead of a resource object: its id and then the JSON value of each
// field the fieldset names, in the order named, separated by the ASCII unit
// separator (U+001F). A relationship's value is its data, the array of
// resource identifiers. A session that lacks a field has an empty value
// there. Frames keep their JSON shape; only the members of data, added and
// updated change, and an update carries the whole row.
//
// It is for clients that hold many sessions and cannot afford to parse
// every object: a browser can join a frame's rows into one string with the
// ASCII record separator (U+001E) and split it at native speed, decoding a
// row's values only when it shows them. encoding/json escapes both
// separators inside strings, so they never occur in a value.
const (
	rowFieldSep = 0x1f
	rowSep      = 0x1e
)

// rowColumns returns the columns of a rows-format stream: the fieldset's
// names in order, which must each name one attribute or relationship.
func rowColumns(fields query.Fields) ([]string, error) {
	names, all, flat := fields.Names()
	if fields.Empty() || all || !flat || len(names) == 0 {
		return nil, core.Errorf(core.EINVALID, "format=rows needs fields[sessions] naming the attributes and relationships to send, such as fields[sessions]=state,user,services")
	}
	return names, nil
}

// appendRow appends res in the rows format, as a JSON string.
func (g *group) appendRow(dst []byte, res sessionResource) ([]byte, error) {
	// The costliest members to encode and then skip are the ones a row
	// seldom carries: drop them first unless they are columns.
	a := &res.Attributes
	if !slices.Contains(g.columns, "queries") {
		a.Queries = nil
	}
	if !slices.Contains(g.columns, "client") {
		a.Client.ConnectionAttributes = nil
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	enc, err := e.encode(res)
	if err != nil {
		return dst, err
	}
	var topBuf [8]member
	var attrBuf, relBuf [32]member
	top, err := splitObject(enc, topBuf[:0])
	if err != nil {
		return dst, err
	}
	var attrs, rels []member
	for _, m := range top {
		switch {
		case bytes.Equal(m.key, keyAttributes) && len(m.raw) > 0 && m.raw[0] == '{':
			if attrs, err = splitObject(m.raw, attrBuf[:0]); err != nil {
				return dst, err
			}
		case bytes.Equal(m.key, keyRelationships) && len(m.raw) > 0 && m.raw[0] == '{':
			if rels, err = splitObject(m.raw, relBuf[:0]); err != nil {
				return dst, err
			}
		}
	}
	dst = append(dst, '"')
	dst = append(dst, res.ID...) // decimal digits
	for _, col := range g.columns {
		dst = append(dst, `\u001f`...)
		if v, ok := memberValue(attrs, col); ok {
			dst = appendEscaped(dst, v)
		} else if v, ok := memberValue(rels, col); ok {
			dst = appendEscaped(dst, relationshipData(v))
		}
	}
	return append(dst, '"'), nil
}

// relationshipData is a relationship's data, the array of resource
// identifiers: its links would only make every row longer.
func relationshipData(rel []byte) []byte {
	var buf [4]member
	members, err := splitObject(rel, buf[:0])
	if err != nil {
		return rel
	}
	if v, ok := memberValue(members, "data"); ok {
		return v
	}
	return rel
}

func memberValue(list []member, name string) ([]byte, bool) {
	for _, m := range list {
		if string(m.key) == name {
			return m.raw, true
		}
	}
	return nil, false
}

// appendEscaped appends raw JSON as the content of a JSON string. Raw JSON
// from encoding/json holds no control characters, so quotes and
// backslashes are all there is to escape.
func appendEscaped(dst, raw []byte) []byte {
	for len(raw) > 0 {
		i := bytes.IndexAny(raw, `"\`)
		if i < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:i]...)
		dst = append(dst, '\\', raw[i])
		raw = raw[i+1:]
	}
	return dst
}

// rowSums stands in for sums in the rows format, where an update resends
// the whole row: one hash of it.
func (g *group) rowSums(b []byte) []uint64 {
	return []uint64{maphash.Bytes(g.seed, b) | 1}
}
