package query

import (
	"strings"
)

// Doc resolves a JSON Pointer, already split into unescaped tokens, to a JSON
// value: nil, bool, float64, string, []any or map[string]any (any Go integer
// or float kind and json.Number are also accepted as numbers). ok is false
// when the pointer does not resolve; a present JSON null is (nil, true).
//
// Filters only ask for the paths they were compiled with, so a typed
// resource can answer from its fields without ever building a map. A JSONPath
// filter with a wildcard asks for the container in front of the wildcard and
// walks it itself, so that subtree must be returned as []any/map[string]any.
type Doc interface {
	Lookup(tokens []string) (v any, ok bool)
}

// MapDoc is a Doc over a decoded JSON object, e.g. one element of a
// collection's "data" array after json.Unmarshal into map[string]any.
type MapDoc map[string]any

// Lookup implements Doc. An empty token list resolves to the whole document.
func (m MapDoc) Lookup(tokens []string) (any, bool) {
	var v any = map[string]any(m)
	for _, t := range tokens {
		var ok bool
		if v, ok = step(v, t); !ok {
			return nil, false
		}
	}
	return v, true
}

// step descends one pointer token. It is shared by MapDoc and the JSONPath
// walker so that a path resolves the same way whether it was answered by
// Doc.Lookup or walked after a wildcard.
func step(v any, tok string) (any, bool) {
	switch c := v.(type) {
	case map[string]any:
		child, ok := c[tok]
		return child, ok
	case []any:
		i, ok := arrayIndex(tok)
		if !ok || i >= len(c) {
			return nil, false
		}
		return c[i], true
	}
	return nil, false
}

// arrayIndex accepts only plain decimal digits, as RFC 6901 does; "-" (the
// element after the last) never exists when reading.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || len(tok) > 9 { // 9 digits cannot overflow int on any platform
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parsePointer splits a JSON Pointer into unescaped tokens. base is the
// offset of ptr inside src so that errors point into the whole parameter.
//
// MaxScale (mxb::json_ptr) lets the leading '/' be omitted and skips empty
// segments, so "id", "/id" and "//id/" are the same pointer; the docs' own
// example `filter=id=and(ge(50),le(100))` relies on it. RFC 6901 escapes
// (~0 for '~', ~1 for '/') are decoded on top of that.
//
// Divergence: MaxScale takes '~' literally; a '~' not followed by 0 or 1 is
// an error here because it cannot be a valid RFC 6901 pointer.
func parsePointer(src string, base int, ptr string) ([]string, error) {
	var tokens []string
	start := 0
	for start <= len(ptr) {
		end := strings.IndexByte(ptr[start:], '/')
		if end < 0 {
			end = len(ptr)
		} else {
			end += start
		}
		if raw := ptr[start:end]; raw != "" {
			tok, err := unescapeToken(src, base+start, raw)
			if err != nil {
				return nil, err
			}
			tokens = append(tokens, tok)
		}
		start = end + 1
	}
	return tokens, nil
}

func unescapeToken(src string, base int, raw string) (string, error) {
	i := strings.IndexByte(raw, '~')
	if i < 0 {
		return raw, nil
	}
	var b strings.Builder
	b.Grow(len(raw))
	for ; i >= 0; i = strings.IndexByte(raw, '~') {
		b.WriteString(raw[:i])
		if i+1 >= len(raw) || (raw[i+1] != '0' && raw[i+1] != '1') {
			return "", &syntaxError{msg: "invalid escape in json pointer, want ~0 or ~1", off: base + i, src: src}
		}
		if raw[i+1] == '0' {
			b.WriteByte('~')
		} else {
			b.WriteByte('/')
		}
		base += i + 2
		raw = raw[i+2:]
	}
	b.WriteString(raw)
	return b.String(), nil
}
