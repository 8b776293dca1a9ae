package core

import (
	"maps"
	"sync"
	"time"
)

// Role is what a monitor found a server to be in its replication topology.
type Role uint8

const (
	// RoleNone is a server that is neither, or whose role is not known.
	RoleNone Role = iota
	RoleMaster
	RoleSlave
)

// ServerState is what is known of a server's health.
type ServerState struct {
	Up   bool
	Role Role
	// Monitored is set on states a monitor published. The proxy also notes
	// what it sees of servers no monitor watches, and routing trusts only a
	// monitor's Down: an unmonitored server stays a candidate, because an
	// operator who configured no monitor still expects it to be used.
	Monitored bool
}

// String spells the state as MaxScale's servers resource does in
// attributes.state.
func (s ServerState) String() string {
	switch {
	case !s.Up:
		return "Down"
	case s.Role == RoleMaster:
		return "Master, Running"
	case s.Role == RoleSlave:
		return "Slave, Running"
	}
	return "Running"
}

// ServerStates holds the latest state of each server. Monitors and the
// proxy write it; the router and the admin API read it. It is safe for
// concurrent use.
type ServerStates struct {
	mu      sync.RWMutex
	states  map[string]ServerState
	version uint64
	// changed is when version last moved, for HTTP's Last-Modified.
	changed time.Time
}

// NewServerStates returns a store that knows no server's state yet.
func NewServerStates() *ServerStates {
	return &ServerStates{states: map[string]ServerState{}}
}

// Set records server's state. It returns the state it replaces, and whether
// anything changed: a first state always counts as a change, so that its
// caller logs it.
func (s *ServerStates) Set(server string, st ServerState) (prev ServerState, changed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, known := s.states[server]
	if known && prev == st {
		return prev, false
	}
	s.states[server] = st
	s.version++
	s.changed = time.Now()
	return prev, true
}

// Note records what was seen of a server by someone other than its
// monitor, such as the proxy failing to connect, unless a monitor watches
// the server: a monitor's verdict is never overwritten. It returns the state
// it replaced, whether there was one, and whether anything changed.
func (s *ServerStates) Note(server string, st ServerState) (prev ServerState, known, changed bool) {
	st.Monitored = false
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, known = s.states[server]
	if known && (prev.Monitored || prev == st) {
		return prev, known, false
	}
	s.states[server] = st
	s.version++
	s.changed = time.Now()
	return prev, known, true
}

// Get returns server's state; ok is false while nothing is known of it.
func (s *ServerStates) Get(server string) (st ServerState, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok = s.states[server]
	return st, ok
}

// All returns a copy of every known state, by server name, and the version
// it is at.
func (s *ServerStates) All() (map[string]ServerState, uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return maps.Clone(s.states), s.version
}

// Version counts the changes so far, so that a reader can tell whether
// anything moved since it last looked.
func (s *ServerStates) Version() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version
}

// LastChange returns the version and when it was reached; the time is zero
// while nothing is known.
func (s *ServerStates) LastChange() (uint64, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.version, s.changed
}
