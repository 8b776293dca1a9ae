package query

import (
	"net/url"
	"slices"
	"testing"
)

// parseFieldsQuery parses the fieldset for typ in a raw query string.
func parseFieldsQuery(t *testing.T, query, typ string) Fields {
	t.Helper()
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseFields(q, typ)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const server1Links = `"id":"server1","links":{"self":"http://localhost:8989/v1/servers/server1/"},"type":"servers"`

func TestFieldsApply(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string // canonical JSON of the trimmed server1
	}{
		{"attribute", `fields[servers]=state`,
			`{"attributes":{"state":"Master, Running"},` + server1Links + `}`},
		{"leading slash", `fields[servers]=/state`,
			`{"attributes":{"state":"Master, Running"},` + server1Links + `}`},
		{"nested", `fields[servers]=statistics/connections`,
			`{"attributes":{"statistics":{"connections":5}},` + server1Links + `}`},
		{"several are merged", `fields[servers]=state,statistics/connections,parameters/port`,
			`{"attributes":{"parameters":{"port":3306},"state":"Master, Running","statistics":{"connections":5}},` + server1Links + `}`},
		{"whole object wins over a part of it", `fields[servers]=statistics/connections,statistics`,
			`{"attributes":{"statistics":{"connections":5,"max_connections":10}},` + server1Links + `}`},
		{"relationship", `fields[servers]=services`,
			`{"id":"server1","links":{"self":"http://localhost:8989/v1/servers/server1/"},"relationships":{"services":{"data":[{"id":"RW-Split-Router","type":"services"},{"id":"Read-Only","type":"services"}],"links":{"self":"http://localhost:8989/v1/servers/server1/relationships/services/"}}},"type":"servers"}`},
		{"nested relationship", `fields[servers]=monitors/data`,
			`{"id":"server1","links":{"self":"http://localhost:8989/v1/servers/server1/"},"relationships":{"monitors":{"data":[{"id":"MariaDB-Monitor","type":"monitors"}]}},"type":"servers"}`},
		{"missing nested member leaves an empty object", `fields[servers]=statistics/nope`,
			`{"attributes":{"statistics":{}},` + server1Links + `}`},
		{"nothing selected drops both members", `fields[servers]=nope`,
			`{` + server1Links + `}`},
		{"does not advance past an array", `fields[servers]=tags/0`,
			`{"attributes":{"tags":["a","b"]},` + server1Links + `}`},
		{"does not advance past a scalar", `fields[servers]=state/x/y`,
			`{"attributes":{"state":"Master, Running"},` + server1Links + `}`},
		{"null value is kept", `fields[servers]=gtid`,
			`{"attributes":{"gtid":null},` + server1Links + `}`},
		{"root pointer keeps everything", `fields[servers]=/`, ""},
		{"empty items are dropped", `fields[servers]=,state,,`,
			`{"attributes":{"state":"Master, Running"},` + server1Links + `}`},
		{"blanks are trimmed", `fields[servers]=%20state%20,%09weight`,
			`{"attributes":{"state":"Master, Running","weight":1.5},` + server1Links + `}`},
		{"repeated parameters are merged", `fields[servers]=state&fields[servers]=weight`,
			`{"attributes":{"state":"Master, Running","weight":1.5},` + server1Links + `}`},
		{"empty list selects everything", `fields[servers]=`, ""},
		{"only blanks select everything", `fields[servers]=%20,%20`, ""},
		{"other types are ignored", `fields[services]=state`, ""},
		{"absent selects everything", ``, ""},
	}
	full := canon(t, servers(t)[0])
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseFieldsQuery(t, tt.query, "servers")
			res := servers(t)[0]
			got := canon(t, f.Apply(res))
			want := tt.want
			if want == "" {
				want = full
			}
			if got != want {
				t.Errorf("Apply =\n%s\nwant\n%s", got, want)
			}
			if canon(t, res) != full {
				t.Error("Apply modified its input")
			}
		})
	}
}

func TestFieldsApplyDoesNotWriteToSharedSubtrees(t *testing.T) {
	// Selecting a whole object and then a part of it must merge into a copy:
	// resources may be cached and read by other goroutines.
	f, err := ParseFields(url.Values{"fields[servers]": {"/,statistics/connections,parameters,parameters/port"}}, "servers")
	if err != nil {
		t.Fatal(err)
	}
	res := servers(t)[0]
	before := canon(t, res)
	attrs := res["attributes"].(map[string]any)
	stats := attrs["statistics"].(map[string]any)
	out := f.Apply(res)
	if canon(t, res) != before {
		t.Fatal("Apply modified its input")
	}
	if len(stats) != 2 {
		t.Fatalf("statistics was written to: %v", stats)
	}
	if canon(t, out) != before {
		t.Errorf("Apply = %s, want everything", canon(t, out))
	}
}

