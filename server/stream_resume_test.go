package server_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server"
	"github.com/portico-db/portico/server/sessionwatch"
)

// clientView is a stream client's sessions, applied frame by frame.
type clientView map[string]map[string]any

// apply applies one frame the way the protocol says a client must: a reset
// discards everything, snapshots and added sessions replace, updates merge
// their attributes (null removes one) and removals of unknown ids are
// ignored.
func (v clientView) apply(t *testing.T, fr frame, pending clientView) {
	t.Helper()
	decode := func(raw json.RawMessage) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		return m
	}
	switch fr.Type {
	case "reset":
		clear(v)
	case "snapshot":
		for _, raw := range fr.Data {
			m := decode(raw)
			pending[m["id"].(string)] = m
		}
		if !fr.More {
			clear(v)
			for id, m := range pending {
				v[id] = m
			}
			clear(pending)
		}
	case "changes":
		for _, id := range fr.Removed {
			delete(v, id)
		}
		for _, raw := range fr.Added {
			m := decode(raw)
			v[m["id"].(string)] = m
		}
		for _, raw := range fr.Updated {
			u := decode(raw)
			old, ok := v[u["id"].(string)]
			if !ok {
				t.Fatalf("update of a session the client does not hold: %s", raw)
			}
			attrs, _ := old["attributes"].(map[string]any)
			changed, _ := u["attributes"].(map[string]any)
			for k, val := range changed {
				if val == nil {
					delete(attrs, k)
				} else {
					attrs[k] = val
				}
			}
			for k, val := range u {
				if k != "id" && k != "type" && k != "attributes" {
					old[k] = val
				}
			}
		}
	}
}

// comparable drops what the stream does not keep current (idle,
// seconds_alive) and treats a null attribute as a missing one.
func comparable(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	if attrs, ok := m["attributes"].(map[string]any); ok {
		a := make(map[string]any, len(attrs))
		for k, v := range attrs {
			if v != nil && k != "idle" && k != "seconds_alive" {
				a[k] = v
			}
		}
		out["attributes"] = a
	}
	return out
}

// restView is GET /v1/sessions with query, keyed by id.
func (f *fixture) restView(t *testing.T, host, query string) clientView {
	t.Helper()
	res := f.get(t, host, "/v1/sessions?pretty=false&"+query, admin)
	if res.status != http.StatusOK {
		t.Fatalf("GET sessions?%s: %d %s", query, res.status, res.body)
	}
	var doc struct{ Data []map[string]any }
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	v := clientView{}
	for _, m := range doc.Data {
		v[m["id"].(string)] = m
	}
	return v
}

func sameView(a, b clientView) bool {
	if len(a) != len(b) {
		return false
	}
	for id, m := range a {
		other, ok := b[id]
		if !ok || !reflect.DeepEqual(comparable(m), comparable(other)) {
			return false
		}
	}
	return true
}

