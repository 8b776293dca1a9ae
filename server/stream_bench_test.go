package server

import (
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

// benchGroup is a group over a registry of n sessions with members that
// never write: it measures what a flush costs the server, however many
// connections share the frame.
func benchGroup(b *testing.B, n, members int) (*group, []*core.Handle, []*subscriber) {
	b.Helper()
	reg := core.NewRegistry(nil)
	handles := make([]*core.Handle, n)
	for i := range handles {
		handles[i] = reg.Open(core.Session{Service: "svc", State: core.StateReady, User: "u", Remote: "10.0.0.1", Port: 40000 + i%20000})
	}
	h := newHub(reg, "bench", StreamConfig{}, slog.New(slog.DiscardHandler))
	g := newGroup(h, "k", linker{base: "http://127.0.0.1:8989/v1"}, streamQuery{interval: time.Hour})
	go g.start()
	b.Cleanup(g.stop)
	<-g.ready
	subs := make([]*subscriber, members)
	for i := range subs {
		subs[i] = &subscriber{wake: make(chan struct{}, 1)}
		g.join(subs[i], streamSince{}, false)
	}
	return g, handles, subs
}

// BenchmarkStreamFlush is one interval's work at 1000 changes/s and the
// default 250 ms interval: 250 updated sessions, diffed, encoded once and
// queued to every member.
func BenchmarkStreamFlush(b *testing.B) {
	for _, members := range []int{1, 1000} {
		b.Run("members="+strconv.Itoa(members), func(b *testing.B) {
			g, handles, subs := benchGroup(b, 10_000, members)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				for range 250 {
					i++
					handles[(i*7919)%len(handles)].Update(func(s *core.Session) { s.User = "u" + strconv.Itoa(i) })
				}
				g.flush()
				for _, s := range subs {
					for f, _, _ := s.pop(); f != nil; f, _, _ = s.pop() {
					}
				}
			}
		})
	}
}

// BenchmarkStreamSnapshot encodes a 10k-session snapshot, the cost of a
// client joining a group (shared by clients joining at once).
func BenchmarkStreamSnapshot(b *testing.B) {
	g, _, _ := benchGroup(b, 10_000, 0)
	benchSnapshots(b, g)
}
