// Package synthetic fills a registry with made-up sessions and changes them
// at a steady rate, for benchmarks and demos.
//
// The sessions look like a small production setup: a few applications and
// people, each connecting from its own hosts to its own service, running
// statements, pinging, changing user, and being stopped and replaced by new
// connections that log in. Everything goes through the registry's Handle API,
// the way the proxy drives it, so whatever reads the registry (the REST API,
// the session stream, the dashboard) sees what it would see in production.
package synthetic

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-db/portico/core"
)

// Tick is how often Run makes changes: a thousand changes a second arrive
// as ten every 10 ms, not a thousand at once.
const Tick = 10 * time.Millisecond

// The made-up topology's service names.
const (
	ServiceReadWrite = "Read-Write-Service"
	ServiceReadOnly  = "Read-Only-Service"
	ServiceAnalytics = "Analytics-Service"
)

// Topology returns the made-up servers and services the sessions use: three
// services over four servers, and no listeners, since nothing is proxied.
func Topology() core.Topology {
	return core.Topology{
		Servers: []core.Server{
			{Name: "db-primary", Address: "10.0.0.10", Port: 3306},
			{Name: "db-replica1", Address: "10.0.0.11", Port: 3306},
			{Name: "db-replica2", Address: "10.0.0.12", Port: 3306},
			{Name: "db-analytics", Address: "10.0.0.20", Port: 3306},
		},
		Services: []core.Service{
			{Name: ServiceReadWrite, Router: "readwritesplit", Servers: []string{"db-primary", "db-replica1", "db-replica2"},
				User: "maxuser", Password: "maxpwd", RetainLastStatements: 5},
			{Name: ServiceReadOnly, Router: "readconnroute", Servers: []string{"db-replica1", "db-replica2"},
				User: "maxuser", Password: "maxpwd"},
			{Name: ServiceAnalytics, Router: "readconnroute", Servers: []string{"db-analytics"},
				User: "maxuser", Password: "maxpwd", RetainLastStatements: 2},
		},
	}
}

// Config says how many sessions there are and how fast they change.
type Config struct {
	// Sessions is how many sessions stay open; churn replaces the ones it
	// closes.
	Sessions int
	// Rate is how many changes Run makes per second (see Step for what a
	// change is).
	Rate int
	// Topology holds the services sessions are routed by, by the names
	// Topology() gives them; nil means Topology(). Sessions of a service it
	// lacks go to its first service.
	Topology *core.Topology
	// Seed makes the sessions and their changes repeatable.
	Seed uint64
	// Change, if set, is the only change Step makes, to a random session:
	// for benchmarks that recognise their own changes. It replaces the
	// realistic mix, churn included.
	Change func(*core.Handle)
}

// Source owns the synthetic sessions of one registry. Run and Step must not
// be called at the same time; operators' kills may come from anywhere.
type Source struct {
	reg      *core.Registry
	cfg      Config
	rng      *rand.Rand
	profiles []profile
	total    int // sum of the profiles' weights

	slots []slot
	due   events

	mu     sync.Mutex
	killed []event // guarded by mu: kills to replace at the next Step
}

// slot is one of the Sessions places; churn puts a new session in it.
type slot struct {
	h   *core.Handle
	p   *profile
	gen uint64 // bumped when the slot gets a new session, to drop stale events
	// ready is set once the session has logged in, stopping from the moment
	// it is told to stop.
	ready, stopping bool
	// backends are the servers it is connected to, the primary first.
	backends []string
	// ticket and server are the running statement's, if running.
	ticket  uint64
	server  string
	running bool
}

// New opens cfg.Sessions sessions in reg, all logged in, connected over the
// last hours and idle for up to minutes.
func New(reg *core.Registry, cfg Config) *Source {
	topo := cfg.Topology
	if topo == nil {
		t := Topology()
		topo = &t
	}
	s := &Source{
		reg:   reg,
		cfg:   cfg,
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		slots: make([]slot, max(cfg.Sessions, 0)),
	}
	s.profiles = profilesFor(topo)
	for _, p := range s.profiles {
		s.total += p.weight
	}
	now := reg.Now()
	for i := range s.slots {
		connected := now.Add(-time.Duration(s.rng.Int64N(int64(8 * time.Hour))))
		s.open(i, connected)
		s.connect(i)
		s.slots[i].h.Touch(now.Add(-time.Duration(s.rng.Int64N(int64(10 * time.Minute)))))
	}
	return s
}

