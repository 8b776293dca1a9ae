package server

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

var fieldsTestLinker = linker{base: "http://127.0.0.1:8989/v1"}

// fieldsGroupFor is an unstarted group with fieldset fields: encoding and
// diffing need no goroutine.
func fieldsGroupFor(t *testing.T, fields string) *group {
	t.Helper()
	h := newHub(core.NewRegistry(nil), "test", StreamConfig{}, slog.New(slog.DiscardHandler))
	return newGroup(h, "k", fieldsTestLinker, streamQuery{fields: parseSessionFields(t, fields), interval: time.Hour})
}

// applyMap is the reference: the map path that Fields.Apply defines, decoded.
func applyMap(t *testing.T, f query.Fields, res any) map[string]any {
	t.Helper()
	m, err := toMap(res)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(f.Apply(m))
	if err != nil {
		t.Fatal(err)
	}
	return decodeObject(t, b)
}

func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// TestStreamFieldsMatchApply checks that the stream's fieldsets, flat or
// not, keep exactly what Fields.Apply keeps, over sessions whose resources
// have every kind of member: a busy one, a bare one (no user, port,
// database or statement) and one whose last statement has been answered.
func TestStreamFieldsMatchApply(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	reg := core.NewRegistry(func() time.Time { return at })
	openBusySession(reg, 1, at.Add(-time.Minute))
	reg.Open(core.Session{Service: "Read-Only"})
	answered := reg.Open(core.Session{Service: "RW-Split-Router", User: "bob", Remote: "::ffff:127.0.0.1", Port: 3307})
	tk := answered.StatementReceived("COM_STMT_PREPARE", "SELECT ?", at.Add(-2*time.Second))
	answered.StatementCompleted(tk, "server2", at.Add(-time.Second))
	_, sessions := reg.List()

	tests := []struct {
		name   string
		fields string
		flat   bool
	}{
		{"one attribute", "state", true},
		{"leading slash", "/state", true},
		{"several attributes", "state,user,remote", true},
		{"the dashboard's", dashboardFields, true},
		{"an absent name", "nope", true},
		{"absent and present names", "nope,state", true},
		{"omitted when empty", "user,port", true},
		{"null or a string", "database,last_statement", true},
		{"objects and arrays", "client,queries,connections,parameters,memory,log", true},
		{"volatile attributes", "idle,seconds_alive", true},
		{"relationships only", "services", true},
		{"a relationship and an absent name", "services,nope", true},
		{"top-level names select nothing", "id,type,links,attributes,relationships", true},
		{"root", "/", true},
		{"root and names", "state,/,services", true},
		{"duplicates", "state,/state,state,services,services", true},
		{"blanks and empty tokens", " state ,,user//", true},
		{"escaped names", "a~1b,c~0d,state", true},
		{"a nested path", "memory/total", false},
		{"nested and flat", "state,services,memory/total", false},
		{"nested through a relationship", "services/data", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := fieldsGroupFor(t, tt.fields)
			if _, _, flat := g.fields.Names(); flat != tt.flat {
				t.Fatalf("flat = %v, want %v", flat, tt.flat)
			}
			for _, s := range sessions {
				res := g.l.session(s, at)
				got, err := g.appendResource([]byte("prefix"), res)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(got), "prefix") {
					t.Fatalf("appendResource overwrote what it appended to: %.40s", got)
				}
				got = got[len("prefix"):]
				if want := applyMap(t, g.fields, res); !reflect.DeepEqual(decodeObject(t, got), want) {
					want, _ := json.Marshal(want)
					t.Errorf("session %s:\ngot  %s\nwant %s", res.ID, got, want)
				}
				scratch, err := g.scratchResource(res)
				if err != nil {
					t.Fatal(err)
				}
				if string(scratch) != string(got) {
					t.Errorf("session %s: scratchResource\n%s\nappendResource\n%s", res.ID, scratch, got)
				}
			}
		})
	}
}

