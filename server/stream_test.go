package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
)

const frameTimeout = 5 * time.Second

// topKeys returns the keys of a JSON object in the order they were sent.
func topKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var keys []string
	d := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", raw)
	}
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// rawField returns the undecoded value of one top-level key.
func rawField(t *testing.T, raw []byte, key string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return string(m[key])
}

func revString(r uint64) string { return strconv.FormatUint(r, 10) }

// restSession is the data member of GET /v1/sessions/:id.
func (f *fixture) restSession(t *testing.T, host, id string) json.RawMessage {
	t.Helper()
	res := f.get(t, host, "/v1/sessions/"+id+"?pretty=false", admin)
	var doc struct{ Data json.RawMessage }
	if err := json.Unmarshal(res.body, &doc); err != nil || res.status != http.StatusOK {
		t.Fatalf("GET session %s: %d %s", id, res.status, res.body)
	}
	return doc.Data
}

// TestStreamLifecycle follows one client through a snapshot and the three
// kinds of change, checking each frame's exact shape.
func TestStreamLifecycle(t *testing.T) {
	f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond})
	nine, _ := f.openSeed(t)
	nine.Touch(utc(9, 12, 0, 0))
	f.clock.Set(utc(9, 12, 23, 800))

	c := f.dial(t, seedHost, basicHeader())

	snap := readFrame(t, c, frameTimeout)
	t.Run("snapshot", func(t *testing.T) {
		if got, want := topKeys(t, snap.raw), []string{"type", "epoch", "rev", "data", "more"}; !slices.Equal(got, want) {
			t.Errorf("keys = %v, want %v", got, want)
		}
		if snap.Type != "snapshot" || snap.More {
			t.Errorf("type = %q, more = %v; want snapshot, false", snap.Type, snap.More)
		}
		if snap.Epoch == "" {
			t.Error("empty epoch")
		}
		if raw, want := rawField(t, snap.raw, "rev"), strconv.Quote(revString(f.reg.Rev())); raw != want {
			t.Errorf("rev = %s, want the JSON string %s", raw, want)
		}
		if got := sessionIDs(t, snap.Data); !slices.Equal(got, []string{"9", "10"}) {
			t.Fatalf("ids = %v, want [9 10]", got)
		}
		// The stream sends the very resource the REST API serves.
		for i, id := range []string{"9", "10"} {
			if rest := f.restSession(t, seedHost, id); !bytes.Equal(snap.Data[i], rest) {
				t.Errorf("stream resource %s differs from REST:\nstream %s\nrest   %s", id, snap.Data[i], rest)
			}
		}
	})

	changes := []string{"type", "epoch", "rev", "time", "added", "updated", "removed"}
	var h *core.Handle
	steps := []struct {
		name                    string
		do                      func()
		added, updated, removed []string
		check                   func(t *testing.T, s wireSession)
	}{
		{
			name: "open", added: []string{"11"},
			do: func() {
				h = f.reg.Open(core.Session{Service: "RW-Split-Router", User: "bob", Remote: "10.0.0.7", Connected: utc(9, 12, 20, 0)})
			},
			check: func(t *testing.T, s wireSession) {
				if s.Attributes.User != "bob" || s.Attributes.State != string(core.StateAllocated) ||
					s.Attributes.Connected != "Mon Jul 17 11:12:20 2017" {
					t.Errorf("added = %+v", s.Attributes)
				}
				if s.Links.Self != "http://localhost:8989/v1/sessions/11" {
					t.Errorf("self = %q", s.Links.Self)
				}
			},
		},
		{
			name: "update", updated: []string{"11"},
			do: func() { h.Update(func(s *core.Session) { s.State = core.StateReady; s.User = "bob2" }) },
			check: func(t *testing.T, s wireSession) {
				if s.Attributes.User != "bob2" || s.Attributes.State != string(core.StateReady) {
					t.Errorf("updated = %+v", s.Attributes)
				}
			},
		},
		{name: "close", removed: []string{"11"}, do: func() { h.Close() }},
		{name: "close a snapshot session", removed: []string{"9"}, do: func() { nine.Close() }},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			fr := readChanges(t, c, frameTimeout)
			if got := topKeys(t, fr.raw); !slices.Equal(got, changes) {
				t.Errorf("keys = %v, want %v", got, changes)
			}
			if fr.Type != "changes" || fr.Epoch != snap.Epoch {
				t.Errorf("type = %q, epoch = %q; want changes, %q", fr.Type, fr.Epoch, snap.Epoch)
			}
			if raw, want := rawField(t, fr.raw, "rev"), strconv.Quote(revString(f.reg.Rev())); raw != want {
				t.Errorf("rev = %s, want %s", raw, want)
			}
			if want := f.clock.Now().UTC().Format(time.RFC3339Nano); fr.Time != want {
				t.Errorf("time = %q, want %q", fr.Time, want)
			}
			// Empty lists are [], never null: clients iterate them blindly.
			for _, k := range []string{"added", "updated", "removed"} {
				if rawField(t, fr.raw, k) == "null" {
					t.Errorf("%s is null", k)
				}
			}
			got := [][]string{sessionIDs(t, fr.Added), sessionIDs(t, fr.Updated), fr.Removed}
			want := [][]string{orEmpty(st.added), orEmpty(st.updated), orEmpty(st.removed)}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("added, updated, removed = %v, want %v", got, want)
			}
			if st.check != nil {
				s := append(fr.Added, fr.Updated...)[0]
				st.check(t, decodeSession(t, s))
			}
		})
	}
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestStreamEpoch(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	g := newFixture(t, fixtureOpts{})
	a := readFrame(t, f.dial(t, "", basicHeader()), frameTimeout)
	b := readFrame(t, f.dial(t, "", basicHeader()), frameTimeout)
	other := readFrame(t, g.dial(t, "", basicHeader()), frameTimeout)
	tests := []struct {
		name      string
		x, y      string
		wantEqual bool
	}{
		{"same server, two connections", a.Epoch, b.Epoch, true},
		{"another server", a.Epoch, other.Epoch, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.x == "" || tt.y == "" || (tt.x == tt.y) != tt.wantEqual {
				t.Errorf("epochs %q and %q: equal = %v, want %v", tt.x, tt.y, tt.x == tt.y, tt.wantEqual)
			}
		})
	}
}