// TestStreamResume reconnects with since=<epoch>:<rev> after various gaps.
// A client that can resume gets the sessions that changed and no snapshot;
// one that cannot gets a reset with the reason, then a snapshot. Either way
// it ends up holding what the REST API returns.
func TestStreamResume(t *testing.T) {
	type setup struct {
		f     *fixture
		a, b  *core.Handle
		epoch string
		rev   uint64     // the first client's revision
		held  clientView // what the first client held at rev
	}
	tests := []struct {
		name   string
		stream server.StreamConfig
		// keep leaves the first client connected, so its group (and view)
		// lives on; its query is the resuming client's.
		keep   bool
		query  string
		change func(s *setup)
		since  func(s *setup) string
		// held is what the resuming client held at since, if not what the
		// first client did.
		held func(s *setup) clientView
		// reset is the expected reset reason, or "" for a resume.
		reset string
		// first is the resumed stream's first frame type.
		first string
	}{
		{
			name:   "nothing changed",
			change: func(*setup) {},
			first:  "bookmark",
		},
		{
			name: "opens, updates and closes",
			change: func(s *setup) {
				s.a.Update(func(x *core.Session) { x.User = "changed" })
				s.b.Close()
				s.f.reg.Open(core.Session{Service: "RW-Split-Router", User: "new"})
				s.f.reg.Open(core.Session{Service: "RW-Split-Router", User: "brief"}).Close()
			},
			first: "changes",
		},
		{
			name:  "filtered",
			query: "filter=" + url.QueryEscape(`/attributes/user="alice"`),
			change: func(s *setup) {
				s.a.Update(func(x *core.Session) { x.User = "bob" })   // leaves
				s.b.Update(func(x *core.Session) { x.User = "alice" }) // joins
			},
			first: "changes",
		},
		{
			name: "ahead of a group that has not flushed yet",
			keep: true, query: "interval=500",
			change: func(s *setup) {
				s.a.Update(func(x *core.Session) { x.User = "changed" })
			},
			since: func(s *setup) string { return s.epoch + ":" + revString(s.f.reg.Rev()) },
			held:  func(s *setup) clientView { return s.f.restView(t, "", "") },
			first: "bookmark",
		},
		{
			name:   "another epoch",
			change: func(*setup) {},
			since:  func(s *setup) string { return "0123456789abcdef:" + revString(s.rev) },
			reset:  "epoch",
		},
		{
			name:   "from the future",
			change: func(*setup) {},
			since:  func(s *setup) string { return s.epoch + ":" + revString(s.f.reg.Rev()+1) },
			reset:  "epoch",
		},
		{
			name: "older than the changelog",
			change: func(s *setup) {
				s.f.reg.SetChangelogLimits(2, 0)
				for range 3 {
					s.a.Update(func(x *core.Session) { x.User += "x" })
				}
			},
			reset: "expired",
		},
		{
			name:   "more changed than a resume frame carries",
			stream: server.StreamConfig{MaxCatchUp: 1},
			change: func(s *setup) {
				s.a.Update(func(x *core.Session) { x.User = "a2" })
				s.b.Update(func(x *core.Session) { x.User = "b2" })
			},
			reset: "lagging",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond, stream: tt.stream})
			s := &setup{f: f}
			s.a = f.reg.Open(core.Session{Service: "RW-Split-Router", User: "alice"})
			s.b = f.reg.Open(core.Session{Service: "RW-Split-Router", User: "bob"})
			first := f.dialQuery(t, "", basicHeader(), "?"+tt.query)
			rev, data := readSnapshot(t, first)
			s.rev, _ = strconv.ParseUint(rev, 10, 64)
			s.held = clientView{}
			s.held.apply(t, frame{Type: "snapshot", Data: data}, clientView{})
			s.epoch = readEpoch(t, f)
			if !tt.keep {
				first.Close(websocket.StatusNormalClosure, "")
			}
			tt.change(s)
			since := s.epoch + ":" + rev
			if tt.since != nil {
				since = tt.since(s)
			}
			c := f.dialQuery(t, "", basicHeader(), "?since="+since+"&"+tt.query)

			want := revString(f.reg.Rev())
			// A resumed client starts from what it held at since.
			view, pending := s.held, clientView{}
			if tt.held != nil {
				view = tt.held(s)
			}
			var types []string
			for {
				fr := readFrame(t, c, frameTimeout)
				if len(types) == 0 || types[len(types)-1] != fr.Type {
					types = append(types, fr.Type)
				}
				if fr.Type == "reset" && fr.Reason != tt.reset {
					t.Fatalf("reset reason %q, want %q", fr.Reason, tt.reset)
				}
				view.apply(t, fr, pending)
				if fr.Rev == want && (fr.Type != "snapshot" || !fr.More) {
					break
				}
			}
			wantTypes := []string{tt.first}
			if tt.reset != "" {
				wantTypes = []string{"reset", "snapshot"}
			}
			if !slices.Equal(types[:min(len(types), len(wantTypes))], wantTypes) {
				t.Errorf("frames %v, want them to start with %v", types, wantTypes)
			}
			if rest := f.restView(t, "", tt.query); !sameView(view, rest) {
				t.Errorf("client holds %v\nREST has     %v", view, rest)
			}
		})
	}
}

func readEpoch(t *testing.T, f *fixture) string {
	t.Helper()
	c := f.dial(t, "", basicHeader())
	defer c.Close(websocket.StatusNormalClosure, "")
	return readFrame(t, c, frameTimeout).Epoch
}

// TestStreamGuarantee is the stream's contract as a property: under random
// churn that moves sessions in and out of filters, with clients that
// disconnect and resume and a Portico restart (a new epoch) in the middle,
// every client ends up holding exactly what the REST collection with the
// same filter and fieldset returns at the same revision.
func TestStreamGuarantee(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed "+strconv.FormatUint(seed, 10), func(t *testing.T) { testStreamGuarantee(t, seed) })
	}
}

