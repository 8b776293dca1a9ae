package core_test

import (
	"slices"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

func TestPublishActivity(t *testing.T) {
	clk := &manualClock{t: time.Date(2017, 7, 17, 11, 0, 0, 0, time.UTC)}
	r := core.NewRegistry(clk.now)
	a := r.Open(core.Session{})
	b := r.Open(core.Session{})
	if n := r.PublishActivity(); n != 2 {
		t.Fatalf("first sweep published %d sessions, want both: activity before it is unknown", n)
	}
	tests := []struct {
		name string
		act  func()
		want []core.SessionID
	}{
		{"nothing happened", func() {}, nil},
		{"bytes from the client", func() { a.CountIn(100, 1) }, []core.SessionID{1}},
		{"bytes to the client", func() { b.CountOut(10, 1) }, []core.SessionID{2}},
		{"a touch", func() { clk.add(time.Second); a.Touch(clk.now()) }, []core.SessionID{1}},
		{"a query on each", func() { a.CountQuery(); b.CountQuery() }, []core.SessionID{1, 2}},
		{"a command starts", func() { b.InFlight(1) }, []core.SessionID{2}},
		{"I/O ages out of the window", func() { clk.add(core.IOWindow + time.Second) }, nil},
		{"I/O", func() { a.IO(clk.now()) }, []core.SessionID{1}},
		{"the I/O ages out", func() { clk.add(core.IOWindow + time.Second) }, []core.SessionID{1}},
		{"activity on a closed session", func() { b.CountIn(1, 1); b.Close() }, nil},
		{"a new session", func() { r.Open(core.Session{}) }, []core.SessionID{3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.act()
			before := r.Rev()
			sub, _ := r.Subscribe(nil)
			defer sub.Close()
			n := r.PublishActivity()
			ch := sub.Next()
			var got []core.SessionID
			for _, s := range ch.Updated {
				got = append(got, s.ID)
			}
			if n != len(tt.want) || r.Rev() != before+uint64(n) || !slices.Equal(got, tt.want) {
				t.Fatalf("published %d, rev +%d, subscriber saw %v; want %v", n, r.Rev()-before, got, tt.want)
			}
			if ids, ok := r.Changed(before, r.Rev()); !ok || !slices.Equal(ids, tt.want) {
				t.Errorf("changelog has %v, %v; want %v", ids, ok, tt.want)
			}
		})
	}
}
