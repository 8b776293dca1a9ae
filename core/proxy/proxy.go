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
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
)

// Defaults bound how long a session may sit in the handshake, so a stalled
// backend or a silent client cannot hold a session open forever. The
// connect timeout bounds each server tried, from connecting to its
// greeting; the auth timeout bounds the whole login, every try included.
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

// clearedCaps are hidden from clients: Portico does not speak the
// compressed protocol, and a client that negotiated it would send bytes the
// proxy could not follow. MySQL 8's query attributes would put parameters
// before the text of every COM_QUERY, which the statement history would
// then show as the statement. ClientSSL is hidden too unless the listener
// terminates TLS.
const clearedCaps = mysqlwire.ClientCompress | mysqlwire.ClientQueryAttributes

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
	// NoEventLoop relays every session on two goroutines, as on systems
	// other than Linux and for TLS, instead of on event loops: for
	// comparing the two.
	NoEventLoop bool
	// Loops is how many event loops relay sessions (MaxScale's threads).
	// Zero is DefaultLoops, one per CPU, each pinned to its CPU. A loop
	// holds a processor (GOMAXPROCS) while it waits if the program has
	// more processors than loops; see epollWait.
	Loops int
	// TLS is what LoadTLS loaded for Topology; nil if no listener or
	// server has ssl.
	TLS *TLS
	// States are the servers' states as monitors found them; the router
	// skips servers a monitor found down and honours router_options. Nil
	// is a store of its own, which knows only what the proxy sees.
	States *core.ServerStates
}

// Proxy serves the listeners of one topology.
type Proxy struct {
	reg            Registry
	topo           *core.Topology
	states         *core.ServerStates
	log            *slog.Logger
	connectTimeout time.Duration
	authTimeout    time.Duration
	tls            TLS
	loops          *loopGroup
	// readers are the buffered readers of sessions' handshakes, and of
	// the relay where no event loop serves it.
	readers sync.Pool
	// conns counts the sessions connected to each server, by name, for
	// routing to the least busy. The map is made once; only the counters
	// change.
	conns map[string]*atomic.Int64
}

// New returns a proxy for cfg.
func New(cfg Config) *Proxy {
	p := &Proxy{
		reg:            cfg.Registry,
		topo:           cfg.Topology,
		states:         cfg.States,
		log:            cfg.Logger,
		connectTimeout: cfg.ConnectTimeout,
		authTimeout:    cfg.AuthTimeout,
		conns:          map[string]*atomic.Int64{},
	}
	if p.states == nil {
		p.states = core.NewServerStates()
	}
	for _, srv := range p.topo.Servers {
		p.conns[srv.Name] = new(atomic.Int64)
	}
	if !cfg.NoEventLoop {
		n := cfg.Loops
		if n <= 0 {
			n = DefaultLoops()
		}
		p.loops = newLoopGroup(n)
	}
	if cfg.TLS != nil {
		p.tls = *cfg.TLS
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

// Serve accepts clients on ln for the listener's service until ctx is done
// or ln is closed. Closing ln is how a caller drains: no client is accepted
// any more, and Serve returns nil once the sessions it started have ended
// on their own (or been killed through the registry). ctx being done closes
// ln and every session at once; Serve then returns once they have ended.
//
// Running out of file descriptors or buffers does not stop the listener:
// like net/http, Serve logs the error and retries after a pause that grows
// from acceptMinDelay to acceptMaxDelay while the errors last.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener, l core.Listener) error {
	svc, err := p.topo.Service(l.Service)
	if err != nil {
		return fmt.Errorf("proxy: listener %s: %w", l.Name, err)
	}
	tlsCfg := p.tls.Listeners[l.Name]
	if l.SSL && tlsCfg == nil {
		return fmt.Errorf("proxy: listener %s has ssl=true but its certificate was not loaded (proxy.LoadTLS)", l.Name)
	}
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	if err := p.loops.start(); err != nil {
		p.log.Warn("relaying every session on goroutines: the event loops did not start", "err", err)
	} else {
		// Deferred before the wait, so it runs after it: the loops stop
		// once the sessions on them have ended.
		defer p.loops.stop()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if !isResourceError(err) {
				return fmt.Errorf("proxy: accept on %s: %w", l.Name, err)
			}
			delay = min(max(2*delay, acceptMinDelay), acceptMaxDelay)
			p.log.Warn("accept failed; retrying", "listener", l.Name, "err", err, "delay", delay)
			if !sleep(ctx, delay) {
				return nil
			}
			continue
		}
		delay = 0
		wg.Add(1)
		go p.serveSession(ctx, conn, svc, tlsCfg, wg.Done)
	}
}

