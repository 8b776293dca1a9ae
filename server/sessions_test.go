package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

// TestSessionsMatchSeed checks GET /v1/sessions and /v1/sessions/:id against
// the MaxScale documentation's examples, copied verbatim into testdata/:
// every key the seed shows, in its order, with its values; attributes the
// seed leaves out may be added. The golden files pin the exact bytes besides.
func TestSessionsMatchSeed(t *testing.T) {
	tests := []struct {
		name string
		path string
		// now, touch9 and touch10 set the idle times. The extra 50 ms on each
		// shows that idle is truncated to 0.1 s, not rounded.
		now, touch9, touch10 time.Time
		seed                 string
		golden               string
	}{
		{
			name: "get", path: "/v1/sessions/9",
			touch9: utc(9, 11, 0, 0), now: utc(9, 11, 23, 850), touch10: utc(9, 11, 37, 0),
			seed: "maxscale_seed_session.json", golden: "session_get.golden.json",
		},
		{
			// idle 62.9 and 5.2: 62.95 s and 5.25 s, truncated.
			name: "list", path: "/v1/sessions",
			touch9: utc(9, 10, 57, 50), touch10: utc(9, 11, 54, 750), now: utc(9, 12, 0, 0),
			seed: "maxscale_seed_sessions.json", golden: "sessions_list.golden.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			nine, ten := f.openSeed(t)
			nine.Touch(tt.touch9)
			ten.Touch(tt.touch10)
			f.clock.Set(tt.now)

			res := f.get(t, seedHost, tt.path, admin)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, body %s", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			seed, err := os.ReadFile(filepath.Join("testdata", tt.seed))
			if err != nil {
				t.Fatal(err)
			}
			if diff := seedDiff(seed, res.body); diff != "" {
				t.Errorf("body differs from the MaxScale seed: %s\nbody: %s", diff, res.body)
			}
			golden(t, tt.golden, res.body)
		})
	}
}

// seedDiff checks that got has everything the seed shows, in the seed's key
// order and with the seed's values (numbers by value: the seed prints
// 23.800000000000001 for 23.8). Portico may add attributes MaxScale has and
// the seed leaves out, so extra keys are allowed, but only inside
// "attributes". It returns "" when got conforms.
func seedDiff(seed, got []byte) string {
	w, err := decodeOrdered(json.NewDecoder(bytes.NewReader(seed)))
	if err != nil {
		return "seed: " + err.Error()
	}
	g, err := decodeOrdered(json.NewDecoder(bytes.NewReader(got)))
	if err != nil {
		return "body: " + err.Error()
	}
	return conforms(w, g, "")
}

// ordered is a JSON value that remembers its object keys' order.
type ordered struct {
	keys   []string
	fields map[string]ordered
	items  []ordered
	scalar any
	kind   byte // '{', '[' or 0 for scalars
}

func decodeOrdered(d *json.Decoder) (ordered, error) {
	tok, err := d.Token()
	if err != nil {
		return ordered{}, err
	}
	switch tok {
	case json.Delim('{'):
		o := ordered{kind: '{', fields: map[string]ordered{}}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return o, err
			}
			v, err := decodeOrdered(d)
			if err != nil {
				return o, err
			}
			o.keys = append(o.keys, k.(string))
			o.fields[k.(string)] = v
		}
		_, err = d.Token()
		return o, err
	case json.Delim('['):
		o := ordered{kind: '['}
		for d.More() {
			v, err := decodeOrdered(d)
			if err != nil {
				return o, err
			}
			o.items = append(o.items, v)
		}
		_, err = d.Token()
		return o, err
	}
	return ordered{scalar: tok}, nil
}

func conforms(want, got ordered, path string) string {
	if want.kind != got.kind {
		return fmt.Sprintf("%s: want a %q value, got %q", path, want.kind, got.kind)
	}
	switch want.kind {
	case '{':
		last := -1
		for _, k := range want.keys {
			idx := slices.Index(got.keys, k)
			if idx < 0 {
				return fmt.Sprintf("%s: missing key %q", path, k)
			}
			if idx < last {
				return fmt.Sprintf("%s: key %q is out of the seed's order", path, k)
			}
			last = idx
			if d := conforms(want.fields[k], got.fields[k], path+"/"+k); d != "" {
				return d
			}
		}
		if !strings.HasSuffix(path, "/attributes") {
			for _, k := range got.keys {
				if _, ok := want.fields[k]; !ok {
					return fmt.Sprintf("%s: extra key %q outside attributes", path, k)
				}
			}
		}
	case '[':
		if len(want.items) != len(got.items) {
			return fmt.Sprintf("%s: %d items, want %d", path, len(got.items), len(want.items))
		}
		for i := range want.items {
			if d := conforms(want.items[i], got.items[i], fmt.Sprintf("%s/%d", path, i)); d != "" {
				return d
			}
		}
	default:
		if !reflect.DeepEqual(want.scalar, got.scalar) {
			return fmt.Sprintf("%s: want %#v, got %#v", path, want.scalar, got.scalar)
		}
	}
	return ""
}

