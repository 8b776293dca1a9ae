// Package proxy accepts MariaDB/MySQL client connections on a listener,
// connects each to a backend server of its service, and relays the protocol
// in both directions while keeping the session registry current.
//
// It understands only as much of the protocol as the admin plane needs: the
// greeting (to show the client its Portico session id), the handshake
// response (to learn the user), the end of authentication (to know the
// session is ready), and after that where packets, commands and replies
// begin and end (to count them, time statements and tell a busy session from
// an idle one). Bytes are relayed unchanged, both directions at once, so
// pipelining clients are never slowed to lockstep, and a reply the proxy
// cannot follow only stops the timing, never the relay.
package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
)

// Defaults bound how long a session may sit in the handshake, so a stalled
// backend or a silent client cannot hold a session open forever.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultAuthTimeout    = 10 * time.Second
	// handshakeLimit bounds the greeting and the handshake response. Real ones
	// are a few hundred bytes; connection attributes are capped at 64 KiB.
	handshakeLimit = 64 << 10
	// relayBuffer sizes the read buffer of each connection. Relayed bytes
	// are written straight out of it, so it is also the largest write.
	relayBuffer = 32 << 10
	// statementLimit bounds the text kept of a retained statement.
	statementLimit = 4 << 10
	// changeUserLimit is enough of a COM_CHANGE_USER to read its user,
	// database and the connection attributes common clients send; it
	// bounds what is kept of each client packet when no statements are
	// retained.
	changeUserLimit = 1 << 10
	// errWriteTimeout bounds sending the client an ERR before hanging up.
	errWriteTimeout = time.Second
	// killTimeout bounds the whole side connection that kills a backend
	// thread: connect, log in, KILL.
	killTimeout = 5 * time.Second
)

// clearedCaps are hidden from clients: Portico does not yet terminate TLS or
// speak the compressed protocol, and a client that negotiated either would
// send bytes the proxy could not follow. MySQL 8's query attributes would
// put parameters before the text of every COM_QUERY, which the statement
// history would then show as the statement.
const clearedCaps = mysqlwire.ClientSSL | mysqlwire.ClientCompress | mysqlwire.ClientQueryAttributes

// Registry is what the proxy needs from the session registry.
type Registry interface {
	Open(core.Session) *core.Handle
	// Get finds the session a client's KILL names by its Portico id.
	Get(core.SessionID) (core.Session, error)
}

var _ Registry = (*core.Registry)(nil)

// Config holds a Proxy's dependencies.
type Config struct {
	Registry       Registry
	Topology       *core.Topology
	Logger         *slog.Logger
	ConnectTimeout time.Duration
	AuthTimeout    time.Duration
}

// Proxy serves the listeners of one topology.
type Proxy struct {
	reg            Registry
	topo           *core.Topology
	log            *slog.Logger
	connectTimeout time.Duration
	authTimeout    time.Duration
}

// New returns a proxy for cfg.
func New(cfg Config) *Proxy {
	p := &Proxy{
		reg:            cfg.Registry,
		topo:           cfg.Topology,
		log:            cfg.Logger,
		connectTimeout: cfg.ConnectTimeout,
		authTimeout:    cfg.AuthTimeout,
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if p.connectTimeout <= 0 {
		p.connectTimeout = DefaultConnectTimeout
	}
	if p.authTimeout <= 0 {
		p.authTimeout = DefaultAuthTimeout
	}
	return p
}

// Serve accepts clients on ln for the listener's service until ctx is done.
// It then closes ln and every session it started, and returns once they have
// all ended.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener, l core.Listener) error {
	svc, err := p.topo.Service(l.Service)
	if err != nil {
		return fmt.Errorf("proxy: listener %s: %w", l.Name, err)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("proxy: accept on %s: %w", l.Name, err)
		}
		wg.Go(func() { p.serveSession(ctx, conn, svc) })
	}
}