// Accept errors that a busy process recovers from are retried after a
// pause, which gives sessions time to end and free what ran out.
const (
	acceptMinDelay = 5 * time.Millisecond
	acceptMaxDelay = time.Second
)

// isResourceError reports whether an accept failed for want of file
// descriptors, memory or buffers, or because a client gave up while
// queued: conditions that pass, unlike a listener that is broken.
func isResourceError(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// sleep waits for d, or less if ctx ends first, in which case it reports
// false.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// session is one client connection and its backend.
type session struct {
	p      *Proxy
	h      *core.Handle
	svc    core.Service
	client net.Conn
	log    *slog.Logger
	// listenerTLS is the listener's TLS, nil if it has none.
	listenerTLS *tls.Config
	// fromClient buffers the client connection for the handshake and the
	// relay alike, so bytes a client sends early are never lost. Once the
	// client has started TLS, it and toClient go over TLS. fromBackend
	// buffers the backend's. Both go back to the proxy's pool when an
	// event loop takes the session over.
	fromClient, fromBackend *bufio.Reader
	// toClient counts what is written to the client.
	toClient io.Writer
	// toBackend is the backend connection, or TLS over it. client and
	// backend stay the TCP connections under TLS: closing them is what ends
	// a session, and unlike closing a TLS connection it never waits to send
	// an alert.
	toBackend io.Writer
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
	// loop holds the connections once an event loop relays them.
	loop loopFDs
	// handingOff is set while the client side's pump is stopped for the
	// hand-over to an event loop, which is not the session ending.
	handingOff atomic.Bool
	// stopWatching stops closing the session when Serve's context ends,
	// and done tells Serve that the session has ended.
	stopWatching func() bool
	done         func()
}

// serveSession serves one client until its session ends, and then calls
// done. A session an event loop relays ends on the loop, which finishes it
// (s.finish): this goroutine returns as soon as the loop has it, so that an
// idle session holds no goroutine.
func (p *Proxy) serveSession(ctx context.Context, client net.Conn, svc core.Service, listenerTLS *tls.Config, done func()) {
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
	h.RetainStatements(svc.RetainLastStatements)
	s := &session{
		p: p, h: h, svc: svc, client: client, listenerTLS: listenerTLS,
		log:          slog.New(&sessionHandler{inner: p.log.Handler(), h: h}).With("session", h.ID(), "service", svc.Name),
		fromClient:   p.getReader(&ioCounter{r: client, h: h, client: true}),
		toClient:     &clientWriter{w: client, h: h},
		captureLimit: captureLimit,
		done:         done,
	}
	// An operator's kill closes both connections; the relay then ends and
	// finish removes the session. It also kills the backend thread, which
	// would otherwise finish the statement it is running.
	h.OnKill(func() { s.kill(ctx) })
	// Shutting down must not wait for idle clients.
	s.stopWatching = context.AfterFunc(ctx, func() { s.closeAll() })
	err := s.run(ctx, svc)
	if errors.Is(err, errOnLoop) {
		return
	}
	s.finish(err)
}

// errOnLoop tells serveSession that an event loop has the session and will
// finish it.
var errOnLoop = errors.New("relayed on an event loop")

// finish ends a session whose connections have closed, or are closing: it
// leaves the registry at once, and only then waits for the side
// connection killing its backend thread, which is bounded by killTimeout.
func (s *session) finish(err error) {
	s.stopWatching()
	if err != nil {
		s.log.Log(context.Background(), LevelNotice, "session ended", "err", err)
	} else {
		s.log.Info("session ended")
	}
	s.releaseReaders()
	s.closeAll()
	if s.server != "" {
		s.p.conns[s.server].Add(-1)
	}
	s.h.Close()
	s.mu.Lock()
	s.ended = true
	s.mu.Unlock()
	s.kills.Wait()
	s.done()
}

func (s *session) closeAll() {
	s.client.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.backend != nil {
		s.backend.Close()
	}
	s.shutdownLoopLocked()
}

func (p *Proxy) getReader(r io.Reader) *bufio.Reader {
	if br, ok := p.readers.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, relayBuffer)
}