func TestStreamSnapshotChunks(t *testing.T) {
	tests := []struct {
		sessions   int
		wantChunks []int
	}{
		{0, []int{0}},
		{1, []int{1}},
		{500, []int{500}},
		{501, []int{500, 1}},
		{1200, []int{500, 500, 200}},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.sessions), func(t *testing.T) {
			f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond})
			for range tt.sessions {
				f.reg.Open(core.Session{Service: "RW-Split-Router", User: "u"})
			}
			c := f.dial(t, "", basicHeader())
			wantRev := revString(f.reg.Rev())
			var sizes []int
			var ids []string
			for i := range tt.wantChunks {
				fr := readFrame(t, c, frameTimeout)
				if fr.Type != "snapshot" || fr.Rev != wantRev {
					t.Fatalf("frame %d: type %q rev %q; want snapshot at %s", i, fr.Type, fr.Rev, wantRev)
				}
				if fr.Data == nil {
					t.Fatalf("frame %d: data is null", i)
				}
				if wantMore := i < len(tt.wantChunks)-1; fr.More != wantMore {
					t.Errorf("frame %d: more = %v, want %v", i, fr.More, wantMore)
				}
				sizes = append(sizes, len(fr.Data))
				ids = append(ids, sessionIDs(t, fr.Data)...)
			}
			if !slices.Equal(sizes, tt.wantChunks) {
				t.Errorf("chunk sizes = %v, want %v", sizes, tt.wantChunks)
			}
			for i, id := range ids {
				if id != strconv.Itoa(i+1) {
					t.Fatalf("session %d of the snapshot has id %s: want every session once, in id order", i, id)
				}
			}
			// Nothing else follows until something changes.
			h := f.reg.Open(core.Session{Service: "RW-Split-Router"})
			fr := readChanges(t, c, frameTimeout)
			if fr.Type != "changes" || !slices.Equal(sessionIDs(t, fr.Added), []string{h.ID().String()}) {
				t.Errorf("after the snapshot got %s, want the new session added", fr.raw)
			}
		})
	}
}