// Run makes cfg.Rate changes per second, Tick by Tick, until ctx ends. It
// follows the wall clock, so a late tick makes up for the changes it owes,
// up to a tenth of a second's worth.
func (s *Source) Run(ctx context.Context) {
	t := time.NewTicker(Tick)
	defer t.Stop()
	start := time.Now()
	var done int64
	burst := int64(s.cfg.Rate)/10 + 1
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			owed := int64(float64(s.cfg.Rate)*now.Sub(start).Seconds()) - done
			if owed > burst {
				done += owed - burst
				owed = burst
			}
			s.Step(int(owed))
			done += owed
		}
	}
}

// Step makes n changes now, each to a random session: a statement starts
// (with its traffic), the client pings or changes user, or the session is
// told to stop. What follows from earlier changes comes on top, when due: a
// statement finishes, a stopped session closes as a new client connects in
// its place, the new client logs in. So n is how many sessions change, which
// is what the dashboard sees: a statement's start and end a few
// milliseconds apart reach it as one update of one row.
func (s *Source) Step(n int) {
	now := s.reg.Now()
	for _, k := range s.takeKilled() {
		if s.slots[k.slot].gen == k.gen {
			s.replace(k.slot, now)
		}
	}
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		e := heap.Pop(&s.due).(event)
		if s.slots[e.slot].gen != e.gen {
			continue
		}
		switch e.kind {
		case finishStatement:
			s.finishStatement(e.slot, now)
		case closeSession:
			s.replace(e.slot, now)
		case logIn:
			s.logIn(e.slot, now)
		}
	}
	if len(s.slots) == 0 {
		return
	}
	if s.cfg.Change != nil {
		for range n {
			s.cfg.Change(s.slots[s.rng.IntN(len(s.slots))].h)
		}
		return
	}
	for ; n > 0; n-- {
		i := s.rng.IntN(len(s.slots))
		sl := &s.slots[i]
		switch r := s.rng.IntN(100); {
		case !sl.ready || sl.stopping || sl.running:
			// Nothing else happens to it until it has logged in, stopped
			// or finished its statement; the change goes to a ping
			// elsewhere.
			s.ping(s.rng.IntN(len(s.slots)), now)
		case r < 70:
			s.startStatement(i, now)
		case r < 89:
			s.ping(i, now)
		case r < 97:
			s.changeUser(i)
		default:
			s.stop(i, now)
		}
	}
}

// open puts a new session in slot i, not logged in yet.
func (s *Source) open(i int, connected time.Time) {
	p := s.pick()
	h := s.reg.Open(core.Session{
		Service:    p.service.Name,
		State:      core.StateAllocated,
		User:       p.user,
		Database:   p.database,
		Remote:     p.subnet + strconv.Itoa(1+s.rng.IntN(p.hosts)),
		Port:       32768 + s.rng.IntN(28232), // Linux's ephemeral ports
		Attributes: p.client,
		Connected:  connected,
		Memory:     core.Memory{ClientBuffer: 16 << 10, Capture: 1 << 10},
	})
	h.RetainStatements(p.service.RetainLastStatements)
	sl := &s.slots[i]
	*sl = slot{h: h, p: p, gen: sl.gen + 1}
	gen := sl.gen
	h.OnKill(func() {
		// As the proxy does, the kill closes the connections at once,
		// which removes the session; Step opens the one that replaces it.
		h.Close()
		s.mu.Lock()
		s.killed = append(s.killed, event{slot: i, gen: gen})
		s.mu.Unlock()
	})
}

// connect logs slot i's session in: it gets its backend connections and is
// ready for routing.
func (s *Source) connect(i int) {
	sl := &s.slots[i]
	sl.ready = true
	sl.backends = sl.p.backends(s.rng)
	conns := make([]core.BackendConn, len(sl.backends))
	for k, name := range sl.backends {
		conns[k] = core.BackendConn{Server: name, ThreadID: 1 + s.rng.Uint32N(1<<20)}
	}
	sl.h.Update(func(sess *core.Session) {
		sess.State = core.StateReady
		sess.Backends = conns
		sess.Memory.BackendBuffer = len(conns) * (16 << 10)
	})
}

