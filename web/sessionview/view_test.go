package sessionview_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/portico-db/portico/web/sessionview"
)

func TestParseViewRoundTrip(t *testing.T) {
	tests := []struct {
		name, query string
		want        sessionview.View
		encoded     string
	}{
		{"default", "", sessionview.View{Sort: "id"}, ""},
		{"everything", "q=sleep+now&service=RW&server=s1&state=ready&user=bob&sort=-idle",
			sessionview.View{Sort: "idle", Desc: true, Query: "sleep now", Service: "RW", Server: "s1", State: "ready", User: "bob"},
			"?q=sleep+now&service=RW&server=s1&state=ready&user=bob&sort=-idle"},
		{"unknown sort falls back to id", "sort=-nope", sessionview.View{Sort: "id"}, ""},
		{"escaping", "q=a%26b%3D%C3%A9%2F", sessionview.View{Sort: "id", Query: "a&b=é/"}, "?q=a%26b%3D%C3%A9%2F"},
		{"query is trimmed", "q=+x+", sessionview.View{Sort: "id", Query: "x"}, "?q=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			v := sessionview.ParseView(vals.Get)
			if v != tt.want {
				t.Fatalf("ParseView = %+v, want %+v", v, tt.want)
			}
			if got := v.Encode(); got != tt.encoded {
				t.Fatalf("Encode = %q, want %q", got, tt.encoded)
			}
			// What Encode writes, url.ParseQuery reads back the same.
			back, err := url.ParseQuery(trimQ(v.Encode()))
			if err != nil || sessionview.ParseView(back.Get) != v {
				t.Fatalf("round trip: %+v, %v", sessionview.ParseView(back.Get), err)
			}
		})
	}
}

func trimQ(s string) string {
	if s != "" {
		return s[1:]
	}
	return s
}

func sample() []sessionview.Session {
	return []sessionview.Session{
		{ID: 1, User: "alice", Remote: "10.0.0.1", Service: "RW", Server: "s1", State: "Session ready for routing", LastActivity: t0 - 5000, Queries: 10, BytesIn: 50, Statement: "SELECT * FROM orders"},
		{ID: 2, User: "bob", Remote: "10.0.0.2", Service: "RO", Server: "s2", State: "Session Allocated", LastActivity: t0 - 1000, Queries: 3, BytesIn: 500},
		{ID: 3, User: "alice", Remote: "10.0.0.3", Service: "RO", Server: "s2", State: "Session ready for routing", LastActivity: t0 - 9000, Queries: 10, BytesIn: 5, Statement: "UPDATE Orders SET x=1", StatementAt: t0 - 100, StatementMS: -1},
		{ID: 4, User: "carol", Remote: "10.0.0.4", Service: "RW", Server: "s1", State: "Stopping session", LastActivity: t0 - 20000, Queries: 0, BytesIn: 7000},
	}
}

func ids(list []sessionview.Session) []uint64 {
	var out []uint64
	for _, s := range list {
		out = append(out, s.ID)
	}
	return out
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name string
		view sessionview.View
		want []uint64
	}{
		{"no filter", sessionview.View{}, []uint64{1, 2, 3, 4}},
		{"free text is case-insensitive", sessionview.View{Query: "ORDERS"}, []uint64{1, 3}},
		{"free text matches remote", sessionview.View{Query: "10.0.0.2"}, []uint64{2}},
		{"free text matches the state key", sessionview.View{Query: "stopping"}, []uint64{4}},
		{"free text does not span fields", sessionview.View{Query: "alice10"}, nil},
		{"service", sessionview.View{Service: "RO"}, []uint64{2, 3}},
		{"server and user", sessionview.View{Server: "s1", User: "alice"}, []uint64{1}},
		{"state key", sessionview.View{State: "ready"}, []uint64{1, 3}},
		{"all filters", sessionview.View{Query: "update", Service: "RO", State: "ready", User: "alice", Server: "s2"}, []uint64{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []sessionview.Session
			for _, s := range sample() {
				if tt.view.Match(&s, s.Haystack()) {
					got = append(got, s)
				}
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Fatalf("matched %v, want %v", ids(got), tt.want)
			}
		})
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		sort string
		desc bool
		want []uint64
	}{
		{"id", false, []uint64{1, 2, 3, 4}},
		{"id", true, []uint64{4, 3, 2, 1}},
		{"user", false, []uint64{1, 3, 2, 4}},
		{"idle", false, []uint64{3, 2, 1, 4}}, // 3 runs a statement: not idle
		{"idle", true, []uint64{4, 1, 2, 3}},
		{"queries", true, []uint64{3, 1, 2, 4}}, // ties: id order, reversed
		{"in", false, []uint64{3, 1, 2, 4}},
		{"state", false, []uint64{2, 1, 3, 4}},
		{"statement", false, []uint64{2, 4, 1, 3}},
		{"server", false, []uint64{1, 4, 2, 3}},
		{"connected", true, []uint64{4, 3, 2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.sort, func(t *testing.T) {
			v := sessionview.View{Sort: tt.sort, Desc: tt.desc}
			list := sample()
			slices.SortFunc(list, func(a, b sessionview.Session) int { return v.Compare(&a, &b, t0) })
			if !slices.Equal(ids(list), tt.want) {
				t.Fatalf("order %v, want %v", ids(list), tt.want)
			}
		})
	}
}