// TestStreamCoalescing makes changes within one stream interval and checks
// they arrive as one frame holding only their net effect. The steps of a case
// are a little apart, so that a server which did not wait out its interval
// would send them in separate frames. Session 1 exists before the client
// connects; new sessions get ids from 2.
func TestStreamCoalescing(t *testing.T) {
	const (
		interval = 500 * time.Millisecond
		pause    = 20 * time.Millisecond
	)
	type step func(reg *core.Registry, known *core.Handle)
	var h *core.Handle // a session opened by a step
	var short []*core.Handle
	open := func(user string) step {
		return func(reg *core.Registry, _ *core.Handle) { h = reg.Open(core.Session{User: user}) }
	}
	rename := func(user string) step {
		return func(_ *core.Registry, known *core.Handle) {
			target := known
			if h != nil {
				target = h
			}
			target.Update(func(s *core.Session) { s.User = user })
		}
	}
	closeIt := func(_ *core.Registry, known *core.Handle) {
		if h != nil {
			h.Close()
			return
		}
		known.Close()
	}
	tests := []struct {
		name                    string
		steps                   []step
		added, updated, removed []string
		users                   map[string]string
	}{
		{name: "open then close is nothing", steps: []step{open("x"), closeIt}},
		{
			name: "many short-lived sessions are nothing",
			steps: []step{
				func(reg *core.Registry, _ *core.Handle) {
					for range 100 {
						short = append(short, reg.Open(core.Session{User: "x"}))
					}
				},
				func(*core.Registry, *core.Handle) {
					for _, s := range short {
						s.Close()
					}
				},
			},
		},
		{
			name:  "open then update is one add with the final state",
			steps: []step{open("first"), rename("second"), rename("final")},
			added: []string{"2"}, users: map[string]string{"2": "final"},
		},
		{
			name:    "update then close is one removal",
			steps:   []step{rename("changed"), closeIt},
			removed: []string{"1"},
		},
		{
			name:    "updates coalesce into the last",
			steps:   []step{rename("v1"), rename("v2"), rename("v3")},
			updated: []string{"1"}, users: map[string]string{"1": "v3"},
		},
		{
			name:    "double close is one removal",
			steps:   []step{closeIt, closeIt},
			removed: []string{"1"},
		},
		{
			name:  "touch publishes nothing",
			steps: []step{func(reg *core.Registry, known *core.Handle) { known.Touch(reg.Now().Add(time.Second)) }},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, short = nil, nil
			f := newFixture(t, fixtureOpts{interval: interval})
			known := f.reg.Open(core.Session{User: "known"})
			c := f.dial(t, "", basicHeader())
			if fr := readFrame(t, c, frameTimeout); fr.Type != "snapshot" {
				t.Fatalf("first frame %s", fr.raw)
			}
			start := time.Now()
			for _, st := range tt.steps {
				st(f.reg, known)
				time.Sleep(pause)
			}
			// The sentinel marks the end of the window's changes.
			sentinel := f.reg.Open(core.Session{User: "sentinel"}).ID().String()
			if d := time.Since(start); d >= interval {
				t.Fatalf("the steps took %v, longer than the %v interval they must fit in", d, interval)
			}

			fr := readChanges(t, c, frameTimeout)
			if fr.Type != "changes" {
				t.Fatalf("got %s, want changes", fr.raw)
			}
			added := sessionIDs(t, fr.Added)
			got := [][]string{added, sessionIDs(t, fr.Updated), fr.Removed}
			want := [][]string{append(orEmpty(tt.added), sentinel), orEmpty(tt.updated), orEmpty(tt.removed)}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("one frame: added, updated, removed = %v, want %v\n%s", got, want, fr.raw)
			}
			if fr.Rev != revString(f.reg.Rev()) {
				t.Errorf("rev = %s, want %d", fr.Rev, f.reg.Rev())
			}
			for _, raw := range append(fr.Added, fr.Updated...) {
				s := decodeSession(t, raw)
				if want, ok := tt.users[s.ID]; ok && s.Attributes.User != want {
					t.Errorf("session %s user = %q, want %q", s.ID, s.Attributes.User, want)
				}
			}
		})
	}
}

