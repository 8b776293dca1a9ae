package core_test

import (
	"sync"
	"testing"

	"github.com/portico-db/portico/core"
)

func TestServerStateString(t *testing.T) {
	tests := []struct {
		st   core.ServerState
		want string
	}{
		{core.ServerState{}, "Down"},
		{core.ServerState{Role: core.RoleMaster, Monitored: true}, "Down"},
		{core.ServerState{Up: true}, "Running"},
		{core.ServerState{Up: true, Role: core.RoleMaster}, "Master, Running"},
		{core.ServerState{Up: true, Role: core.RoleSlave, Monitored: true}, "Slave, Running"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.st.String(); got != tt.want {
				t.Errorf("%+v.String() = %q, want %q", tt.st, got, tt.want)
			}
		})
	}
}

func TestServerStates(t *testing.T) {
	s := core.NewServerStates()
	if _, ok := s.Get("db1"); ok {
		t.Fatal("a new store knows db1")
	}
	up := core.ServerState{Up: true, Role: core.RoleMaster, Monitored: true}
	steps := []struct {
		name        string
		st          core.ServerState
		wantChanged bool
		wantVersion uint64
	}{
		{"first state is a change", up, true, 1},
		{"same state is not", up, false, 1},
		{"going down is", core.ServerState{Monitored: true}, true, 2},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if _, changed := s.Set("db1", step.st); changed != step.wantChanged {
				t.Errorf("changed = %v, want %v", changed, step.wantChanged)
			}
			if got, ok := s.Get("db1"); !ok || got != step.st {
				t.Errorf("Get = %+v, %v; want %+v", got, ok, step.st)
			}
			if v := s.Version(); v != step.wantVersion {
				t.Errorf("version = %d, want %d", v, step.wantVersion)
			}
		})
	}
	all, v := s.All()
	all["db2"] = up // a copy: the store must not see this
	if _, ok := s.Get("db2"); ok || v != 2 || len(all) != 2 {
		t.Errorf("All gave %v at version %d; the store knows db2: %v", all, v, ok)
	}
}

func TestServerStatesConcurrent(t *testing.T) {
	s := core.NewServerStates()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				s.Set("db", core.ServerState{Up: (i+j)%2 == 0})
				s.Get("db")
				s.All()
			}
		})
	}
	wg.Wait()
	if _, ok := s.Get("db"); !ok || s.Version() == 0 {
		t.Errorf("after concurrent writes the store knows nothing (version %d)", s.Version())
	}
}

func TestServerStatesNote(t *testing.T) {
	s := core.NewServerStates()
	if _, known, changed := s.Note("free", core.ServerState{Up: true}); known || !changed {
		t.Errorf("first note: known %v changed %v, want a change to an unknown server", known, changed)
	}
	if _, _, changed := s.Note("free", core.ServerState{Up: true}); changed {
		t.Error("the same note again counted as a change")
	}
	if prev, known, changed := s.Note("free", core.ServerState{}); !known || !changed || !prev.Up {
		t.Errorf("going down: prev %+v known %v changed %v", prev, known, changed)
	}
	if st, _ := s.Get("free"); st.Monitored {
		t.Error("a note was stored as a monitor's verdict")
	}
	master := core.ServerState{Up: true, Role: core.RoleMaster, Monitored: true}
	s.Set("watched", master)
	if _, _, changed := s.Note("watched", core.ServerState{}); changed {
		t.Error("a note overwrote a monitor's verdict")
	}
	if st, _ := s.Get("watched"); st != master {
		t.Errorf("watched = %+v, want %+v", st, master)
	}
}