// releaseReaders gives the session's buffered readers back to the proxy.
// Nothing may read them afterwards.
func (s *session) releaseReaders() {
	for _, r := range []**bufio.Reader{&s.fromClient, &s.fromBackend} {
		if *r != nil {
			(*r).Reset(nil)
			s.p.readers.Put(*r)
			*r = nil
		}
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
	// Over TLS to a server with ssl, as sessions are: its accounts may
	// require it.
	var rw io.ReadWriter = conn
	if cfg := p.tls.Servers[server]; cfg != nil {
		if rw, err = mysqlwire.ClientHandshakeTLS(ctx, conn, cfg, svc.User, svc.Password); err != nil {
			return err
		}
	} else if err := mysqlwire.ClientHandshake(ctx, conn, svc.User, svc.Password); err != nil {
		return err
	}
	if err := mysqlwire.SimpleQuery(rw, "KILL CONNECTION "+strconv.FormatUint(uint64(threadID), 10)); err != nil {
		return err
	}
	// Best effort: say goodbye so the server does not log an aborted
	// connection.
	_ = mysqlwire.WritePacket(rw, 0, []byte{mysqlwire.ComQuit})
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
// or refuses. Either side may be TLS: the client's if the listener has ssl
// and the client asks for it (which a listener with ssl requires), the
// backend's if the server has ssl. It returns the sequence id an ERR to the
// client must carry.
func (s *session) handshake(ctx context.Context, svc core.Service) (byte, error) {
	deadline := time.Now().Add(s.p.authTimeout)
	b, err := s.connect(ctx, svc, deadline)
	if err != nil {
		var refused *refusal
		if errors.As(err, &refused) {
			// The server refused us outright (too many connections, host
			// blocked): its own words are the most useful answer.
			_ = s.client.SetWriteDeadline(time.Now().Add(errWriteTimeout))
			_ = s.writeClient(refused.seq, refused.payload)
		}
		return 0, err
	}
	backend, server, seq, greeting := b.conn, b.server, b.seq, b.greeting
	// finish gives the server's place back; the session may outlive this
	// call on an event loop.
	s.server = server
	s.toBackend = backend
	serverTLS := s.p.tls.Servers[server]
	_ = backend.SetDeadline(deadline)
	_ = s.client.SetDeadline(deadline)

	fromBackend := s.p.getReader(&ioCounter{r: backend, h: s.h})
	s.fromBackend = fromBackend
	// The listener decides whether TLS is offered, whatever the server
	// offers: Portico terminates it.
	cleared, offered := clearedCaps|mysqlwire.ClientSSL, uint32(0)
	if s.listenerTLS != nil {
		cleared, offered = clearedCaps, mysqlwire.ClientSSL
	}
	rewritten, threadID, err := mysqlwire.RewriteGreetingCaps(greeting, uint32(s.h.ID()), cleared, offered)
	if err != nil {
		return 0, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Bad handshake from server '" + server + "'", err: err}
	}
	// RewriteGreetingCaps has parsed it already, so this cannot fail.
	g, _ := mysqlwire.ParseGreeting(greeting)
	if serverTLS != nil && g.Capabilities&mysqlwire.ClientSSL == 0 {
		return 0, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Server '" + server + "' does not offer TLS, which its ssl=true requires",
			err: errors.New("the server's greeting lacks CLIENT_SSL")}
	}
	s.threadID = threadID
	s.h.Update(func(sess *core.Session) {
		sess.Backends = []core.BackendConn{{Server: server, ThreadID: threadID}}
		sess.Memory.BackendBuffer = relayBuffer
	})
	if err := s.writeClient(seq, rewritten); err != nil {
		return 0, fmt.Errorf("write greeting: %w", err)
	}

	seq, resp, err := s.readHandshakeResponse()
	if err != nil {
		return seq + 1, err
	}
	switch {
	case mysqlwire.IsSSLRequest(resp) && s.listenerTLS == nil:
		return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Bad handshake: this listener does not offer TLS", err: errors.New("client sent SSLRequest")}
	case mysqlwire.IsSSLRequest(resp):
		if err := s.startClientTLS(ctx); err != nil {
			// Whatever the client sent was not TLS Portico could answer;
			// an ERR in plain text would not reach it either.
			return seq + 1, err
		}
		if seq, resp, err = s.readHandshakeResponse(); err != nil {
			return seq + 1, err
		}
		if mysqlwire.IsSSLRequest(resp) {
			return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
				msg: "Bad handshake: a second SSLRequest", err: errors.New("client sent SSLRequest inside TLS")}
		}
	case s.listenerTLS != nil:
		// As MaxScale answers a client that skips TLS on a listener with ssl.
		return seq + 1, &wireError{errno: mysqlwire.ERAccessDenied, sqlState: mysqlwire.SSAccessDenied,
			msg: "Access without SSL denied", err: errors.New("client did not ask for TLS")}
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
	// The backend numbers the handshake response 1, or 2 after an
	// SSLRequest of Portico's; the client numbered it the same way for its
	// own side. Where the two differ, authentication packets are
	// renumbered on their way (see relayAuth).
	backendSeq := byte(1)
	if serverTLS != nil {
		if fromBackend, err = s.startBackendTLS(ctx, serverTLS, resp, fromBackend); err != nil {
			return seq + 1, err
		}
		backendSeq = 2
	}
	mysqlwire.SetClientSSL(resp, serverTLS != nil)
	if err := mysqlwire.WritePacket(s.toBackend, backendSeq, resp); err != nil {
		return seq + 1, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Lost connection to server '" + server + "' during handshake", err: err}
	}
	s.h.Touch(time.Now())
	s.fromBackend = fromBackend
	return 0, s.relay(newConnCaps(g, hr), backendSeq-seq)
}

// readHandshakeResponse reads the client's handshake response or
// SSLRequest.
func (s *session) readHandshakeResponse() (byte, []byte, error) {
	seq, resp, err := mysqlwire.ReadPacket(s.fromClient, handshakeLimit)
	if err != nil {
		if errors.Is(err, mysqlwire.ErrPacketTooLarge) {
			return seq, nil, &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
				msg: "Bad handshake: the handshake response is larger than " + strconv.Itoa(handshakeLimit) + " bytes", err: err}
		}
		return seq, nil, fmt.Errorf("read handshake response: %w", err)
	}
	s.h.CountIn(0, 1)
	return seq, resp, nil
}