func testStreamGuarantee(t *testing.T, seed uint64) {
	opts := fixtureOpts{interval: 5 * time.Millisecond, stream: server.StreamConfig{BookmarkInterval: 20 * time.Millisecond}}
	var cur atomic.Pointer[fixture]
	cur.Store(newFixture(t, opts))
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target, _ := url.Parse(cur.Load().srv.URL)
		httputil.NewSingleHostReverseProxy(target).ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	host := front.Listener.Addr().String()

	queries := []string{
		"",
		"filter=" + url.QueryEscape(`/attributes/bytes_in=gt(400)`),
		"filter=" + url.QueryEscape(`/attributes/user="alice"`),
		url.QueryEscape("filter[$.attributes.state]") + "=" + url.QueryEscape(`eq("Session ready for routing")`) + "&interval=60",
		url.QueryEscape("fields[sessions]") + "=user,state,parameters&filter=" + url.QueryEscape(`/attributes/user=ne("bob")`),
	}
	type client struct {
		query string
		w     *sessionwatch.Watcher
		stop  context.CancelFunc
		done  chan struct{}
	}
	start := func(c *client) {
		ctx, cancel := context.WithCancel(t.Context())
		c.stop, c.done = cancel, make(chan struct{})
		go func() {
			defer close(c.done)
			if err := c.w.Run(ctx); err != nil {
				t.Errorf("watcher %q: %v", c.query, err)
			}
		}()
	}
	halt := func(c *client) {
		c.stop()
		<-c.done
	}
	var clients []*client
	for _, q := range queries {
		values, err := url.ParseQuery(q)
		if err != nil {
			t.Fatal(err)
		}
		c := &client{query: q, w: sessionwatch.New(sessionwatch.Config{
			URL: front.URL, Header: basicHeader(), Query: values,
			MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		})}
		start(c)
		clients = append(clients, c)
	}
	defer func() {
		for _, c := range clients {
			halt(c)
		}
	}()

	rng := rand.New(rand.NewPCG(seed, 2))
	users := []string{"alice", "bob", "carol"}
	var live []*core.Handle
	churn := func(n int) {
		reg := cur.Load().reg
		for i := range n {
			switch op := rng.IntN(12); {
			case op < 4 || len(live) == 0:
				live = append(live, reg.Open(core.Session{Service: "RW-Split-Router", User: users[rng.IntN(3)], Remote: "10.0.0." + strconv.Itoa(i%250)}))
			case op < 6:
				live[rng.IntN(len(live))].Update(func(s *core.Session) { s.User = users[rng.IntN(3)] })
			case op < 7:
				live[rng.IntN(len(live))].Update(func(s *core.Session) { s.State = core.StateReady })
			case op < 8:
				_ = reg.SetLogFlags(live[rng.IntN(len(live))].ID(), core.LogFlags{Info: rng.IntN(2) == 0, Error: true})
			case op < 10:
				// Traffic, which reaches streams when it is published.
				h := live[rng.IntN(len(live))]
				h.CountIn(rng.IntN(500), 1)
				h.IO(cur.Load().clock.Now())
				if rng.IntN(4) == 0 {
					reg.PublishActivity()
				}
			default:
				j := rng.IntN(len(live))
				live[j].Close()
				live = slices.Delete(live, j, j+1)
			}
			if i%10 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}

	// converge waits for quiescence, when every client has reached the
	// registry's revision in the current epoch (bookmarks carry it to
	// clients whose filter saw nothing of the last changes), and compares
	// each client's sessions with the REST collection.
	converge := func(phase int, last bool) {
		f := cur.Load()
		f.reg.PublishActivity()
		epoch, rev := readEpoch(t, f), f.reg.Rev()
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				deadline := time.After(20 * time.Second)
				for {
					if v := c.w.View(); v.Epoch == epoch && v.Rev == rev {
						return
					}
					select {
					case <-c.w.Updated():
					case <-deadline:
						v := c.w.View()
						t.Errorf("phase %d: client %q stuck at %s:%d, want %s:%d", phase, c.query, v.Epoch, v.Rev, epoch, rev)
						return
					}
				}
			})
		}
		wg.Wait()
		for _, c := range clients {
			got := clientView{}
			for _, s := range c.w.View().Sessions {
				b, err := json.Marshal(s)
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				got[s.ID] = m
			}
			q, _ := url.ParseQuery(c.query)
			q.Del("interval")
			rest := f.restView(t, host, q.Encode())
			if !sameView(got, rest) {
				t.Errorf("phase %d: client %q holds %d sessions, REST has %d at rev %d:\nclient %v\nREST   %v", phase, c.query, len(got), len(rest), rev, got, rest)
			}
			if !last {
				continue
			}
			st := c.w.Stats()
			t.Logf("client %q: %d sessions at rev %d; %+v", c.query, len(got), rev, st)
			if st.Resumes == 0 || st.Resets["epoch"] == 0 {
				t.Errorf("client %q: %d resumes and %d epoch resets; the test must exercise both", c.query, st.Resumes, st.Resets["epoch"])
			}
		}
	}
	for phase := range 6 {
		churn(300)
		// Some clients drop their connection, miss changes and resume.
		var down []*client
		for _, c := range clients {
			if rng.IntN(2) == 0 {
				halt(c)
				down = append(down, c)
			}
		}
		churn(150)
		if phase == 3 {
			// A restart: a new process with a new registry and epoch.
			old := cur.Load()
			live = nil
			cur.Store(newFixture(t, opts))
			ctx, cancel := context.WithTimeout(t.Context(), frameTimeout)
			old.api.CloseStreams(ctx)
			cancel()
			churn(100)
		}
		for _, c := range down {
			start(c)
		}
		converge(phase, phase == 5)
	}
}