func TestSessionResourceFields(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	nine, _ := f.openSeed(t)
	nine.Touch(utc(9, 20, 0, 0))
	f.clock.Set(utc(9, 20, 23, 899))

	res := f.get(t, seedHost, "/v1/sessions/9", admin)
	var doc struct {
		Links struct{ Self string } `json:"links"`
		Data  json.RawMessage       `json:"data"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	// The id must be a JSON string, not a number, and idle a bare number.
	var raw struct {
		ID         json.RawMessage `json:"id"`
		Attributes struct {
			Idle json.RawMessage `json:"idle"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(doc.Data, &raw); err != nil {
		t.Fatal(err)
	}
	s := decodeSession(t, doc.Data)
	checks := []struct{ field, got, want string }{
		{"document links.self", doc.Links.Self, "http://localhost:8989/v1/sessions/9"},
		{"type", s.Type, "sessions"},
		{"links.self", s.Links.Self, "http://localhost:8989/v1/sessions/9"},
		{"relationships.services.links.self", s.Relationships.Services.Links.Self, "http://localhost:8989/v1/services/"},
		{"relationships.services.data", mustJSON(s.Relationships.Services.Data), `[{"id":"RW-Split-Router","type":"services"}]`},
		{"state", s.Attributes.State, "Session ready for routing"},
		{"user", s.Attributes.User, "maxuser"},
		{"remote", s.Attributes.Remote, "::ffff:127.0.0.1"},
		// 09:10:39 UTC in the pinned UTC+2 zone.
		{"connected", s.Attributes.Connected, "Mon Jul 17 11:10:39 2017"},
		{"connected layout", s.Attributes.Connected, utc(9, 10, 39, 0).Local().Format(core.ConnectedLayout)},
		{"raw id", string(raw.ID), `"9"`},
		{"raw idle", string(raw.Attributes.Idle), `23.8`},
	}
	for _, c := range checks {
		t.Run(c.field, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
			}
		})
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestSessionConnectedAndIdle pins the formatting of the two computed
// attributes: connected in local time with asctime's space-padded day, idle
// truncated to 0.1 s and never negative.
func TestSessionConnectedAndIdle(t *testing.T) {
	tests := []struct {
		name          string
		connected     time.Time
		idle          time.Duration // now minus last activity
		wantConnected string
		wantIdle      float64
	}{
		{"utc to local", utc(9, 10, 39, 0), 0, "Mon Jul 17 11:10:39 2017", 0},
		{"other zone to local", time.Date(2017, 7, 17, 14, 40, 39, 0, time.FixedZone("IST", 5*3600+1800)), 0, "Mon Jul 17 11:10:39 2017", 0},
		{"single digit day is space padded", time.Date(2017, 7, 2, 1, 4, 5, 0, time.UTC), 0, "Sun Jul  2 03:04:05 2017", 0},
		{"local midnight rolls the date", time.Date(2017, 12, 31, 23, 30, 0, 0, time.UTC), 0, "Mon Jan  1 01:30:00 2018", 0},
		{"idle truncated not rounded", utc(9, 0, 0, 0), 5*time.Second + 299*time.Millisecond, "Mon Jul 17 11:00:00 2017", 5.2},
		{"idle below resolution", utc(9, 0, 0, 0), 99 * time.Millisecond, "Mon Jul 17 11:00:00 2017", 0},
		{"idle long", utc(9, 0, 0, 0), 2*time.Hour + 100*time.Millisecond, "Mon Jul 17 11:00:00 2017", 7200.1},
		{"activity after now is not negative idle", utc(9, 0, 0, 0), -3 * time.Second, "Mon Jul 17 11:00:00 2017", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: "u", Connected: tt.connected})
			activity := utc(10, 0, 0, 0)
			h.Touch(activity)
			f.clock.Set(activity.Add(tt.idle))

			res := f.get(t, "", "/v1/sessions/"+h.ID().String(), admin)
			var doc struct{ Data json.RawMessage }
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatalf("%v: %s", err, res.body)
			}
			s := decodeSession(t, doc.Data)
			if s.Attributes.Connected != tt.wantConnected {
				t.Errorf("connected = %q, want %q", s.Attributes.Connected, tt.wantConnected)
			}
			if want := tt.connected.Local().Format(core.ConnectedLayout); s.Attributes.Connected != want {
				t.Errorf("connected = %q, want core.ConnectedLayout in local time %q", s.Attributes.Connected, want)
			}
			if s.Attributes.Idle != tt.wantIdle {
				t.Errorf("idle = %v, want %v", s.Attributes.Idle, tt.wantIdle)
			}
		})
	}
}

