package proxy

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
)

// Routing is readconnroute's: each session goes to the server of its
// service that matches router_options and has the fewest sessions, and
// stays there. A server that cannot be connected to, or that does not
// greet (it stalls, hangs up, or refuses with an ERR such as too many
// connections), is passed over for the next, so the client hears of a
// failure only when no server would have it.

// errSessionClosed ends a session that was closed, killed for instance,
// while it looked for a server.
var errSessionClosed = errors.New("session closed while connecting")

// greeted is a backend connection whose server has sent its greeting.
type greeted struct {
	conn     net.Conn
	server   string
	seq      byte
	greeting []byte
}

// refusal is a server that answered the connection with an ERR instead of
// a greeting; the client is sent that ERR as it is.
type refusal struct {
	server  string
	seq     byte
	payload []byte
}

func (r *refusal) Error() string {
	e, _ := mysqlwire.ParseErrPacket(r.payload)
	return fmt.Sprintf("server %s refused the connection: %v", r.server, e)
}

// connect tries the service's candidate servers in turn until one greets.
// Each try is bounded by the connect timeout, and all of them by deadline.
// When every try fails, the error is the last server's own failure if one
// was reached, and otherwise says that none could be.
func (s *session) connect(ctx context.Context, svc core.Service, deadline time.Time) (greeted, error) {
	names := s.p.candidates(svc)
	if len(names) == 0 {
		return greeted{}, &wireError{errno: mysqlwire.CRConnHostError, sqlState: mysqlwire.SSUnknownSQLState,
			msg: "Portico could not connect to any server of service '" + svc.Name + "'",
			err: errors.New("no server is in a state that router_options allows")}
	}
	var unreachable []error
	var answer error // the last failure of a server that was reached
	for _, name := range names {
		b, reached, err := s.try(ctx, name, deadline)
		if ctx.Err() != nil {
			if err == nil {
				b.conn.Close()
				s.p.conns[name].Add(-1)
			}
			return greeted{}, fmt.Errorf("connect: %w", ctx.Err())
		}
		if errors.Is(err, errSessionClosed) {
			return greeted{}, err
		}
		s.p.note(name, err == nil)
		if err == nil {
			return b, nil
		}
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			// Killed while this server was tried: its failure is ours.
			return greeted{}, errSessionClosed
		}
		s.log.Warn("server failed; moving on to the next, if any", "server", name, "err", err)
		if reached {
			answer = err
		} else {
			unreachable = append(unreachable, err)
		}
	}
	if answer != nil {
		return greeted{}, answer
	}
	return greeted{}, &wireError{errno: mysqlwire.CRConnHostError, sqlState: mysqlwire.SSUnknownSQLState,
		msg: "Portico could not connect to any server of service '" + svc.Name + "'", err: errors.Join(unreachable...)}
}

// try connects to one server and reads its greeting. reached reports that
// the TCP connection was made, so the failure is the server's own.
func (s *session) try(ctx context.Context, name string, deadline time.Time) (b greeted, reached bool, err error) {
	srv, err := s.p.topo.Server(name)
	if err != nil {
		return greeted{}, false, err
	}
	if srv.SSL && s.p.tls.Servers[name] == nil {
		return greeted{}, false, fmt.Errorf("server %s has ssl=true but its TLS settings were not loaded (proxy.LoadTLS)", name)
	}
	end := time.Now().Add(s.p.connectTimeout)
	if deadline.Before(end) {
		end = deadline
	}
	dialCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dialCtx, "tcp", net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)))
	if err != nil {
		return greeted{}, false, fmt.Errorf("server %s: %w", name, err)
	}
	// Shutting down must not wait for a server that stalls, and neither
	// must an operator's kill: closeAll closes the backend it finds.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	s.mu.Lock()
	closed := s.closed
	if !closed {
		s.backend = conn
	}
	s.mu.Unlock()
	if closed {
		conn.Close()
		return greeted{}, false, errSessionClosed
	}
	_ = conn.SetDeadline(end)
	seq, greeting, err := mysqlwire.ReadPacket(&ioCounter{r: conn, h: s.h}, handshakeLimit)
	if err == nil && len(greeting) > 0 && greeting[0] == mysqlwire.ErrHeader {
		err = &refusal{server: name, seq: seq, payload: greeting}
	} else if err != nil {
		err = &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Lost connection to server '" + name + "' during handshake", err: err}
	} else if _, perr := mysqlwire.ParseGreeting(greeting); perr != nil {
		err = &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Bad handshake from server '" + name + "'", err: perr}
	}
	if err != nil {
		s.mu.Lock()
		s.backend = nil
		s.mu.Unlock()
		conn.Close()
		return greeted{}, true, err
	}
	s.p.conns[name].Add(1)
	return greeted{conn: conn, server: name, seq: seq, greeting: greeting}, true, nil
}

// candidates lists the servers of svc a session may use, in the order to
// try them: those whose state matches router_options, fewest sessions
// first (ties keep the configured order). A server no monitor watches is
// always a candidate, since nothing says what it is, but one the proxy
// itself last failed to reach goes after the rest. As in MaxScale, a
// service that asks for slaves falls back to a master when no slave is
// left: masters come last.
func (p *Proxy) candidates(svc core.Service) []string {
	type candidate struct {
		name  string
		rank  int // 0 first; 1 unmonitored and last seen down; 2 fallback master
		conns int64
	}
	wantMaster, wantSlave, wantRunning := len(svc.RouterOptions) == 0, false, false
	for _, o := range svc.RouterOptions {
		switch o {
		case "master":
			wantMaster = true
		case "slave":
			wantSlave = true
		case "running":
			wantRunning = true
		}
	}
	if len(svc.RouterOptions) == 0 {
		wantRunning = true
	}
	var list []candidate
	for _, name := range svc.Servers {
		c := candidate{name: name}
		if n := p.conns[name]; n != nil {
			c.conns = n.Load()
		}
		st, known := p.states.Get(name)
		switch {
		case !known:
		case !st.Monitored:
			if !st.Up {
				c.rank = 1
			}
		case !st.Up:
			continue
		case wantRunning, wantMaster && st.Role == core.RoleMaster, wantSlave && st.Role == core.RoleSlave:
		case wantSlave && st.Role == core.RoleMaster:
			c.rank = 2
		default:
			continue
		}
		list = append(list, c)
	}
	slices.SortStableFunc(list, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.conns, b.conns))
	})
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = c.name
	}
	return names
}

// note records what a session saw of a server no monitor watches, so that
// the admin API can show it and routing can try it last while it seems
// down. The first success is not logged: that a server works is what an
// operator expects.
func (p *Proxy) note(server string, up bool) {
	st := core.ServerState{Up: up}
	prev, known, changed := p.states.Note(server, st)
	switch {
	case !changed, up && !known:
	case up:
		p.log.Info("server state changed", "server", server, "state", st.String(), "previous", prev.String(), "monitored", false)
	default:
		p.log.Warn("server state changed", "server", server, "state", st.String(), "monitored", false)
	}
}
