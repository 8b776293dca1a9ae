package server

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
)

func TestParseSince(t *testing.T) {
	tests := []struct {
		in    string
		epoch string
		rev   uint64
		ok    bool
	}{
		{"9f2c01ab9f2c01ab:12", "9f2c01ab9f2c01ab", 12, true},
		{"e:0", "e", 0, true},
		{"A-z_9:18446744073709551615", "A-z_9", 18446744073709551615, true},
		{strings.Repeat("a", 64) + ":1", strings.Repeat("a", 64), 1, true},
		{strings.Repeat("a", 65) + ":1", "", 0, false},
		{"e:18446744073709551616", "", 0, false},
		{"e:01", "", 0, false},
		{"e:+1", "", 0, false},
		{"e:-1", "", 0, false},
		{"e:1.0", "", 0, false},
		{"e:", "", 0, false},
		{":1", "", 0, false},
		{"e", "", 0, false},
		{"e:1:2", "", 0, false},
		{"é:1", "", 0, false},
		{"e f:1", "", 0, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSince(tt.in)
			if (err == nil) != tt.ok || got.epoch != tt.epoch || got.rev != tt.rev {
				t.Fatalf("parseSince(%q) = %+v, %v; want %q, %d, ok=%v", tt.in, got, err, tt.epoch, tt.rev, tt.ok)
			}
			if err != nil && core.ErrorCode(err) != core.EINVALID {
				t.Errorf("error %v is not a client error", err)
			}
		})
	}
}

// FuzzParseSince feeds the parser what any client may send: it never
// panics, refuses with a client error, and what it accepts prints back as
// the input.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"9f2c01ab9f2c01ab:12", "e:0", "e:01", ":", "a:b:c", "e:18446744073709551616", "\x00:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseSince(s)
		if err != nil {
			var de *core.Error
			if !errors.As(err, &de) || de.Code != core.EINVALID || !strings.Contains(de.Message, "since") {
				t.Fatalf("error %v does not name the parameter as a client error", err)
			}
			return
		}
		if got.String() != s {
			t.Fatalf("parseSince(%q) prints back as %q", s, got.String())
		}
	})
}

// TestNormalisedParams checks which requests share a group: those whose
// filters and fieldsets differ only in order.
func TestNormalisedParams(t *testing.T) {
	key := func(q string) string {
		v, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		return normalisedParams(v)
	}
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"filter order", "filter=a%3D1&filter=b%3D2", "filter=b%3D2&filter=a%3D1", true},
		{"field order, blanks and repeats", "fields%5Bsessions%5D=user,state", "fields%5Bsessions%5D=state,+user,user", true},
		{"other parameters", "filter=a%3D1&interval=50&pretty=false&since=e:1", "filter=a%3D1", true},
		{"fields of other types", "fields%5Bservices%5D=x", "", true},
		{"different filters", "filter=a%3D1", "filter=a%3D2", false},
		{"filter and filter path", "filter=a%3D1", "filter%5Ba%5D=1", false},
		{"different fields", "fields%5Bsessions%5D=user", "fields%5Bsessions%5D=state", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := key(tt.a) == key(tt.b); got != tt.same {
				t.Errorf("keys %q and %q: same = %v, want %v", key(tt.a), key(tt.b), got, tt.same)
			}
		})
	}
}

func TestSplitObject(t *testing.T) {
	tests := []struct {
		in   string
		want []string // key=raw
		ok   bool
	}{
		{`{}`, nil, true},
		{`{"a":1}`, []string{"a=1"}, true},
		{`{"a":"x,}\"y","b":[1,{"c":"]"}],"d":{"e":{}},"f":null,"g":-1.5e3}`,
			[]string{`a="x,}\"y"`, `b=[1,{"c":"]"}]`, `d={"e":{}}`, "f=null", "g=-1.5e3"}, true},
		{`{"a\"b":true}`, []string{`a\"b=true`}, true},
		{`{"a":1,}`, nil, false},
		{`{"a" :1}`, nil, false},
		{`{"a":"x}`, nil, false},
		{`[1]`, nil, false},
		{``, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			ms, err := splitObject([]byte(tt.in), nil)
			if (err == nil) != tt.ok {
				t.Fatalf("splitObject(%s) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			var got []string
			for _, m := range ms {
				got = append(got, string(m.key)+"="+string(m.raw))
			}
			if tt.ok && strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("members %q, want %q", got, tt.want)
			}
		})
	}
}

// TestLaggingCounted fills subscribers' queues through a group's broadcast:
// the hub counts each time one falls behind, not each frame it then misses.
func TestLaggingCounted(t *testing.T) {
	tests := []struct {
		name        string
		queueFrames int
		frames      int
		want        uint64
	}{
		{"room for every frame", 4, 4, 0},
		{"one frame too many", 4, 5, 1},
		{"many frames too many", 4, 50, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(core.NewRegistry(nil), "e", StreamConfig{QueueFrames: tt.queueFrames}, nil)
			a, b := &subscriber{wake: make(chan struct{}, 1)}, &subscriber{wake: make(chan struct{}, 1)}
			g := &group{h: h, members: map[*subscriber]struct{}{a: {}, b: {}}}
			for i := range tt.frames {
				g.broadcastLocked(&frame{b: []byte("{}"), rev: uint64(i + 1)})
			}
			// Both subscribers are behind by the same frames.
			if got := h.metrics().lagging; got != 2*tt.want {
				t.Errorf("lagging = %d, want %d", got, 2*tt.want)
			}
		})
	}
}
