package query

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParsePathValid(t *testing.T) {
	tests := []struct {
		in     string
		prefix []string
		rest   []segment
	}{
		{"$", nil, nil},
		{"id", []string{"id"}, nil},
		{"$.id", []string{"id"}, nil},
		{"$id", []string{"id"}, nil},
		{"$.store.book", []string{"store", "book"}, nil},
		{"store.book", []string{"store", "book"}, nil},
		{"$['store']['book']", []string{"store", "book"}, nil},
		{`$["store"]["a.b"]`, []string{"store", "a.b"}, nil},
		{"$['a]b']", []string{"a]b"}, nil},
		{"$['']", []string{""}, nil},
		{"$.store.book[0]", []string{"store", "book", "0"}, nil},
		{"$.book[007]", []string{"book", "7"}, nil},
		{"$.book[ 1 ]", []string{"book", "1"}, nil},
		{"$[0].a", []string{"0", "a"}, nil},
		{"$.a b", []string{"a b"}, nil},
		{"$.a]", []string{"a]"}, nil},
		{"$.store.book[0,1,2]", []string{"store", "book"}, []segment{{kind: segUnion, tokens: []string{"0", "1", "2"}}}},
		{"$.s['a', 'b']", []string{"s"}, []segment{{kind: segUnion, tokens: []string{"a", "b"}}}},
		{"$.s['a','b','a',\"b\"][1,01,2]", []string{"s"}, []segment{{kind: segUnion, tokens: []string{"a", "b"}}, {kind: segUnion, tokens: []string{"1", "2"}}}},
		{"$.s['a','a'][0,000]", []string{"s", "a", "0"}, nil},
		{"$.store.book[*].price", []string{"store", "book"}, []segment{{kind: segWild}, {kind: segName, tok: "price"}}},
		{"$.store.bicycle.*", []string{"store", "bicycle"}, []segment{{kind: segWild}}},
		{"*", nil, []segment{{kind: segWild}}},
		{"$[ * ]", nil, []segment{{kind: segWild}}},
		{"a[*][*]", []string{"a"}, []segment{{kind: segWild}, {kind: segWild}}},
		{"a.*b", []string{"a", "*b"}, nil},
		{"$$", []string{"$"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parsePath(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p.prefix, tt.prefix) || !reflect.DeepEqual(p.rest, tt.rest) {
				t.Errorf("parsePath(%q) = %+v, want prefix %q rest %+v", tt.in, p, tt.prefix, tt.rest)
			}
		})
	}
}

func TestParsePathInvalid(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `empty json path at offset 0 in ""`},
		{"$.", `expected a name, found end of input at offset 2 in "$."`},
		{"a.", `expected a name, found end of input at offset 2`},
		{"a.[0]", `expected a name, found '[' at offset 2`},
		{"$..a", `recursive descent (..) is not supported at offset 1`},
		{"$.a[", `unterminated '[' at offset 3`},
		{"$.a[0", `unterminated '[' at offset 3`},
		{"$.a[]", `empty brackets at offset 3`},
		{"$.a[-1]", `negative array indices are not supported at offset 4`},
		{"$.a[0:2]", `array slices are not supported at offset 5`},
		{"$.a[?(@.x)]", `filter selectors are not supported at offset 4`},
		{"$.a['x]", `unterminated quoted name at offset 4`},
		{"$.a[x]", `expected an index, a quoted name or '*', found 'x' at offset 4`},
		{"$.a[0 1]", `expected ',' or ']', found '1' at offset 6`},
		{"$.a[*,0]", `expected ']' after '*' at offset 5`},
		{"$.a[0,*]", `expected an index, a quoted name or '*', found '*' at offset 6`},
		{"$.a[99999999999999999999]", `invalid array index at offset 4`},
		{"a[0]b", `expected '.' or '[', found 'b' at offset 4`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := parsePath(tt.in)
			if err == nil {
				t.Fatalf("parsePath(%q) = %+v, want error", tt.in, p)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Errorf("error %q does not contain %q", got, tt.want)
			}
		})
	}
}

func TestPathRepeatedUnionStaysLinear(t *testing.T) {
	many := func(name string) string {
		return "[" + strings.TrimSuffix(strings.Repeat("'"+name+"',", 500), ",") + "]"
	}
	path := "$" + many("attributes") + many("statistics") + many("connections")
	p, err := parsePath(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.rest) != 0 || len(p.prefix) != 3 {
		t.Fatalf("repeated names not collapsed: %+v", p)
	}
	q := url.Values{"filter[" + path + "]": {"eq(5)"}}
	f, err := ParseFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(MapDoc(servers(t)[0])) {
		t.Error("no match")
	}
}