// TestStreamMirrorsRegistry drives random mutations while a client applies
// frames to its own copy. Whatever the frame boundaries, the client is never
// told to add what it has, or to update or remove what it never saw, and
// ends with exactly the registry's sessions.
func TestStreamMirrorsRegistry(t *testing.T) {
	tests := []struct {
		name     string
		seed     uint64
		interval time.Duration
	}{
		{"1ms", 1, time.Millisecond},
		{"10ms", 2, 10 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{interval: tt.interval})
			var live []*core.Handle
			for range 20 {
				live = append(live, f.reg.Open(core.Session{User: "pre"}))
			}
			c := f.dial(t, "", basicHeader())
			snap := readFrame(t, c, frameTimeout)
			model := map[string]string{} // id -> user
			for _, raw := range snap.Data {
				s := decodeSession(t, raw)
				model[s.ID] = s.Attributes.User
			}

			type result struct {
				violations []string
				frames     int
				err        error
			}
			sentinelUser := "sentinel"
			done := make(chan result, 1)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			go func() {
				var r result
				lastRev, _ := strconv.ParseUint(snap.Rev, 10, 64)
				for {
					fr, err := nextFrame(ctx, c)
					if err != nil {
						r.err = err
						done <- r
						return
					}
					if fr.Type == "bookmark" {
						continue
					}
					r.frames++
					if fr.Type != "changes" {
						r.violations = append(r.violations, "unexpected frame "+string(fr.raw))
						continue
					}
					rev, _ := strconv.ParseUint(fr.Rev, 10, 64)
					if rev <= lastRev {
						r.violations = append(r.violations, fmt.Sprintf("rev went from %d to %d", lastRev, rev))
					}
					lastRev = rev
					for _, id := range fr.Removed {
						if _, ok := model[id]; !ok {
							r.violations = append(r.violations, "removed unknown "+id)
						}
						delete(model, id)
					}
					sawSentinel := false
					for _, raw := range fr.Added {
						var s wireSession
						_ = json.Unmarshal(raw, &s)
						if _, ok := model[s.ID]; ok {
							r.violations = append(r.violations, "added known "+s.ID)
						}
						model[s.ID] = s.Attributes.User
						sawSentinel = sawSentinel || s.Attributes.User == sentinelUser
					}
					for _, raw := range fr.Updated {
						var s wireSession
						_ = json.Unmarshal(raw, &s)
						if _, ok := model[s.ID]; !ok {
							r.violations = append(r.violations, "updated unknown "+s.ID)
						}
						model[s.ID] = s.Attributes.User
					}
					if sawSentinel {
						done <- r
						return
					}
				}
			}()

			rng := rand.New(rand.NewPCG(tt.seed, 0))
			for i := range 3000 {
				switch op := rng.IntN(10); {
				case op < 4 || len(live) == 0:
					live = append(live, f.reg.Open(core.Session{User: "u" + strconv.Itoa(i)}))
				case op < 7:
					h := live[rng.IntN(len(live))]
					h.Update(func(s *core.Session) { s.User = "u" + strconv.Itoa(i) })
				default:
					j := rng.IntN(len(live))
					live[j].Close()
					live = slices.Delete(live, j, j+1)
				}
				if i%100 == 0 {
					time.Sleep(2 * tt.interval)
				}
			}
			f.reg.Open(core.Session{User: sentinelUser})

			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			for _, v := range r.violations {
				t.Error(v)
			}
			_, list := f.reg.List()
			want := map[string]string{}
			for _, s := range list {
				want[s.ID.String()] = s.User
			}
			if !reflect.DeepEqual(model, want) {
				t.Errorf("client view (%d sessions) differs from the registry (%d sessions)", len(model), len(want))
			}
			if r.frames < 2 {
				t.Errorf("only %d change frames: the test did not exercise frame boundaries", r.frames)
			}
		})
	}
}