// TestStreamFieldsKeepResourceOrder pins the one way a flat fieldset's
// output differs from Apply's: members stay in the resource's order instead
// of being sorted.
func TestStreamFieldsKeepResourceOrder(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	s := core.Session{ID: 7, Service: "svc", State: core.StateReady, User: "alice", Remote: "10.0.0.1", Connected: at, LastActivity: at}
	g := fieldsGroupFor(t, "user,state,services")
	got, err := g.appendResource(nil, g.l.session(s, at))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"7","type":"sessions",` +
		`"relationships":{"services":{"links":{"self":"http://127.0.0.1:8989/v1/services/"},"data":[{"id":"svc","type":"services"}]}},` +
		`"attributes":{"state":"Session ready for routing","user":"alice"},` +
		`"links":{"self":"http://127.0.0.1:8989/v1/sessions/7"}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestAppendProjectedMatchesApply covers what sessions never look like but
// Apply has rules for: null, empty and non-object members, other types,
// escaped names, and input that is not an object.
func TestAppendProjectedMatchesApply(t *testing.T) {
	tests := []struct {
		name   string
		fields string
		res    string
		same   bool // kept byte for byte
	}{
		{"null attributes", "state", `{"id":"1","type":"sessions","attributes":null,"relationships":{"state":1}}`, false},
		{"null attributes under root", "/", `{"id":"1","type":"sessions","attributes":null,"relationships":{"s":1}}`, false},
		{"empty attributes under root", "/", `{"id":"1","type":"sessions","attributes":{},"relationships":{"s":1}}`, false},
		{"non-object members", "state", `{"type":"sessions","attributes":[{"state":1}],"relationships":"state"}`, false},
		{"null selected value", "state", `{"type":"sessions","attributes":{"state":null,"user":"u"}}`, false},
		{"other members are kept", "state", `{"type":"sessions","meta":{"x":[1,2]},"attributes":{"user":"u"},"links":{}}`, false},
		{"escaped names", "a<b,c\"d,e~1f", `{"type":"sessions","attributes":{"a\u003cb":1,"c\"d":2,"e/f":3,"g":4}}`, false},
		{"large integers stay exact", "n", `{"type":"sessions","attributes":{"n":18446744073709551615}}`, false},
		{"another type is untouched", "state", `{"id":"1","type":"servers","attributes":{"state":1,"user":2}}`, true},
		{"no type is untouched", "state", `{"id":"1","attributes":{"state":1,"user":2}}`, true},
		{"nothing but the type", "state", `{"type":"sessions"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := parseSessionFields(t, tt.fields)
			names, all, flat := f.Names()
			if !flat {
				t.Fatalf("%q is not flat", tt.fields)
			}
			got, err := appendProjected(nil, []byte(tt.res), names, all)
			if err != nil {
				t.Fatal(err)
			}
			if tt.same && string(got) != tt.res {
				t.Errorf("got %s, want it untouched", got)
			}
			if want := applyMap(t, f, json.RawMessage(tt.res)); !reflect.DeepEqual(decodeObject(t, got), want) {
				want, _ := json.Marshal(want)
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"type":"sessions","attributes":{"a":1,}}`, `{"type":"sessions" ,"attributes":{}}`} {
		t.Run("malformed "+bad, func(t *testing.T) {
			if got, err := appendProjected([]byte("x"), []byte(bad), []string{"a"}, false); err == nil || string(got) != "x" {
				t.Errorf("appendProjected(%s) = %s, %v; want an error and dst untouched", bad, got, err)
			}
		})
	}
}

// TestStreamUpdatesWithFields runs updates through a group with a fieldset:
// sums and diff work on the trimmed bytes, so an update carries only the
// selected members that changed, and nothing when none did.
func TestStreamUpdatesWithFields(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	base := core.Session{
		ID: 7, Service: "RW-Split-Router", State: core.StateReady, User: "alice", Remote: "10.0.0.1", Port: 40000,
		Connected: at.Add(-time.Hour), LastActivity: at.Add(-time.Minute),
	}
	const head = `{"id":"7","type":"sessions",`
	tests := []struct {
		name   string
		fields string
		change func(*core.Session)
		want   string // the updated entry, or "" for none
	}{
		{"outside the fieldset", "user", func(s *core.Session) { s.Remote = "10.0.0.2" }, ""},
		{"inside the fieldset", "user", func(s *core.Session) { s.User = "bob"; s.Remote = "10.0.0.2" },
			head + `"attributes":{"user":"bob"}}`},
		{"several, in resource order", dashboardFields, func(s *core.Session) { s.Remote = "10.0.0.2"; s.User = "bob"; s.Port = 1 },
			head + `"attributes":{"user":"bob","remote":"10.0.0.2"}}`},
		{"a removed attribute is null", dashboardFields, func(s *core.Session) { s.User = "" },
			head + `"attributes":{"user":null}}`},
		{"volatile attributes never", dashboardFields, func(s *core.Session) { s.LastActivity = at },
			head + `"attributes":{"last_activity":"2026-11-01T09:00:00Z"}}`},
		{"a selected relationship, whole", dashboardFields, func(s *core.Session) { s.Service = "Read-Only" },
			head + `"relationships":{"services":{"links":{"self":"http://127.0.0.1:8989/v1/services/"},"data":[{"id":"Read-Only","type":"services"}]}}}`},
		{"an unselected relationship", "user", func(s *core.Session) { s.Service = "Read-Only" }, ""},
		{"relationships only", "services", func(s *core.Session) { s.User = "bob" }, ""},
		{"nothing selected", "nope", func(s *core.Session) { s.User = "bob"; s.Service = "Read-Only" }, ""},
		{"root", "/", func(s *core.Session) { s.Port = 1 }, head + `"attributes":{"port":1}}`},
		{"a nested path", "user,memory/total", func(s *core.Session) { s.Memory.Capture = 100; s.Remote = "10.0.0.2" },
			head + `"attributes":{"memory":{"total":100}}}`},
		{"no change", dashboardFields, func(*core.Session) {}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := fieldsGroupFor(t, tt.fields)
			prev := &viewEntry{s: base}
			var added changesBuilder
			if err := added.add(g, prev, g.l.session(prev.s, at)); err != nil {
				t.Fatal(err)
			}
			cur := &viewEntry{s: base}
			tt.change(&cur.s)
			var f changesBuilder
			if err := f.update(g, prev, cur, g.l.session(cur.s, at)); err != nil {
				t.Fatal(err)
			}
			var got string
			if len(f.updated) > 0 {
				got = string(f.updated[0].b)
			}
			if got != tt.want {
				t.Errorf("updated = %s\nwant      %s", got, tt.want)
			}
		})
	}
}

// FuzzAppendProjected checks appendProjected against Apply on any object
// that encoding/json writes, trimmed by any flat fieldset.
func FuzzAppendProjected(f *testing.F) {
	f.Add(`{"attributes":{"state":1,"a<b":[{}],"user":null},"relationships":{"services":{"data":[]}},"links":{}}`, "state,a<b,services")
	f.Add(`{"attributes":{},"relationships":null,"meta":"x"}`, "/")
	f.Add(`{"attributes":"x","relationships":{"\u2028":1}}`, "\u2028,x")
	f.Fuzz(func(t *testing.T, doc, fields string) {
		var res map[string]any
		if json.Unmarshal([]byte(doc), &res) != nil || res == nil {
			return
		}
		res["type"] = "sessions"
		fs, err := query.ParseFields(url.Values{"fields[sessions]": {fields}}, "sessions")
		if err != nil {
			return
		}
		names, all, flat := fs.Names()
		if !flat {
			return
		}
		enc, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendProjected(nil, enc, names, all)
		if err != nil {
			t.Fatalf("appendProjected(%s): %v", enc, err)
		}
		if want := applyMap(t, fs, res); !reflect.DeepEqual(decodeObject(t, got), want) {
			want, _ := json.Marshal(want)
			t.Fatalf("fields %q on %s:\ngot  %s\nwant %s", fields, enc, got, want)
		}
	})
}