func TestFieldsApplyEdgeCases(t *testing.T) {
	f, err := ParseFields(url.Values{"fields[sessions]": {"state"}}, "sessions")
	if err != nil {
		t.Fatal(err)
	}
	if f.Empty() {
		t.Fatal("Empty() = true")
	}
	if f.Apply(nil) != nil {
		t.Error("Apply(nil) != nil")
	}
	noType := map[string]any{"id": "1", "attributes": map[string]any{"user": "u"}}
	if got := canon(t, f.Apply(noType)); got != `{"attributes":{"user":"u"},"id":"1"}` {
		t.Errorf("resource without type was trimmed: %s", got)
	}
	nullAttrs := map[string]any{"id": "1", "type": "sessions", "attributes": nil}
	if got := canon(t, f.Apply(nullAttrs)); got != `{"id":"1","type":"sessions"}` {
		t.Errorf("null attributes: %s", got)
	}
	escaped := map[string]any{"type": "sessions", "attributes": map[string]any{"a/b": 1, "c~d": 2, "e": 3}}
	f, err = ParseFields(url.Values{"fields[sessions]": {"a~1b,c~0d"}}, "sessions")
	if err != nil {
		t.Fatal(err)
	}
	if got := canon(t, f.Apply(escaped)); got != `{"attributes":{"a/b":1,"c~d":2},"type":"sessions"}` {
		t.Errorf("escaped pointers: %s", got)
	}
	var zero Fields
	if !zero.Empty() {
		t.Error("zero Fields not Empty")
	}
}

func TestParseFieldsErrors(t *testing.T) {
	tests := []struct {
		name, value string
		want        []string
	}{
		{"bad escape", "state,a~2", []string{`invalid escape in json pointer, want ~0 or ~1 at offset 7 in "state,a~2"`}},
		{"dangling escape after trimming", " x~ ", []string{`at offset 2 in " x~ "`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFields(url.Values{"fields[servers]": {tt.value}}, "servers")
			wantError(t, err, "fields[servers]", tt.want...)
		})
	}
}

func TestFieldsNames(t *testing.T) {
	tests := []struct {
		name  string
		query string
		names []string
		all   bool
		flat  bool
	}{
		{"one name", `fields[sessions]=state`, []string{"state"}, false, true},
		{"leading slash", `fields[sessions]=/state`, []string{"state"}, false, true},
		{"several, in the order given", `fields[sessions]=user,state,services`, []string{"user", "state", "services"}, false, true},
		{"duplicates are dropped", `fields[sessions]=state,/state,user,state`, []string{"state", "user"}, false, true},
		{"repeated parameters are merged", `fields[sessions]=user&fields[sessions]=state`, []string{"user", "state"}, false, true},
		{"empty tokens do not count", `fields[sessions]=state//,//user`, []string{"state", "user"}, false, true},
		{"escapes are undone", `fields[sessions]=a~1b,c~0d`, []string{"a/b", "c~d"}, false, true},
		{"root alone", `fields[sessions]=/`, nil, true, true},
		{"root and names", `fields[sessions]=state,/`, []string{"state"}, true, true},
		{"a nested path is not flat", `fields[sessions]=state,memory/total`, nil, false, false},
		{"a nested path with root is not flat", `fields[sessions]=/,memory/total`, nil, false, false},
		{"empty fieldset is not flat", `fields[sessions]=`, nil, false, false},
		{"absent fieldset is not flat", ``, nil, false, false},
		{"other types are ignored", `fields[servers]=state`, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, all, flat := parseFieldsQuery(t, tt.query, "sessions").Names()
			if !slices.Equal(names, tt.names) || all != tt.all || flat != tt.flat {
				t.Errorf("Names() = %q, all=%v, flat=%v; want %q, all=%v, flat=%v", names, all, flat, tt.names, tt.all, tt.flat)
			}
		})
	}
	var zero Fields
	if names, all, flat := zero.Names(); names != nil || all || flat {
		t.Errorf("zero Fields: Names() = %q, %v, %v; want nothing", names, all, flat)
	}
}
