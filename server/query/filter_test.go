package query

import (
	"net/url"
	"reflect"
	"testing"
)

// ids applies f to the fixture and returns the ids of the kept rows.
func ids(t *testing.T, f Filter) []string {
	t.Helper()
	var out []string
	for _, r := range servers(t) {
		if f.Match(MapDoc(r)) {
			out = append(out, r["id"].(string))
		}
	}
	return out
}

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"no filter keeps everything", ``, []string{"server1", "server2", "server3"}},
		{"json literal is equality", `filter=/attributes/state="Down"`, []string{"server3"}},
		{"pointer without leading slash", `filter=id="server2"`, []string{"server2"}},
		{"empty segments are skipped", `filter=//attributes//state/="Down"`, []string{"server3"}},
		{"number compares as float", `filter=/attributes/parameters/port=3306`, []string{"server1"}},
		{"type mismatch is false", `filter=/attributes/parameters/port=lt(3400)`, []string{"server1", "server2"}},
		{"ne keeps other types", `filter=/attributes/parameters/port=ne(3306)`, []string{"server2", "server3"}},
		{"missing pointer drops the row", `filter=/attributes/weight=ne(0)`, []string{"server1", "server2"}},
		{"present null is a value", `filter=/attributes/gtid=null`, []string{"server1"}},
		{"bool literal", `filter=/attributes/maintenance=true`, []string{"server2"}},
		{"array index in pointer", `filter=/relationships/services/data/0/id="RW-Split-Router"`, []string{"server1"}},
		{"range with and", `filter=/attributes/statistics/connections=and(ge(1),le(5))`, []string{"server1"}},
		{"or", `filter=id=or(eq("server1"),eq("server3"))`, []string{"server1", "server3"}},
		{"not excludes every listed value", `filter=id=not(eq("server1"),eq("server3"))`, []string{"server2"}},
		{"deep equality of arrays", `filter=/attributes/tags=["a","b"]`, []string{"server1"}},
		{"deep equality of objects", `filter=/attributes/parameters={"port":3307,"address":"127.0.0.1"}`, []string{"server2"}},
		{"string ordering", `filter=/attributes/state=lt("S")`, []string{"server1", "server3"}},
		{"value may contain '='", `filter=/attributes/state=eq("a=b")`, nil},
		{"json path dotted", `filter[$.attributes.state]="Down"`, []string{"server3"}},
		{"json path without root", `filter[attributes.parameters.port]=eq(3307)`, []string{"server2"}},
		{"json path brackets", `filter[$['attributes']["statistics"]['connections']]=gt(0)`, []string{"server1"}},
		{"json path index", `filter[$.relationships.services.data[0].id]=eq("Read-Only")`, []string{"server2"}},
		{"json path wildcard matches any element", `filter[relationships.services.data[*].id]=eq("Read-Only")`, []string{"server1", "server2"}},
		{"json path wildcard on empty array", `filter[attributes.tags[*]]=ne("zzz")`, []string{"server1"}},
		{"json path object wildcard", `filter[$.attributes.statistics.*]=eq(10)`, []string{"server1"}},
		{"json path dotted wildcard on array", `filter[$.relationships.*.data.*.type]=eq("monitors")`, []string{"server1"}},
		{"json path union", `filter[$.relationships.services.data[1,0].id]=eq("Read-Only")`, []string{"server1", "server2"}},
		{"json path name union", `filter[$.attributes.statistics['connections','max_connections']]=eq(3)`, []string{"server2"}},
		{"json path whole resource", `filter[$]=ne(null)`, []string{"server1", "server2", "server3"}},
		{"json path missing drops the row", `filter[$.attributes.nope]=ne(1)`, nil},
		{"json path wildcard over scalar matches nothing", `filter[$.id.*]=ne(1)`, nil},
		{"several json paths are ANDed", `filter[id]=ne("server1")&filter[attributes.parameters.address]=eq("127.0.0.1")`, []string{"server2"}},
		{"pointer and path are ANDed", `filter=/attributes/parameters/address="127.0.0.1"&filter[$.attributes.maintenance]=false`, []string{"server1"}},
		{"repeated filter= values are ANDed", `filter=/attributes/parameters/address="127.0.0.1"&filter=id=ne("server1")`, []string{"server2"}},
		{"percent-encoded brackets", `filter%5B%24.id%5D=%22server3%22`, []string{"server3"}},
		{"pointer escapes", `filter=/attributes/a~1b=1`, nil},
		{"unrelated parameters are ignored", `filterx=1&filter[unterminated=1&fields[servers]=state`, []string{"server1", "server2", "server3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFilter(q)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(t, f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterPointerEscapes(t *testing.T) {
	doc := MapDoc{"a/b": map[string]any{"c~d": "x"}}
	f, err := ParseFilter(url.Values{"filter": {`/a~1b/c~0d="x"`}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.Match(doc) {
		t.Error("~1 and ~0 escapes not decoded")
	}
}

func TestFilterEmpty(t *testing.T) {
	var zero Filter
	if !zero.Empty() || !zero.Match(MapDoc{}) {
		t.Error("zero Filter must be empty and match everything")
	}
	f, err := ParseFilter(url.Values{"pretty": {"false"}})
	if err != nil || !f.Empty() {
		t.Errorf("ParseFilter without filters = %v, %v", f, err)
	}
	f, err = ParseFilter(url.Values{"filter": {"id=1"}})
	if err != nil || f.Empty() {
		t.Errorf("ParseFilter(filter=id=1) Empty() = true, %v", err)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		name   string
		values url.Values
		param  string
		want   []string
	}{
		{"no '='", url.Values{"filter": {"/id"}}, "filter", []string{`expected <json-pointer>=<expression>, found no '=' in "/id"`}},
		{"offset counts from the parameter value", url.Values{"filter": {"/attributes/x=eq(1"}}, "filter", []string{`expected ')' at offset 18 in "/attributes/x=eq(1"`}},
		{"empty expression", url.Values{"filter": {"/id="}}, "filter", []string{`expected expression at offset 4`}},
		{"bad pointer escape", url.Values{"filter": {"/a~2b=1"}}, "filter", []string{`invalid escape in json pointer, want ~0 or ~1 at offset 2 in "/a~2b=1"`}},
		{"dangling pointer escape", url.Values{"filter": {"/ab~=1"}}, "filter", []string{`at offset 3`}},
		{"bad path expression", url.Values{"filter[$.id]": {"eq(1"}}, "filter[$.id]", []string{`expected ')' at offset 4 in "eq(1"`}},
		{"bad path", url.Values{"filter[$.a[0]": {"1"}}, "filter[$.a[0]", []string{`invalid json path: unterminated '[' at offset 3 in "$.a[0"`}},
		{"empty path", url.Values{"filter[]": {"1"}}, "filter[]", []string{`empty json path`}},
		{"errors are reported in key order", url.Values{"filter[b.]": {"1"}, "filter[a.]": {"1"}}, "filter[a.]", []string{`expected a name, found end of input at offset 2`}},
		{"second filter= value is checked", url.Values{"filter": {"id=1", "id=eq("}}, "filter", []string{`expected json value at offset 6`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilter(tt.values)
			if err == nil {
				t.Fatalf("ParseFilter(%v) = %v, want error", tt.values, f)
			}
			wantError(t, err, tt.param, tt.want...)
		})
	}
}

// typedServer is a Doc that answers from struct fields, the way a handler
// with typed resources avoids building maps.
type typedServer struct {
	id    string
	state string
	port  int
}

func (s typedServer) Lookup(tok []string) (any, bool) {
	switch {
	case len(tok) == 1 && tok[0] == "id":
		return s.id, true
	case len(tok) == 2 && tok[0] == "attributes" && tok[1] == "state":
		return s.state, true
	case len(tok) == 3 && tok[0] == "attributes" && tok[1] == "parameters" && tok[2] == "port":
		return s.port, true
	case len(tok) == 2 && tok[0] == "attributes" && tok[1] == "parameters":
		return map[string]any{"port": s.port}, true
	}
	return nil, false
}

func TestFilterTypedDoc(t *testing.T) {
	q, _ := url.ParseQuery(`filter=/attributes/state="Running"&filter[$.attributes.parameters.port]=ge(3306)&filter[attributes.parameters.*]=lt(4000)`)
	f, err := ParseFilter(q)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		doc  typedServer
		want bool
	}{
		{typedServer{"a", "Running", 3306}, true},
		{typedServer{"b", "Down", 3306}, false},
		{typedServer{"c", "Running", 3305}, false},
		{typedServer{"d", "Running", 4000}, false},
	} {
		if got := f.Match(tt.doc); got != tt.want {
			t.Errorf("Match(%+v) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}

func TestMapDocLookup(t *testing.T) {
	d := MapDoc(decode(t, `{"a":{"b":[10,{"c":null}]},"0":"zero"}`).(map[string]any))
	tests := []struct {
		tokens []string
		want   string
		ok     bool
	}{
		{nil, `{"0":"zero","a":{"b":[10,{"c":null}]}}`, true},
		{[]string{"a", "b", "0"}, `10`, true},
		{[]string{"a", "b", "1", "c"}, `null`, true},
		{[]string{"0"}, `"zero"`, true},
		{[]string{"a", "b", "2"}, ``, false},
		{[]string{"a", "b", "-"}, ``, false},
		{[]string{"a", "b", "+1"}, ``, false},
		{[]string{"a", "b", "1000000000000"}, ``, false},
		{[]string{"a", "x"}, ``, false},
		{[]string{"a", "b", "0", "x"}, ``, false},
	}
	for _, tt := range tests {
		v, ok := d.Lookup(tt.tokens)
		if ok != tt.ok {
			t.Errorf("Lookup(%q) ok = %v, want %v", tt.tokens, ok, tt.ok)
			continue
		}
		if ok && canon(t, v) != tt.want {
			t.Errorf("Lookup(%q) = %s, want %s", tt.tokens, canon(t, v), tt.want)
		}
	}
}
