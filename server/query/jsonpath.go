package query

import (
	"strconv"
	"strings"
)

// jsonPath is a compiled `filter[PATH]` path. The leading run of plain names
// and single indices becomes JSON Pointer tokens answered by Doc.Lookup, so a
// wildcard-free path (the common case) costs one Lookup; only the segments
// from the first wildcard or union on are walked over the returned value.
type jsonPath struct {
	prefix []string
	rest   []segment
}

type segKind uint8

const (
	segName  segKind = iota // .name, ['name'] or [0]: one pointer token
	segWild                 // .* or [*]: every array element or member value
	segUnion                // [0,1,'a']: any of the listed tokens
)

type segment struct {
	kind   segKind
	tok    string
	tokens []string
}

// parsePath compiles the JSONPath subset MaxScale documents for
// `filter[json_path]` (API.md, and mxb::json_path in maxbase/src/json.cc):
//
//	$.store.book   $['store']['book']   $.store.book[0]   $.store.book[0,1,2]
//	$.store.book[*].price   $.store.bicycle.*   store.book (no '$')
//
// Names and indices select exactly as JSON Pointer tokens do (see step),
// which keeps Doc.Lookup and the walker in agreement.
//
// Divergence: MaxScale silently matches nothing for a path it cannot
// follow (an unterminated bracket, a trailing dot, "..", a slice, a negative
// index); here those are errors. Names in brackets may use single or double
// quotes and a union may mix names and indices, a superset of MaxScale,
// which only honours a single single-quoted name. A dotted numeric name
// (.0) also indexes an array, where MaxScale would match nothing.
func parsePath(src string) (jsonPath, error) {
	if src == "" {
		return jsonPath{}, &syntaxError{msg: "empty json path", off: 0, src: src}
	}
	var segs []segment
	pos := 0
	if src[0] == '$' {
		pos = 1
	}
	first := true
	for pos < len(src) {
		var seg segment
		var err error
		switch c := src[pos]; {
		case c == '[':
			seg, pos, err = parseBracket(src, pos)
		case c == '.':
			seg, pos, err = parseDotted(src, pos+1)
		case first:
			// MaxScale lets the first name go without a dot: "attributes.state".
			seg, pos, err = parseDotted(src, pos)
		default:
			err = &syntaxError{msg: "expected '.' or '[', found " + describeAt(src, pos), off: pos, src: src}
		}
		if err != nil {
			return jsonPath{}, err
		}
		segs = append(segs, seg)
		first = false
	}
	var p jsonPath
	i := 0
	for ; i < len(segs) && segs[i].kind == segName; i++ {
		p.prefix = append(p.prefix, segs[i].tok)
	}
	if i < len(segs) {
		p.rest = segs[i:]
	}
	return p, nil
}

func parseDotted(src string, pos int) (segment, int, error) {
	end := pos
	for end < len(src) && src[end] != '.' && src[end] != '[' {
		end++
	}
	name := src[pos:end]
	switch {
	case name == "" && end < len(src) && src[end] == '.':
		return segment{}, 0, &syntaxError{msg: "recursive descent (..) is not supported", off: pos - 1, src: src}
	case name == "":
		return segment{}, 0, &syntaxError{msg: "expected a name, found " + describeAt(src, end), off: end, src: src}
	case name == "*":
		return segment{kind: segWild}, end, nil
	}
	return segment{kind: segName, tok: name}, end, nil
}

func parseBracket(src string, open int) (segment, int, error) {
	pos := open + 1
	var tokens []string
	// Repeated members are dropped: with them, k unions of n copies would
	// walk n^k paths, an easy way for one query string to burn CPU. Distinct
	// members bound the walk to one visit per document node.
	seen := map[string]bool{}
	add := func(tok string) {
		if !seen[tok] {
			seen[tok] = true
			tokens = append(tokens, tok)
		}
	}
	for {
		pos = skipBlanks(src, pos)
		if pos >= len(src) {
			return segment{}, 0, &syntaxError{msg: "unterminated '['", off: open, src: src}
		}
		switch c := src[pos]; {
		case c == '*' && len(seen) == 0:
			end := skipBlanks(src, pos+1)
			if end >= len(src) || src[end] != ']' {
				return segment{}, 0, &syntaxError{msg: "expected ']' after '*'", off: end, src: src}
			}
			return segment{kind: segWild}, end + 1, nil
		case c == '\'' || c == '"':
			end := strings.IndexByte(src[pos+1:], c)
			if end < 0 {
				return segment{}, 0, &syntaxError{msg: "unterminated quoted name", off: pos, src: src}
			}
			add(src[pos+1 : pos+1+end])
			pos += end + 2
		case c >= '0' && c <= '9':
			end := pos
			for end < len(src) && src[end] >= '0' && src[end] <= '9' {
				end++
			}
			n, err := strconv.Atoi(src[pos:end])
			if err != nil {
				return segment{}, 0, &syntaxError{msg: "invalid array index", off: pos, src: src, cause: err}
			}
			add(strconv.Itoa(n))
			pos = end
		case c == '-':
			return segment{}, 0, &syntaxError{msg: "negative array indices are not supported", off: pos, src: src}
		case c == '?':
			return segment{}, 0, &syntaxError{msg: "filter selectors are not supported", off: pos, src: src}
		case c == ']' && len(seen) == 0:
			return segment{}, 0, &syntaxError{msg: "empty brackets", off: open, src: src}
		default:
			return segment{}, 0, &syntaxError{msg: "expected an index, a quoted name or '*', found " + describeAt(src, pos), off: pos, src: src}
		}
		pos = skipBlanks(src, pos)
		if pos >= len(src) {
			return segment{}, 0, &syntaxError{msg: "unterminated '['", off: open, src: src}
		}
		switch src[pos] {
		case ',':
			pos++
			continue
		case ']':
			if len(tokens) == 1 {
				return segment{kind: segName, tok: tokens[0]}, pos + 1, nil
			}
			return segment{kind: segUnion, tokens: tokens}, pos + 1, nil
		case ':':
			return segment{}, 0, &syntaxError{msg: "array slices are not supported", off: pos, src: src}
		}
		return segment{}, 0, &syntaxError{msg: "expected ',' or ']', found " + describeAt(src, pos), off: pos, src: src}
	}
}

func skipBlanks(s string, pos int) int {
	for pos < len(s) && (s[pos] == ' ' || s[pos] == '\t') {
		pos++
	}
	return pos
}

// matchSegs reports whether any value reached from v through segs satisfies
// n: MaxScale ORs the matches of a multi-valued path ("wildcard JSONPath
// expressions are ORed together") and a path reaching nothing never matches.
func matchSegs(v any, segs []segment, n *node) bool {
	if len(segs) == 0 {
		return n.eval(v)
	}
	s := &segs[0]
	switch s.kind {
	case segName:
		child, ok := step(v, s.tok)
		return ok && matchSegs(child, segs[1:], n)
	case segUnion:
		for _, t := range s.tokens {
			if child, ok := step(v, t); ok && matchSegs(child, segs[1:], n) {
				return true
			}
		}
	case segWild:
		switch c := v.(type) {
		case []any:
			for _, child := range c {
				if matchSegs(child, segs[1:], n) {
					return true
				}
			}
		case map[string]any:
			for _, child := range c {
				if matchSegs(child, segs[1:], n) {
					return true
				}
			}
		}
	}
	return false
}