// startClientTLS answers the client's SSLRequest with the TLS handshake;
// from then on the client is read and written over TLS.
func (s *session) startClientTLS(ctx context.Context) error {
	early, _ := s.fromClient.Peek(s.fromClient.Buffered())
	conn := tls.Server(&earlyConn{Conn: s.client, early: bytes.Clone(early)}, s.listenerTLS)
	if err := conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("client TLS handshake: %w", err)
	}
	s.fromClient = bufio.NewReaderSize(&ioCounter{r: conn, h: s.h, client: true}, relayBuffer)
	s.toClient = &clientWriter{w: conn, h: s.h}
	cipher := cipherName(conn)
	s.h.Update(func(sess *core.Session) { sess.ClientCipher = cipher })
	return nil
}

// startBackendTLS sends the backend an SSLRequest made from the client's
// handshake response resp and starts TLS. From then on the backend is read
// from the returned reader and written over TLS.
func (s *session) startBackendTLS(ctx context.Context, cfg *tls.Config, resp []byte, fromBackend *bufio.Reader) (*bufio.Reader, error) {
	lost := func(err error) error {
		return &wireError{errno: mysqlwire.ERHandshakeError, sqlState: mysqlwire.SSNetError,
			msg: "Could not start TLS with server '" + s.server + "'", err: err}
	}
	if fromBackend.Buffered() > 0 {
		// A server says nothing between its greeting and the SSLRequest;
		// bytes here would be lost under TLS.
		return nil, lost(errors.New("the server sent more than its greeting"))
	}
	if err := mysqlwire.WritePacket(s.backend, 1, mysqlwire.SSLRequest(resp)); err != nil {
		return nil, lost(err)
	}
	conn := tls.Client(s.backend, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, lost(err)
	}
	s.toBackend = conn
	cipher := cipherName(conn)
	s.h.Update(func(sess *core.Session) {
		for i := range sess.Backends {
			if sess.Backends[i].Server == s.server && sess.Backends[i].ThreadID == s.threadID {
				sess.Backends[i].Cipher = cipher
			}
		}
	})
	return bufio.NewReaderSize(&ioCounter{r: conn, h: s.h}, relayBuffer), nil
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
// authentication. Auth-switch and more-data packets pass through untouched
// but for their sequence ids, which are shift more on the backend's side
// when only one side speaks TLS: the SSLRequest took a number there.
func (s *session) relayAuth(fromBackend *bufio.Reader, shift byte) error {
	for {
		seq, pkt, err := mysqlwire.ReadPacket(fromBackend, mysqlwire.MaxPacketSize)
		if err != nil {
			return fmt.Errorf("read auth reply: %w", err)
		}
		if err := s.writeClient(seq-shift, pkt); err != nil {
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
			s.h.Update(func(sess *core.Session) {
				// The client has its OK already, and an operator may
				// have killed the session since.
				if sess.State != core.StateStopping {
					sess.State = core.StateReady
				}
			})
			_ = s.client.SetDeadline(time.Time{})
			_ = s.backend.SetDeadline(time.Time{})
			s.log.Info("session started", "user", s.user, "remote", s.client.RemoteAddr().String(), "server", s.server)
			return nil
		case mysqlwire.ErrHeader:
			s.h.AuthFailed()
			e, _ := mysqlwire.ParseErrPacket(pkt)
			return fmt.Errorf("authentication refused: %d %s", e.Code, e.Message)
		}
	}
}

func isClosed(err error) bool {
	return err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
