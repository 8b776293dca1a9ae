// Package query parses and evaluates the common request parameters of the
// MaxScale 24.02 REST API (pretty, fields[TYPE], filter, filter[PATH],
// page[size] and page[number]) so that the REST collection handlers and the
// websocket stream apply them identically.
//
// The semantics follow MaxScale's own implementation rather than only its
// documentation, because MaxCtrl and the MaxScale GUI were written against
// the implementation:
//
//   - server/core/resource.cc (24.02): rows are filtered first, then
//     paginated, then trimmed to the sparse fieldset; `filter=` is split at
//     its first '='; `fields[TYPE]` is split on ',' with empty items dropped.
//   - server/core/httpresponse.cc (24.02): the filter expression grammar
//     (eq ne lt le gt ge and or not), `not(...)` being true when none of its
//     sub-expressions is, the sparse fieldset projection and the pagination
//     links.
//   - maxutils/maxbase/src/json.cc (24.02): JSON Pointers may omit the
//     leading '/' and empty segments are skipped; the JSONPath subset (dot
//     and bracket notation, indices, unions of indices, [*] and .* wildcards,
//     optional '$').
//   - Documentation/REST-API/API.md, "Common Request Parameters" and
//     "Filter Expressions".
//
// Where MaxScale silently ignores a malformed parameter or has an evident
// bug, this package returns an *Error or picks the documented behaviour
// instead, so that a client learns about its mistake; every such place is
// marked "Divergence" next to the code that decides it.
//
// Every parsed value (Expr, Filter, Fields, Page) is immutable and safe for
// concurrent use, so a websocket stream can parse once and match every event.
package query
