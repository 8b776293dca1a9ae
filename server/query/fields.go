package query

import (
	"net/url"
	"slices"
)

// Fields is a parsed sparse fieldset, `fields[TYPE]=f1,f2,...`. The zero
// value selects everything.
type Fields struct {
	typ   string
	paths [][]string
	// names, all and flat are what Names reports, worked out once by
	// ParseFields: the stream asks for them for every session it encodes.
	names     []string
	all, flat bool
}

// ParseFields reads `fields[typ]`. Each comma-separated item is a JSON
// Pointer relative to both `attributes` and `relationships` (so "state",
// "/state" and "statistics/connections" are all valid); empty items are
// dropped, as mxb::strtok does in MaxScale, and an empty list selects
// everything. Parameters for other types are ignored, as MaxScale ignores
// them for resources of a different type.
//
// Divergence: blanks around items are trimmed (MaxScale would look for a
// member literally named " state") and repeated `fields[typ]` parameters are
// merged instead of one of them winning.
func ParseFields(values url.Values, typ string) (Fields, error) {
	param := "fields[" + typ + "]"
	f := Fields{typ: typ}
	for _, v := range values[param] {
		for start := 0; start <= len(v); {
			end := start
			for end < len(v) && v[end] != ',' {
				end++
			}
			lo, hi := start, end
			for lo < hi && (v[lo] == ' ' || v[lo] == '\t') {
				lo++
			}
			for hi > lo && (v[hi-1] == ' ' || v[hi-1] == '\t') {
				hi--
			}
			if lo < hi {
				toks, err := parsePointer(v, lo, v[lo:hi])
				if err != nil {
					return Fields{}, paramError(param, err)
				}
				// A pointer with no tokens ("/") is kept: MaxScale then keeps the
				// whole of attributes and relationships.
				f.paths = append(f.paths, toks)
			}
			start = end + 1
		}
	}
	f.names, f.all, f.flat = flatten(f.paths)
	return f, nil
}

// flatten works out Names' results from the parsed paths.
func flatten(paths [][]string) (names []string, all, flat bool) {
	if len(paths) == 0 {
		return nil, false, false
	}
	for _, p := range paths {
		switch {
		case len(p) > 1:
			return nil, false, false
		case len(p) == 0:
			all = true
		case !slices.Contains(names, p[0]):
			names = append(names, p[0])
		}
	}
	return names, all, true
}

// Empty reports whether no sparse fieldset was requested.
func (f Fields) Empty() bool { return len(f.paths) == 0 }

// Names describes a flat fieldset, one whose every path has at most one
// token ("state", "/state", "services", "/"), so that a caller holding an
// encoded resource can trim it member by member instead of going through
// Apply's maps. For such a fieldset Apply keeps, in a resource of its type,
// of `attributes` and of `relationships`, the members named in names, or every member if all is
// set (a "/" path); and it drops either one when that leaves nothing of it,
// or when it is not an object. names are unescaped, without duplicates, in
// the order first given.
//
// flat is false when some path has two tokens or more ("memory/total"),
// whose selections only Apply merges, and for an empty fieldset, which
// trims nothing at all. names is shared: callers must not modify it.
func (f Fields) Names() (names []string, all, flat bool) {
	return f.names, f.all, f.flat
}

// Apply returns resource trimmed to the fieldset, following
// HttpResponse::remove_fields_from_resource in MaxScale:
//
//   - only a resource whose "type" is the fieldset's type is touched;
//   - id, type, links and any other top-level member are kept as they are;
//   - each path is followed through objects only: a missing member leaves an
//     empty object at that level, and an array or scalar met before the path
//     ends is kept whole ("it will not advance past this array");
//   - the selections of all paths are merged, and `attributes` or
//     `relationships` is removed when nothing in it was selected.
//
// resource is not modified; the result shares the selected subtrees with it,
// so callers must treat both as read-only afterwards.
func (f Fields) Apply(resource map[string]any) map[string]any {
	if len(f.paths) == 0 || resource == nil {
		return resource
	}
	if t, _ := resource["type"].(string); t != f.typ {
		return resource
	}
	out := make(map[string]any, len(resource))
	for k, v := range resource {
		out[k] = v
	}
	for _, member := range [...]string{"attributes", "relationships"} {
		sub, ok := resource[member]
		if !ok {
			continue
		}
		merged := map[string]any{}
		for _, p := range f.paths {
			if m, ok := project(sub, p).(map[string]any); ok {
				merged = merge(merged, m).(map[string]any)
			}
		}
		if len(merged) == 0 {
			delete(out, member)
		} else {
			out[member] = merged
		}
	}
	return out
}

// project keeps only the branch of v named by toks.
func project(v any, toks []string) any {
	if len(toks) == 0 {
		return v
	}
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	child, ok := m[toks[0]]
	if !ok {
		return map[string]any{}
	}
	return map[string]any{toks[0]: project(child, toks[1:])}
}

// merge is MaxScale's mxs_json_object_update_recursive, except that it builds
// new maps instead of updating dst in place: dst may be a subtree of the
// caller's resource (a whole selected object), which must not be written to.
func merge(dst, src any) any {
	d, dok := dst.(map[string]any)
	s, sok := src.(map[string]any)
	if !dok || !sok {
		return src
	}
	out := make(map[string]any, len(d)+len(s))
	for k, v := range d {
		out[k] = v
	}
	for k, v := range s {
		if dv, ok := out[k]; ok {
			out[k] = merge(dv, v)
		} else {
			out[k] = v
		}
	}
	return out
}