// TestStreamCrossSiteHijacking checks the Origin rules on the upgrade. A
// browser attaches cookies (and cached Basic credentials) to a websocket
// opened by any site, so only this host's own pages may open one that way.
func TestStreamCrossSiteHijacking(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tok := f.issueToken(t)
	body, sig := f.persistCookies(t)
	host := f.srv.Listener.Addr().String()
	same := "http://" + host

	withCookies := func(origin string) http.Header {
		h := http.Header{}
		h.Add("Cookie", body.String())
		h.Add("Cookie", sig.String())
		if origin != "" {
			h.Set("Origin", origin)
		}
		return h
	}
	withBasic := func(origin string) http.Header {
		h := basicHeader()
		if origin != "" {
			h.Set("Origin", origin)
		}
		return h
	}
	withBearer := func(origin string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		want   int
	}{
		{"cookies without Origin", withCookies(""), http.StatusForbidden},
		{"cookies with foreign Origin", withCookies("http://evil.example"), http.StatusForbidden},
		{"cookies with foreign Origin on same host name, other port", withCookies("http://127.0.0.1:1"), http.StatusForbidden},
		{"cookies with null Origin", withCookies("null"), http.StatusForbidden},
		{"cookies with same Origin", withCookies(same), http.StatusSwitchingProtocols},
		{"basic with foreign Origin", withBasic("http://evil.example"), http.StatusForbidden},
		{"basic with same Origin", withBasic(same), http.StatusSwitchingProtocols},
		{"basic without Origin", withBasic(""), http.StatusSwitchingProtocols},
		{"bearer with foreign Origin", withBearer("http://evil.example"), http.StatusForbidden},
		{"bearer without Origin", withBearer(""), http.StatusSwitchingProtocols},
		{"no credentials with same Origin", http.Header{"Origin": {same}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := f.tryDial(t, "", tt.header)
			if resp == nil {
				t.Fatalf("no handshake response: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d (err %v)", resp.StatusCode, tt.want, err)
			}
			if tt.want != http.StatusSwitchingProtocols {
				if err == nil {
					t.Fatal("dial succeeded")
				}
				if tt.want == http.StatusForbidden {
					b := new(bytes.Buffer)
					_, _ = b.ReadFrom(resp.Body)
					if want := errorBody("websocket Origin is not this admin interface"); b.String() != want {
						t.Errorf("body = %s, want %s", b, want)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fr := readFrame(t, c, frameTimeout); fr.Type != "snapshot" {
				t.Errorf("first frame %s", fr.raw)
			}
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

// TestStreamOriginCheckCoversEveryUpgrade sends raw handshakes whose Upgrade
// header spells "websocket" in every way the websocket library accepts. Each
// is a real upgrade with this host's Origin, so each must be Origin-checked
// too: a cookie-authenticated one from a foreign Origin is refused.
func TestStreamOriginCheckCoversEveryUpgrade(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	body, sig := f.persistCookies(t)
	host := f.srv.Listener.Addr().String()
	tests := []struct {
		name    string
		upgrade []string // one header line each
	}{
		{"exact", []string{"websocket"}},
		{"other case", []string{"WebSocket"}},
		{"last in a list", []string{"foo, websocket"}},
		{"first in a list", []string{"websocket, foo"}},
		{"second header line", []string{"foo", "websocket"}},
	}
	for _, tt := range tests {
		for _, origin := range []struct {
			value string
			want  int
		}{
			{"http://" + host, http.StatusSwitchingProtocols},
			{"http://evil.example", http.StatusForbidden},
		} {
			t.Run(tt.name+" from "+origin.value, func(t *testing.T) {
				conn, err := net.Dial("tcp", host)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				if err := conn.SetDeadline(time.Now().Add(frameTimeout)); err != nil {
					t.Fatal(err)
				}
				var req strings.Builder
				req.WriteString("GET /v1/sessions/stream HTTP/1.1\r\nHost: " + host + "\r\n")
				for _, u := range tt.upgrade {
					req.WriteString("Upgrade: " + u + "\r\n")
				}
				req.WriteString("Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
					"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: " + origin.value + "\r\n" +
					"Cookie: " + body.Name + "=" + body.Value + "; " + sig.Name + "=" + sig.Value + "\r\n\r\n")
				if _, err := io.WriteString(conn, req.String()); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != origin.want {
					t.Errorf("status = %d, want %d", resp.StatusCode, origin.want)
				}
			})
		}
	}
}

func TestStreamParameters(t *testing.T) {
	f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond})
	f.openSeed(t)
	tests := []struct {
		name, query string
		status      int
	}{
		{"bad interval", "?interval=10", 400},
		{"interval too long", "?interval=10001", 400},
		{"interval not a number", "?interval=fast", 400},
		{"malformed filter", "?filter=" + url.QueryEscape("/attributes/user=eq("), 400},
		{"since without a colon", "?since=abc", 400},
		{"since without an epoch", "?since=:1", 400},
		{"since with a negative rev", "?since=abc:-1", 400},
		{"since with a leading zero", "?since=abc:01", 400},
		{"since beyond uint64", "?since=abc:18446744073709551616", 400},
		{"since with a bad epoch", "?since=" + url.QueryEscape("a b:1"), 400},
		{"filter on idle", "?filter=" + url.QueryEscape("/attributes/idle=gt(1)"), 400},
		{"filter path on idle", "?" + url.QueryEscape("filter[$.attributes.idle]") + "=gt(1)", 400},
		{"filter on every attribute", "?" + url.QueryEscape("filter[$.attributes.*]") + "=eq(1)", 400},
		{"filter on the whole resource", "?filter=" + url.QueryEscape("/=eq(1)"), 400},
		{"page", "?page[size]=10", 400},
		{"malformed fields", "?" + url.QueryEscape("fields[sessions]") + "=" + url.QueryEscape("a~2"), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A 400 must come before the upgrade, as a plain JSON:API error.
			_, resp, err := f.tryDial(t, seedHost, basicHeader(), tt.query)
			if err == nil || resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("dial err %v, response %v; want HTTP %d", err, resp, tt.status)
			}
			var doc struct {
				Errors []struct{ Detail string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Errors) != 1 || doc.Errors[0].Detail == "" {
				t.Errorf("body is not a JSON:API error with a detail: %v %+v", err, doc)
			}
		})
	}
	t.Run("filter", func(t *testing.T) {
		c := f.dialQuery(t, seedHost, basicHeader(), "?interval=50&filter="+url.QueryEscape(`/attributes/user="skysql"`))
		snap := readFrame(t, c, frameTimeout)
		if ids := sessionIDs(t, snap.Data); !slices.Equal(ids, []string{"10"}) {
			t.Fatalf("filtered snapshot ids = %v, want [10]", ids)
		}
		h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: "maxuser"})
		h.Update(func(s *core.Session) { s.User = "skysql" })
		ch := readChanges(t, c, frameTimeout)
		if ids := sessionIDs(t, ch.Added); !slices.Equal(ids, []string{h.ID().String()}) {
			t.Fatalf("added = %v, want the session that started matching", ids)
		}
		h.Update(func(s *core.Session) { s.User = "other" })
		ch = readChanges(t, c, frameTimeout)
		if !slices.Equal(ch.Removed, []string{h.ID().String()}) {
			t.Fatalf("removed = %v, want the session that stopped matching", ch.Removed)
		}
	})
}

// TestStreamUpdatedCarriesChangedFields checks that an updated entry holds
// the id, the type and only the attributes that changed, never the ones that
// change without a revision.
func TestStreamUpdatedCarriesChangedFields(t *testing.T) {
	f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond})
	h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: "alice", Remote: "10.0.0.1"})
	id := h.ID().String()
	tests := []struct {
		name   string
		query  string
		change func()
		want   string // the updated entry, or "" for none
	}{
		{
			name:   "state",
			change: func() { h.Update(func(s *core.Session) { s.State = core.StateReady }) },
			want:   `{"id":"` + id + `","type":"sessions","attributes":{"state":"Session ready for routing"}}`,
		},
		{
			name:   "user and remote, in resource order",
			change: func() { h.Update(func(s *core.Session) { s.Remote = "10.0.0.2"; s.User = "bob" }) },
			want:   `{"id":"` + id + `","type":"sessions","attributes":{"user":"bob","remote":"10.0.0.2"}}`,
		},
		{
			name: "idle and seconds_alive never, last_activity when it changed",
			change: func() {
				f.clock.Add(time.Minute)
				h.Touch(f.clock.Now())
				h.Update(func(s *core.Session) { s.User = "carol" })
			},
			want: `{"id":"` + id + `","type":"sessions","attributes":{"user":"carol","last_activity":"2017-07-17T09:01:00Z"}}`,
		},
		{
			name:   "time alone is no update",
			change: func() { f.clock.Add(time.Minute); f.reg.PublishActivity() },
		},
		{
			name:   "published counters",
			change: func() { h.CountIn(100, 1); f.reg.PublishActivity() },
			want:   `{"id":"` + id + `","type":"sessions","attributes":{"bytes_in":100,"packets_in":1}}`,
		},
		{
			name:   "published I/O activity",
			change: func() { h.IO(f.clock.Now()); f.reg.PublishActivity() },
			want:   `{"id":"` + id + `","type":"sessions","attributes":{"io_activity":1,"last_activity":"2017-07-17T09:02:00Z"}}`,
		},
		{
			name:   "a user name removed is null",
			change: func() { h.Update(func(s *core.Session) { s.User = "" }) },
			want:   `{"id":"` + id + `","type":"sessions","attributes":{"user":null}}`,
		},
		{
			name: "log levels",
			change: func() {
				if err := f.reg.SetLogFlags(h.ID(), core.LogFlags{Info: true}); err != nil {
					t.Fatal(err)
				}
			},
			want: `{"id":"` + id + `","type":"sessions","attributes":{"parameters":{"log_info":true,"log_notice":false,"log_warning":false,"log_error":false}}}`,
		},
		{
			name:   "a change outside the fieldset sends nothing",
			query:  "&fields[sessions]=user",
			change: func() { h.Update(func(s *core.Session) { s.Remote = "10.0.0.3" }) },
		},
		{
			name:   "a change inside the fieldset",
			query:  "&fields[sessions]=user",
			change: func() { h.Update(func(s *core.Session) { s.User = "dave"; s.Remote = "10.0.0.4" }) },
			want:   `{"id":"` + id + `","type":"sessions","attributes":{"user":"dave"}}`,
		},
		{
			name:   "a change that changes nothing visible",
			change: func() { h.Update(func(s *core.Session) {}) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.dialQuery(t, "", basicHeader(), "?interval=50"+tt.query)
			readSnapshot(t, c)
			tt.change()
			sentinel := f.reg.Open(core.Session{User: "sentinel"})
			defer sentinel.Close()
			fr := readChanges(t, c, frameTimeout)
			if got := sessionIDs(t, fr.Added); !slices.Equal(got, []string{sentinel.ID().String()}) {
				t.Fatalf("added = %v, want the sentinel; frame %s", got, fr.raw)
			}
			var got []string
			for _, u := range fr.Updated {
				got = append(got, string(u))
			}
			var want []string
			if tt.want != "" {
				want = []string{tt.want}
			}
			if !slices.Equal(got, want) {
				t.Errorf("updated = %v\nwant      %v", got, want)
			}
		})
	}
}

