package query

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Filter selects the rows of a resource collection. It is the conjunction of
// every `filter=` and `filter[PATH]=` parameter of a request; the zero Filter
// matches everything.
type Filter struct {
	terms []term
}

// term is one parameter. Both forms compile to the same shape: pointer
// tokens resolved by Doc.Lookup, then (JSONPath only) segments walked over
// the result, then the expression.
type term struct {
	ptr  []string
	rest []segment
	expr node
}

// ParseFilter compiles the `filter` and `filter[...]` parameters of a query.
//
// `filter=PTR=EXPR`: the value is split at its first '=' into a JSON Pointer
// into the whole resource (e.g. /attributes/state, /id or just id) and an
// expression (see Expr). `filter[PATH]=EXPR`: PATH is a JSONPath (see
// parsePath). A row is kept only if every parameter matches it; a row where
// the pointer or path resolves to nothing is dropped.
//
// Divergence: MaxScale reads a single `filter=` value, logs and ignores one
// without '=', and ignores unparsable paths; here every `filter=` value is
// ANDed in and any malformed one is an *Error naming the parameter.
func ParseFilter(values url.Values) (Filter, error) {
	var f Filter
	for _, v := range values["filter"] {
		t, err := pointerTerm(v)
		if err != nil {
			return Filter{}, paramError("filter", err)
		}
		f.terms = append(f.terms, t)
	}
	// Sorted so that which error a request with several bad paths gets does
	// not depend on map iteration order.
	var keys []string
	for k := range values {
		if len(k) >= len("filter[]") && strings.HasPrefix(k, "filter[") && strings.HasSuffix(k, "]") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := k[len("filter[") : len(k)-1]
		for _, v := range values[k] {
			t, err := pathTerm(path, v)
			if err != nil {
				return Filter{}, paramError(k, err)
			}
			f.terms = append(f.terms, t)
		}
	}
	return f, nil
}

func pointerTerm(v string) (term, error) {
	eq := strings.IndexByte(v, '=')
	if eq < 0 {
		return term{}, fmt.Errorf("expected <json-pointer>=<expression>, found no '=' in %s", quoteInput(v))
	}
	ptr, err := parsePointer(v, 0, v[:eq])
	if err != nil {
		return term{}, err
	}
	n, err := compileExpr(v, eq+1)
	if err != nil {
		return term{}, err
	}
	return term{ptr: ptr, expr: n}, nil
}

func pathTerm(path, v string) (term, error) {
	p, err := parsePath(path)
	if err != nil {
		return term{}, fmt.Errorf("invalid json path: %w", err)
	}
	n, err := compileExpr(v, 0)
	if err != nil {
		return term{}, err
	}
	return term{ptr: p.prefix, rest: p.rest, expr: n}, nil
}

// Empty reports whether the filter has no terms, so handlers can skip
// building Docs altogether.
func (f Filter) Empty() bool { return len(f.terms) == 0 }

// Match reports whether the resource d passes every term.
func (f Filter) Match(d Doc) bool {
	for i := range f.terms {
		t := &f.terms[i]
		v, ok := d.Lookup(t.ptr)
		if !ok || !matchSegs(v, t.rest, &t.expr) {
			return false
		}
	}
	return true
}

// Reads returns, for each term, the JSON Pointer tokens of the part of the
// resource it reads: the pointer of `filter=`, or the leading member names
// of a `filter[PATH]` before any index or wildcard. A term may read anything
// below its pointer. The websocket stream uses it to refuse filters on
// values that change without a revision, such as idle time.
func (f Filter) Reads() [][]string {
	out := make([][]string, len(f.terms))
	for i, t := range f.terms {
		out[i] = append([]string(nil), t.ptr...)
	}
	return out
}