func TestSessionsLinksFollowRequest(t *testing.T) {
	tests := []struct {
		name string
		tls  bool
		host string
		want string // prefix of every link
	}{
		{"seed host", false, "localhost:8989", "http://localhost:8989/v1/"},
		{"other host", false, "admin.example:1234", "http://admin.example:1234/v1/"},
		{"tls", true, "admin.example", "https://admin.example/v1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{tls: tt.tls})
			f.reg.Open(core.Session{Service: "RW-Split-Router"})
			res := f.get(t, tt.host, "/v1/sessions", admin)
			var doc struct {
				Links struct{ Self string } `json:"links"`
				Data  []json.RawMessage     `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatalf("%v: %s", err, res.body)
			}
			if doc.Links.Self != tt.want+"sessions/" {
				t.Errorf("collection self = %q, want %q", doc.Links.Self, tt.want+"sessions/")
			}
			if len(doc.Data) != 1 {
				t.Fatalf("got %d sessions, want 1", len(doc.Data))
			}
			s := decodeSession(t, doc.Data[0])
			if s.Links.Self != tt.want+"sessions/1" {
				t.Errorf("resource self = %q", s.Links.Self)
			}
			if s.Relationships.Services.Links.Self != tt.want+"services/" {
				t.Errorf("services self = %q", s.Relationships.Services.Links.Self)
			}
		})
	}
}

func TestSessionsList(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		open  int
		close []int // indexes into the opened sessions
		want  []string
	}{
		{"empty is an empty array", "/v1/sessions", 0, nil, []string{}},
		{"trailing slash", "/v1/sessions/", 2, nil, []string{"1", "2"}},
		{"id order, closed sessions gone", "/v1/sessions", 5, []int{0, 3}, []string{"2", "3", "5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			var hs []*core.Handle
			for range tt.open {
				hs = append(hs, f.reg.Open(core.Session{Service: "RW-Split-Router"}))
			}
			for _, i := range tt.close {
				hs[i].Close()
			}
			res := f.get(t, "", tt.path, admin)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d: %s", res.status, res.body)
			}
			var doc struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Data == nil {
				t.Fatalf("data is null, want an array: %s", res.body)
			}
			if got := sessionIDs(t, doc.Data); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSessionNotFound(t *testing.T) {
	tests := []string{"0", "abc", "-1", "99", "007", "+1", "1.5", "18446744073709551616"}
	f := newFixture(t, fixtureOpts{})
	for range 3 {
		f.reg.Open(core.Session{Service: "RW-Split-Router"})
	}
	closed := f.reg.Open(core.Session{Service: "RW-Split-Router"})
	closed.Close()
	tests = append(tests, closed.ID().String())
	for _, id := range tests {
		t.Run(id, func(t *testing.T) {
			res := f.get(t, "", "/v1/sessions/"+id, admin)
			if res.status != http.StatusNotFound {
				t.Errorf("status = %d, want 404", res.status)
			}
			if want := errorBody(id + " is not a session"); string(res.body) != want {
				t.Errorf("body = %s, want %s", res.body, want)
			}
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		status int
		body   string
	}{
		{"unknown collection", http.MethodGet, "/v1/nope", http.StatusNotFound, errorBody("/v1/nope was not found")},
		{"method not allowed", http.MethodPost, "/v1/sessions", http.StatusMethodNotAllowed, errorBody("POST is not allowed on /v1/sessions")},
		{"stream without upgrade", http.MethodGet, "/v1/sessions/stream", http.StatusUpgradeRequired, ""},
	}
	f := newFixture(t, fixtureOpts{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := f.do(t, tt.method, "", tt.path, admin)
			if res.status != tt.status {
				t.Errorf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.body != "" && string(res.body) != tt.body {
				t.Errorf("body = %s, want %s", res.body, tt.body)
			}
		})
	}
}