// TestStreamFilterTransitions checks the Kubernetes rule: a session that
// starts matching is added whole, one that stops matching is removed, one
// that matches before and after is updated, and one that matches neither
// time is not mentioned.
func TestStreamFilterTransitions(t *testing.T) {
	query := "?interval=50&filter=" + url.QueryEscape(`/attributes/user="alice"`)
	tests := []struct {
		name                    string
		from, to                string
		added, updated, removed bool
	}{
		{name: "starts matching", from: "bob", to: "alice", added: true},
		{name: "stops matching", from: "alice", to: "bob", removed: true},
		{name: "keeps matching", from: "alice", to: "alice", updated: true},
		{name: "never matches", from: "bob", to: "carol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fixture each: sessions closed by an earlier case would
			// otherwise show up as removals in this one.
			f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond})
			h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: tt.from})
			defer h.Close()
			c := f.dialQuery(t, "", basicHeader(), query)
			readSnapshot(t, c)
			h.Update(func(s *core.Session) { s.User = tt.to; s.State = core.StateReady })
			sentinel := f.reg.Open(core.Session{User: "alice"})
			defer sentinel.Close()
			fr := readChanges(t, c, frameTimeout)
			id, sid := h.ID().String(), sentinel.ID().String()
			wantAdded := []string{sid}
			if tt.added {
				wantAdded = []string{id, sid}
			}
			var wantUpdated, wantRemoved []string
			if tt.updated {
				wantUpdated = []string{id}
			}
			if tt.removed {
				wantRemoved = []string{id}
			}
			got := [][]string{sessionIDs(t, fr.Added), sessionIDs(t, fr.Updated), fr.Removed}
			want := [][]string{wantAdded, orEmpty(wantUpdated), orEmpty(wantRemoved)}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("added, updated, removed = %v, want %v\n%s", got, want, fr.raw)
			}
			if tt.added {
				// An added session is whole, idle included.
				var res struct {
					Attributes map[string]json.RawMessage
				}
				if err := json.Unmarshal(fr.Added[0], &res); err != nil || res.Attributes["idle"] == nil || res.Attributes["connected"] == nil {
					t.Errorf("added session is not whole: %s", fr.Added[0])
				}
			}
		})
	}
}