// session is one client connection and its backend.
type session struct {
	p      *Proxy
	h      *core.Handle
	svc    core.Service
	client net.Conn
	log    *slog.Logger
	// fromClient buffers the client connection for the handshake and the
	// relay alike, so bytes a client sends early are never lost.
	fromClient *bufio.Reader
	// toClient counts what is written to the client.
	toClient io.Writer
	// captureLimit is how much of each client packet is kept.
	captureLimit int
	// server is the backend server's name, once connected, and user the
	// client's, once it has said.
	server, user string
	// threadID is the backend's connection id, once it has greeted.
	threadID uint32

	mu      sync.Mutex // guards the fields below; shutdown and kill close from other goroutines
	backend net.Conn
	closed  bool
	// authenticated is set once the backend accepted the login: from then
	// on a kill must also KILL the backend thread, which closing the socket
	// does not stop while it runs a statement.
	authenticated bool
	// killing is set once the backend thread's KILL has been started, and
	// ended once serveSession no longer waits for it.
	killing, ended bool
	kills          sync.WaitGroup
}

func (p *Proxy) serveSession(ctx context.Context, client net.Conn, svc core.Service) {
	host, port := remoteAddr(client.RemoteAddr())
	captureLimit := changeUserLimit
	if svc.RetainLastStatements > 0 {
		// The command byte, the text, and one byte more to tell a text
		// of statementLimit bytes from a longer one, which is cut.
		captureLimit = max(captureLimit, 1+statementLimit+1)
	}
	h := p.reg.Open(core.Session{
		Service: svc.Name, Remote: host, Port: port,
		Memory: core.Memory{ClientBuffer: relayBuffer},
	})
	var s *session
	// Deferred first so it runs last: the session leaves the registry at
	// once, and only then waits for the side connection killing its
	// backend thread, which is bounded by killTimeout.
	defer func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
		s.kills.Wait()
	}()
	defer h.Close()
	defer client.Close()
	h.RetainStatements(svc.RetainLastStatements)
	s = &session{
		p: p, h: h, svc: svc, client: client,
		log:          slog.New(&sessionHandler{inner: p.log.Handler(), h: h}).With("session", h.ID(), "service", svc.Name),
		fromClient:   bufio.NewReaderSize(&ioCounter{r: client, h: h, client: true}, relayBuffer),
		toClient:     &clientWriter{w: client, h: h},
		captureLimit: captureLimit,
	}
	// An operator's kill closes both connections; the relay then ends and
	// the deferred Close removes the session. It also kills the backend
	// thread, which would otherwise finish the statement it is running.
	h.OnKill(func() { s.kill(ctx) })
	// Shutting down must not wait for idle clients.
	stop := context.AfterFunc(ctx, func() { s.closeAll() })
	defer stop()
	if err := s.run(ctx, svc); err != nil {
		s.log.Log(ctx, LevelNotice, "session ended", "err", err)
	} else {
		s.log.Info("session ended")
	}
}

func (s *session) closeAll() {
	s.client.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.backend != nil {
		s.backend.Close()
	}
}

// kill ends the session for an operator: it closes both connections and, if
// the backend had accepted the login, runs KILL CONNECTION for its thread on
// a side connection with the service's credentials, as MaxScale does. The
// side connection runs in its own goroutine so that the registry and the
// HTTP handler calling Kill never wait for a backend.
func (s *session) kill(ctx context.Context) {
	s.mu.Lock()
	start := s.authenticated && !s.killing && !s.ended
	if start {
		s.killing = true
		s.kills.Add(1)
	}
	s.mu.Unlock()
	s.closeAll()
	if !start {
		return
	}
	log := s.log.With("server", s.server, "thread_id", s.threadID)
	if s.svc.User == "" {
		s.kills.Done()
		log.Warn("the backend thread could not be killed: service has no user and password; " +
			"its connection was closed, but a running statement continues until it ends")
		return
	}
	go func() {
		defer s.kills.Done()
		switch err := s.p.killThread(ctx, s.svc, s.server, s.threadID); {
		case err == nil:
			log.Log(ctx, LevelNotice, "backend thread killed")
		case isNoSuchThread(err):
			log.Debug("backend thread already gone")
		default:
			log.Warn("the backend thread could not be killed", "err", err)
		}
	}()
}