func (s *Source) takeKilled() []event {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.killed
	s.killed = nil
	return k
}

func (s *Source) startStatement(i int, now time.Time) {
	sl := &s.slots[i]
	text := sl.p.statement(s.rng)
	sl.ticket = sl.h.StatementReceived("COM_QUERY", text, now)
	sl.running = true
	// Reads go to the last backend, a replica under readwritesplit; the
	// rest to the primary.
	if n := len(sl.backends); n > 0 {
		sl.server = sl.backends[0]
		if strings.HasPrefix(text, "SELECT") {
			sl.server = sl.backends[n-1]
		}
	}
	sl.h.CountQuery()
	sl.h.CountIn(4+1+len(text), 1)
	sl.h.InFlight(1)
	sl.h.IO(now)
	// Mostly OLTP, with a slow statement now and then.
	var d time.Duration
	switch r := s.rng.IntN(100); {
	case r < 90:
		d = time.Millisecond + time.Duration(s.rng.Int64N(int64(20*time.Millisecond)))
	case r < 99:
		d = 20*time.Millisecond + time.Duration(s.rng.Int64N(int64(500*time.Millisecond)))
	default:
		d = time.Second + time.Duration(s.rng.Int64N(int64(30*time.Second)))
	}
	s.schedule(now.Add(d), i, finishStatement)
}

func (s *Source) finishStatement(i int, now time.Time) {
	sl := &s.slots[i]
	rows := 1 + s.rng.IntN(50)
	sl.h.StatementCompleted(sl.ticket, sl.server, now)
	sl.running, sl.ticket = false, 0
	sl.h.InFlight(-1)
	// A result set: column count, definitions, rows and EOF.
	sl.h.CountOut(60+rows*40, 4+rows)
	sl.h.IO(now)
}

func (s *Source) ping(i int, now time.Time) {
	h := s.slots[i].h
	h.CountIn(5, 1)
	h.CountOut(11, 1)
	h.IO(now)
}

// changeUser is COM_CHANGE_USER: connection pools do it to reuse a
// connection for another account of the same application.
func (s *Source) changeUser(i int) {
	sl := &s.slots[i]
	user := sl.p.user
	if s.rng.IntN(2) == 0 {
		user += "_ro"
	}
	sl.h.Update(func(sess *core.Session) { sess.User = user })
}

// stop is the client quitting, or an operator's kill seen from the
// dashboard: the session shows as stopping until its connections close.
func (s *Source) stop(i int, now time.Time) {
	sl := &s.slots[i]
	sl.stopping = true
	sl.h.Update(func(sess *core.Session) { sess.State = core.StateStopping })
	s.schedule(now.Add(50*time.Millisecond+time.Duration(s.rng.Int64N(int64(450*time.Millisecond)))), i, closeSession)
}

// replace closes slot i's session and opens a new one in its place, which
// logs in shortly.
func (s *Source) replace(i int, now time.Time) {
	s.slots[i].h.Close()
	s.open(i, now)
	s.schedule(now.Add(5*time.Millisecond+time.Duration(s.rng.Int64N(int64(45*time.Millisecond)))), i, logIn)
}

// logIn ends the handshake of a new client.
func (s *Source) logIn(i int, now time.Time) {
	h := s.slots[i].h
	h.CountIn(120, 2)
	h.CountOut(130, 3)
	s.connect(i)
	h.IO(now)
}

func (s *Source) schedule(at time.Time, i int, kind eventKind) {
	heap.Push(&s.due, event{at: at, slot: i, gen: s.slots[i].gen, kind: kind})
}

// pick returns a random profile, by weight.
func (s *Source) pick() *profile {
	r := s.rng.IntN(s.total)
	for i := range s.profiles {
		if r < s.profiles[i].weight {
			return &s.profiles[i]
		}
		r -= s.profiles[i].weight
	}
	return &s.profiles[len(s.profiles)-1]
}

type eventKind uint8

const (
	finishStatement eventKind = iota
	closeSession
	logIn
)

// event is a change that follows from an earlier one, once at has passed.
type event struct {
	at   time.Time
	slot int
	gen  uint64
	kind eventKind
}

// events is a min-heap by time.
type events []event

func (e events) Len() int           { return len(e) }
func (e events) Less(i, j int) bool { return e[i].at.Before(e[j].at) }
func (e events) Swap(i, j int)      { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)        { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}