// readSnapshot reads a whole snapshot and returns its sessions.
func readSnapshot(t *testing.T, c *websocket.Conn) (rev string, data []json.RawMessage) {
	t.Helper()
	for more := true; more; {
		fr := readFrame(t, c, frameTimeout)
		if fr.Type != "snapshot" {
			t.Fatalf("got %.300s, want a snapshot", fr.raw)
		}
		rev, data, more = fr.Rev, append(data, fr.Data...), fr.More
	}
	return rev, data
}

// TestStreamLimits covers the connection cap and shutdown.
func TestStreamLimits(t *testing.T) {
	t.Run("connection cap", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{stream: server.StreamConfig{MaxConns: 2}})
		a := f.dial(t, "", basicHeader())
		f.dial(t, "", basicHeader())
		readSnapshot(t, a)
		_, resp, err := f.tryDial(t, "", basicHeader())
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("third stream: err %v, response %v; want 503", err, resp)
		}
		a.Close(websocket.StatusNormalClosure, "")
		// The slot comes back once the server has seen the close.
		deadline := time.Now().Add(frameTimeout)
		for {
			c, resp, err := f.tryDial(t, "", basicHeader())
			if err == nil {
				readSnapshot(t, c)
				break
			}
			if resp == nil || resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("after a close: err %v, response %v", err, resp)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("shutdown closes with 1001 and refuses new streams", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		c := f.dial(t, "", basicHeader())
		readSnapshot(t, c)
		ctx, cancel := context.WithTimeout(t.Context(), frameTimeout)
		defer cancel()
		closed := make(chan struct{})
		go func() {
			f.api.CloseStreams(ctx)
			close(closed)
		}()
		_, _, err := c.Read(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
			t.Fatalf("close status %v (%v), want 1001", got, err)
		}
		<-closed
		if _, resp, err := f.tryDial(t, "", basicHeader()); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("stream after shutdown: err %v, response %v; want 503", err, resp)
		}
	})
	t.Run("a data frame from the client closes with 1008", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		c := f.dial(t, "", basicHeader())
		readSnapshot(t, c)
		ctx, cancel := context.WithTimeout(t.Context(), frameTimeout)
		defer cancel()
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"hello":1}`)); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.Read(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
			t.Fatalf("close status %v (%v), want 1008", got, err)
		}
	})
}