// killThread runs KILL CONNECTION threadID on a new connection to server,
// logged in as svc's user, within killTimeout.
func (p *Proxy) killThread(ctx context.Context, svc core.Service, server string, threadID uint32) error {
	ctx, cancel := context.WithTimeout(ctx, killTimeout)
	defer cancel()
	srv, err := p.topo.Server(server)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)))
	if err != nil {
		return err
	}
	defer conn.Close()
	// Shutting down must not wait for a stalled server.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := mysqlwire.ClientHandshake(ctx, conn, svc.User, svc.Password); err != nil {
		return err
	}
	if err := mysqlwire.SimpleQuery(conn, "KILL CONNECTION "+strconv.FormatUint(uint64(threadID), 10)); err != nil {
		return err
	}
	// Best effort: say goodbye so the server does not log an aborted
	// connection.
	_ = mysqlwire.WritePacket(conn, 0, []byte{mysqlwire.ComQuit})
	return nil
}

func isNoSuchThread(err error) bool {
	var ep mysqlwire.ErrorPacket
	return errors.As(err, &ep) && ep.Code == mysqlwire.ERNoSuchThread
}

// remoteAddr splits a client address into host and port; the port is 0 if
// the address has none.
func remoteAddr(a net.Addr) (string, int) {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String(), ta.Port
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), 0
	}
	n, _ := strconv.Atoi(port)
	return host, n
}

// wireError is a failure the client must hear about as an ERR packet.
type wireError struct {
	errno    uint16
	sqlState string
	msg      string
	err      error
}

func (e *wireError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *wireError) Unwrap() error { return e.err }

func (s *session) run(ctx context.Context, svc core.Service) error {
	clientSeq, err := s.handshake(ctx, svc)
	if err != nil {
		var we *wireError
		if errors.As(err, &we) {
			// Best effort: the client may already be gone. The handshake
			// deadline may be what failed, so the ERR gets its own.
			_ = s.client.SetWriteDeadline(time.Now().Add(errWriteTimeout))
			_ = s.writeClient(clientSeq, mysqlwire.ErrPacket(we.errno, we.sqlState, we.msg))
		}
		return err
	}
	return nil
}

