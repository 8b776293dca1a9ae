package query

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// checkSyntaxOffsets insists that every located error points inside (or just
// past the end of) the text it quotes, so messages never lie about where
// parsing failed.
func checkSyntaxOffsets(t *testing.T, err error) {
	t.Helper()
	var se *syntaxError
	if errors.As(err, &se) && (se.off < 0 || se.off > len(se.src)) {
		t.Fatalf("offset %d outside input of length %d: %v", se.off, len(se.src), err)
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add(`/attributes/state="Running"`, `$.attributes.state`, `eq("Down")`)
	f.Add(`id=and(ge(50),le(100))`, `relationships.services.data[*].id`, `or(eq("a"),not(eq(1),eq(2)))`)
	f.Add(`/a~1b=[1,{"x":null}]`, `$['a'][0,1].*`, `ne({"k":[true,false]})`)
	f.Add(`=`, ``, `eq(1`)
	rows := servers(f)
	samples := []any{nil, true, false, 0.0, 1.0, 3306.0, "", "Down", []any{}, []any{1.0}, map[string]any{}, map[string]any{"a": 1.0}}
	f.Fuzz(func(t *testing.T, filter, path, expr string) {
		key := "filter[" + path + "]"
		f, err := ParseFilter(url.Values{"filter": {filter}, key: {expr}})
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || (qe.Param != "filter" && qe.Param != key) || qe.Detail == "" {
				t.Fatalf("error %v (%T) does not name the parameter", err, err)
			}
			checkSyntaxOffsets(t, err)
		} else {
			for _, r := range rows {
				if f.Match(MapDoc(r)) != f.Match(MapDoc(r)) {
					t.Fatal("Match is not deterministic")
				}
			}
		}

		// An expression that compiles must print back to an equivalent one.
		e, err := ParseExpr(expr)
		if err != nil {
			checkSyntaxOffsets(t, err)
			return
		}
		again, err := ParseExpr(e.String())
		if err != nil {
			t.Fatalf("String() %q of %q does not reparse: %v", e.String(), expr, err)
		}
		if again.String() != e.String() {
			t.Fatalf("unstable String(): %q then %q", e.String(), again.String())
		}
		for _, v := range samples {
			if e.Eval(v) != again.Eval(v) {
				t.Fatalf("%q and its reparse disagree on %v", expr, v)
			}
		}
	})
}

func FuzzParseFields(f *testing.F) {
	f.Add("state,statistics/connections", "servers")
	f.Add("/,services,parameters/port", "servers")
	f.Add(" a~1b , c~0d ,,", "sessions")
	f.Add("x~", "servers")
	f.Fuzz(func(t *testing.T, value, typ string) {
		param := "fields[" + typ + "]"
		fields, err := ParseFields(url.Values{param: {value}}, typ)
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Param != param {
				t.Fatalf("error %v does not name %s", err, param)
			}
			checkSyntaxOffsets(t, err)
			return
		}
		for _, r := range servers(t) {
			r["type"] = typ
			before := canon(t, r)
			out := fields.Apply(r)
			if canon(t, r) != before {
				t.Fatalf("Apply(%q) modified its input", value)
			}
			for _, k := range []string{"id", "type", "links"} {
				if canon(t, out[k]) != canon(t, r[k]) {
					t.Fatalf("Apply(%q) changed %s", value, k)
				}
			}
			for _, k := range []string{"attributes", "relationships"} {
				if v, ok := out[k]; ok {
					if m, isMap := v.(map[string]any); !isMap || len(m) == 0 {
						t.Fatalf("Apply(%q) left %s = %v", value, k, v)
					}
				}
			}
		}
	})
}

func FuzzParsePage(f *testing.F) {
	f.Add("2", "1", 5)
	f.Add("10", "", 0)
	f.Add("-1", "x", -3)
	f.Add("1", "9223372036854775807", 9223372036854775807)
	f.Fuzz(func(t *testing.T, size, number string, total int) {
		p, err := ParsePage(url.Values{"page[size]": {size}, "page[number]": {number}})
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || (qe.Param != "page[size]" && qe.Param != "page[number]") {
				t.Fatalf("error %v does not name a page parameter", err)
			}
			return
		}
		lo, hi := p.Bounds(total)
		if lo < 0 || lo > hi || hi > max(total, 0) {
			t.Fatalf("Bounds(%d) = [%d,%d)", total, lo, hi)
		}
		first, last, next, prev, ok := p.Links("http://h/v1/servers/", total)
		if ok != p.Set {
			t.Fatalf("Links ok = %v for %+v", ok, p)
		}
		if !p.Set {
			if lo != 0 || hi != max(total, 0) {
				t.Fatalf("unpaged Bounds = [%d,%d)", lo, hi)
			}
			return
		}
		if p.Size <= 0 || p.Number < 0 || hi-lo > p.Size {
			t.Fatalf("page %+v gave [%d,%d)", p, lo, hi)
		}
		if (next != "") != (lo < hi && hi < total) {
			t.Fatalf("next %q for %+v over %d rows, bounds [%d,%d)", next, p, total, lo, hi)
		}
		if (prev != "") != (p.Number > 0 && lo < hi) {
			t.Fatalf("prev %q for %+v over %d rows, bounds [%d,%d)", prev, p, total, lo, hi)
		}
		// Every link must lead back to a page this package accepts.
		for _, link := range []string{first, last, next, prev, p.Self("http://h/v1/servers/")} {
			if link == "" {
				continue
			}
			u, err := url.Parse(link)
			if err != nil {
				t.Fatalf("link %q: %v", link, err)
			}
			back, err := ParsePage(u.Query())
			if err != nil || back.Size != p.Size || !back.Set {
				t.Fatalf("link %q parses to %+v, %v", link, back, err)
			}
		}
	})
}

func FuzzJSONPath(f *testing.F) {
	f.Add("$.attributes.state")
	f.Add("relationships.services.data[*].id")
	f.Add("$['attributes']['statistics'].*")
	f.Add("$.relationships.services.data[1,0]['id']")
	f.Add("$..a[")
	rows := servers(f)
	anything := node{op: opNot} // none of no sub-expressions: true for any reached value
	readOnly := literalNode(opEq, "Read-Only")
	f.Fuzz(func(t *testing.T, path string) {
		p, err := parsePath(path)
		if err != nil {
			var se *syntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %v (%T) is not located", err, err)
			}
			checkSyntaxOffsets(t, err)
			if !strings.Contains(err.Error(), "at offset") {
				t.Fatalf("error %q does not say where", err)
			}
			return
		}
		// Answering the prefix with one Doc.Lookup must agree with walking
		// every segment from the root.
		all := make([]segment, 0, len(p.prefix)+len(p.rest))
		for _, tok := range p.prefix {
			all = append(all, segment{kind: segName, tok: tok})
		}
		all = append(all, p.rest...)
		for _, r := range rows {
			for _, n := range []*node{&anything, &readOnly} {
				v, ok := MapDoc(r).Lookup(p.prefix)
				fast := ok && matchSegs(v, p.rest, n)
				slow := matchSegs(map[string]any(r), all, n)
				if fast != slow {
					t.Fatalf("%q on %s: Lookup+walk = %v, walk = %v", path, r["id"], fast, slow)
				}
			}
		}
	})
}
