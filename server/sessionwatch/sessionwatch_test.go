package sessionwatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/portico-db/portico/server/sessionwatch"
)

// script is a fake stream server: connection i (from 0) gets the frames of
// conns[i], then is closed; later connections wait. It records each
// connection's since parameter.
type script struct {
	conns [][]string
	mu    sync.Mutex
	since []string
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/sessions/stream" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer good" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	n := len(s.since)
	s.since = append(s.since, r.URL.Query().Get("since"))
	s.mu.Unlock()
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	if n >= len(s.conns) {
		<-r.Context().Done()
		return
	}
	for _, f := range s.conns[n] {
		if err := c.Write(r.Context(), websocket.MessageText, []byte(f)); err != nil {
			return
		}
	}
	c.Close(websocket.StatusGoingAway, "scripted end")
}

func (s *script) sinces() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.since)
}

func session(id, user string) string {
	return `{"id":"` + id + `","type":"sessions","attributes":{"user":"` + user + `","state":"ready","idle":1.5},"links":{"self":"x"}}`
}

// watch runs a Watcher against srv until cond holds for its view.
func watch(t *testing.T, srv *httptest.Server, cond func(sessionwatch.View, sessionwatch.Stats) bool) (*sessionwatch.Watcher, func()) {
	t.Helper()
	w := sessionwatch.New(sessionwatch.Config{
		URL: srv.URL, Header: http.Header{"Authorization": {"Bearer good"}},
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.After(5 * time.Second)
	for !cond(w.View(), w.Stats()) {
		select {
		case <-w.Updated():
		case err := <-done:
			t.Fatalf("Run returned %v", err)
		case <-deadline:
			t.Fatalf("view never matched: %+v %+v", w.View(), w.Stats())
		}
	}
	return w, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func users(v sessionwatch.View) map[string]string {
	m := map[string]string{}
	for _, s := range v.Sessions {
		m[s.ID] = s.String("user")
	}
	return m
}

func TestWatcherAppliesFrames(t *testing.T) {
	snap1 := `{"type":"snapshot","epoch":"e1","rev":"5","data":[` + session("1", "a") + `,` + session("2", "b") + `],"more":true}`
	snap2 := `{"type":"snapshot","epoch":"e1","rev":"5","data":[` + session("10", "c") + `],"more":false}`
	changes := `{"type":"changes","epoch":"e1","rev":"9","time":"2026-11-29T18:44:01.25Z","added":[` + session("11", "d") + `],` +
		`"updated":[{"id":"2","type":"sessions","attributes":{"user":"b2","state":null}}],"removed":["1"]}`
	bookmark := `{"type":"bookmark","epoch":"e1","rev":"12","time":"2026-11-29T18:44:16.25Z"}`
	tests := []struct {
		name   string
		frames []string
		rev    uint64
		users  map[string]string
	}{
		{"a snapshot in two chunks", []string{snap1, snap2}, 5, map[string]string{"1": "a", "2": "b", "10": "c"}},
		{"changes", []string{snap1, snap2, changes}, 9, map[string]string{"2": "b2", "10": "c", "11": "d"}},
		{"a bookmark moves the revision", []string{snap1, snap2, changes, bookmark}, 12, map[string]string{"2": "b2", "10": "c", "11": "d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(&script{conns: [][]string{tt.frames}})
			defer srv.Close()
			w, stop := watch(t, srv, func(v sessionwatch.View, _ sessionwatch.Stats) bool { return v.Rev == tt.rev })
			defer stop()
			v := w.View()
			if got := users(v); !equalMaps(got, tt.users) {
				t.Errorf("users = %v, want %v", got, tt.users)
			}
			var ids []string
			for _, s := range v.Sessions {
				ids = append(ids, s.ID)
			}
			if !slices.IsSortedFunc(ids, func(a, b string) int { return len(a) - len(b) }) {
				t.Errorf("sessions not in id order: %v", ids)
			}
			for _, s := range v.Sessions {
				if _, ok := s.Attributes["state"]; s.ID == "2" && tt.rev >= 9 && ok {
					t.Errorf("a null attribute in an update must remove it: %s", s.Attributes["state"])
				}
			}
		})
	}
}

func TestWatcherResumesAndResets(t *testing.T) {
	snap := func(epoch, rev string, sessions ...string) string {
		b, _ := json.Marshal(map[string]any{"type": "snapshot", "epoch": epoch, "rev": rev, "more": false, "data": rawList(sessions)})
		return string(b)
	}
	s := &script{conns: [][]string{
		{snap("e1", "5", session("1", "a"))},
		// A resume: the server sends what changed.
		{`{"type":"changes","epoch":"e1","rev":"7","time":"2026-11-29T18:44:01Z","added":[` + session("2", "b") + `],"updated":[],"removed":[]}`},
		// A restarted server: reset, then a snapshot of another epoch.
		{`{"type":"reset","reason":"epoch"}`, snap("e2", "3", session("1", "z"))},
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	w, stop := watch(t, srv, func(v sessionwatch.View, st sessionwatch.Stats) bool { return v.Epoch == "e2" && v.Rev == 3 })
	defer stop()
	if got, want := s.sinces(), []string{"", "e1:5", "e1:7"}; !slices.Equal(got[:3], want) {
		t.Errorf("since per connection = %v, want %v", got, want)
	}
	if got := users(w.View()); !equalMaps(got, map[string]string{"1": "z"}) {
		t.Errorf("users after the reset = %v, want only the new snapshot's", got)
	}
	st := w.Stats()
	if st.Resumes != 1 || st.Resets["epoch"] != 1 {
		t.Errorf("stats %+v, want 1 resume and 1 epoch reset", st)
	}
}

func TestWatcherStartsOverAfterABadFrame(t *testing.T) {
	s := &script{conns: [][]string{
		{`{"type":"snapshot","epoch":"e1","rev":"5","data":[],"more":false}`,
			`{"type":"changes","epoch":"e1","rev":"6","time":"2026-11-29T18:44:01Z","added":[],"updated":[{"id":"9","type":"sessions","attributes":{}}],"removed":[]}`},
		{`{"type":"snapshot","epoch":"e1","rev":"8","data":[],"more":false}`},
	}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	_, stop := watch(t, srv, func(v sessionwatch.View, _ sessionwatch.Stats) bool { return v.Rev == 8 })
	defer stop()
	if got := s.sinces(); got[1] != "" {
		t.Errorf("after an update of an unknown session the client resumed from %q; want a fresh snapshot", got[1])
	}
}

func TestWatcherRefused(t *testing.T) {
	srv := httptest.NewServer(&script{})
	defer srv.Close()
	w := sessionwatch.New(sessionwatch.Config{URL: srv.URL, Header: http.Header{"Authorization": {"Bearer bad"}}})
	err := w.Run(t.Context())
	var perm *sessionwatch.PermanentError
	if !errors.As(err, &perm) || perm.Status != http.StatusUnauthorized {
		t.Fatalf("Run = %v, want a permanent 401", err)
	}
}

func TestViewIdle(t *testing.T) {
	now := time.Date(2026, 11, 29, 18, 44, 10, 0, time.UTC)
	s := sessionwatch.Session{
		Attributes: map[string]json.RawMessage{"idle": json.RawMessage(`2.5`)},
		Received:   now.Add(-3 * time.Second),
	}
	withLast := sessionwatch.Session{
		Attributes: map[string]json.RawMessage{"idle": json.RawMessage(`9`), "last_activity": json.RawMessage(`"2026-11-29T18:44:00Z"`)},
		Received:   now.Add(-time.Hour),
	}
	tests := []struct {
		name string
		v    sessionwatch.View
		s    sessionwatch.Session
		want time.Duration
	}{
		{"idle as sent plus the time since", sessionwatch.View{}, s, 5500 * time.Millisecond},
		{"server time less last_activity", sessionwatch.View{Time: now.Add(-2 * time.Second), Received: now.Add(-time.Second)}, withLast, 9 * time.Second},
		{"never negative", sessionwatch.View{Time: now.Add(-time.Minute), Received: now}, withLast, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.v.Idle(tt.s, now); got != tt.want {
				t.Errorf("Idle = %v, want %v", got, tt.want)
			}
		})
	}
}

func rawList(items []string) []json.RawMessage {
	out := make([]json.RawMessage, len(items))
	for i, s := range items {
		out[i] = json.RawMessage(s)
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