// handshake connects to a backend and relays the greeting and the client's
// handshake response, then relays authentication until the backend accepts
// or refuses. It returns the sequence id an ERR to the client must carry.
func (s *session) handshake(ctx context.Context, svc core.Service) (byte, error) {
	backend, server, err := s.p.dial(ctx, svc)
	if err != nil {
		return 0, &wireError{errno: mysqlwire.CRConnHostError, sqlState: mysqlwire.SSUnknownSQLState,
			msg: "Portico could not connect to any server of service '" + svc.Name + "'", err: err}
	}
	s.mu.Lock()
	s.backend = backend
	closed := s.closed
	s.mu.Unlock()
	defer backend.Close()
	if closed {
		// closeAll ran while we dialled and could not close backend; a
		// silent server would otherwise hold the session until the timeout.
		return 0, errors.New("session closed while connecting")
	}
	deadline := time.Now().Add(s.p.authTimeout)
	_ = backend.SetDeadline(deadline)
	_ = s.client.SetDeadline(deadline)

	fromBackend := bufio.NewReaderSize(&ioCounter{r: backend, h: s.h}, relayBuffer)
	s.server = server
	seq, greeting, err := mysqlwire.ReadPacket(fromBackend, handshakeLimit)
	if err != nil {
		return 0, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Lost connection to server '" + server + "' during handshake", err: err}
	}
	if len(greeting) > 0 && greeting[0] == mysqlwire.ErrHeader {
		// The server refused us outright (too many connections, host
		// blocked): its own words are the most useful answer.
		_ = s.writeClient(seq, greeting)
		return 0, fmt.Errorf("server %s refused the connection", server)
	}
	rewritten, threadID, err := mysqlwire.RewriteGreeting(greeting, uint32(s.h.ID()), clearedCaps)
	if err != nil {
		return 0, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Bad handshake from server '" + server + "'", err: err}
	}
	// RewriteGreeting has parsed it already, so this cannot fail.
	g, _ := mysqlwire.ParseGreeting(greeting)
	s.threadID = threadID
	s.h.Update(func(sess *core.Session) {
		sess.Backends = []core.BackendConn{{Server: server, ThreadID: threadID}}
		sess.Memory.BackendBuffer = relayBuffer
	})
	if err := s.writeClient(seq, rewritten); err != nil {
		return 0, fmt.Errorf("write greeting: %w", err)
	}

	seq, resp, err := mysqlwire.ReadPacket(s.fromClient, handshakeLimit)
	if err != nil {
		if errors.Is(err, mysqlwire.ErrPacketTooLarge) {
			return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
				msg: "Bad handshake: the handshake response is larger than " + strconv.Itoa(handshakeLimit) + " bytes", err: err}
		}
		return seq + 1, fmt.Errorf("read handshake response: %w", err)
	}
	s.h.CountIn(0, 1)
	if mysqlwire.IsSSLRequest(resp) {
		return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Bad handshake: this listener does not offer TLS", err: errors.New("client sent SSLRequest")}
	}
	hr, err := mysqlwire.ParseHandshakeResponse(resp)
	if err != nil {
		return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Bad handshake", err: err}
	}
	s.user = hr.User
	s.h.Update(func(sess *core.Session) {
		sess.User = hr.User
		sess.Database = hr.Database
		sess.Attributes = hr.Attributes
		// The relay's packet scanners, made next.
		sess.Memory.Capture = s.captureLimit + mysqlwire.TrackerPrefix
	})
	if err := mysqlwire.WritePacket(backend, seq, resp); err != nil {
		return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Lost connection to server '" + server + "' during handshake", err: err}
	}
	s.h.Touch(time.Now())
	return 0, s.relay(fromBackend, newConnCaps(g, hr))
}

// writeClient sends the client one packet the proxy itself framed.
func (s *session) writeClient(seq byte, payload []byte) error {
	if err := mysqlwire.WritePacket(s.toClient, seq, payload); err != nil {
		return err
	}
	s.h.CountOut(0, 1)
	return nil
}

// relayAuth forwards backend packets until the backend's OK or ERR ends
// authentication. Auth-switch and more-data packets pass through untouched.
func (s *session) relayAuth(fromBackend *bufio.Reader) error {
	for {
		seq, pkt, err := mysqlwire.ReadPacket(fromBackend, mysqlwire.MaxPacketSize)
		if err != nil {
			return fmt.Errorf("read auth reply: %w", err)
		}
		if err := s.writeClient(seq, pkt); err != nil {
			return fmt.Errorf("write auth reply: %w", err)
		}
		if len(pkt) == 0 {
			continue
		}
		switch pkt[0] {
		case mysqlwire.OKHeader:
			// Written before the lock, s.server and s.threadID are safe
			// for kill to read once it sees authenticated.
			s.mu.Lock()
			s.authenticated = true
			s.mu.Unlock()
			s.h.Update(func(sess *core.Session) { sess.State = core.StateReady })
			_ = s.client.SetDeadline(time.Time{})
			_ = s.backend.SetDeadline(time.Time{})
			s.log.Info("session started", "user", s.user, "remote", s.client.RemoteAddr().String(), "server", s.server)
			return nil
		case mysqlwire.ErrHeader:
			e, _ := mysqlwire.ParseErrPacket(pkt)
			return fmt.Errorf("authentication refused: %d %s", e.Code, e.Message)
		}
	}
}

func (p *Proxy) dial(ctx context.Context, svc core.Service) (net.Conn, string, error) {
	d := net.Dialer{Timeout: p.connectTimeout}
	var errs []error
	for _, name := range svc.Servers {
		srv, err := p.topo.Server(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)))
		if err == nil {
			return conn, name, nil
		}
		errs = append(errs, fmt.Errorf("server %s: %w", name, err))
	}
	return nil, "", errors.Join(errs...)
}

func isClosed(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
