package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
)

// connCaps are the capabilities client and server agreed on, which decide
// how replies are framed.
type connCaps struct {
	client  uint32 // the client's own, for parsing its commands
	caps    uint32 // both sides'
	mariadb uint32 // MariaDB's extended field, both sides'
}

func newConnCaps(g mysqlwire.Greeting, hr mysqlwire.HandshakeResponse) connCaps {
	c := connCaps{client: hr.Capabilities, caps: g.Capabilities & hr.Capabilities}
	if g.Capabilities&mysqlwire.ClientMySQL == 0 && hr.Capabilities&mysqlwire.ClientMySQL == 0 {
		c.mariadb = g.MariaDBCapabilities & hr.MariaDBCapabilities
	}
	return c
}

// relay forwards both directions at once until either side ends. The
// client side runs from the start, so authentication exchanges (auth
// switch, more data) pass through; the backend side reads packet by packet
// until authentication ends and then relays chunks like the client side.
// shift is how much larger the backend's sequence ids are than the
// client's until authentication ends.
func (s *session) relay(caps connCaps, shift byte) error {
	q := &inFlight{h: s.h}
	up := &clientSide{s: s, q: q, caps: caps.client, retain: s.svc.RetainLastStatements > 0}
	up.scan = mysqlwire.NewScanner(s.captureLimit, up.packet)
	down := &backendSide{s: s, q: q, tracker: mysqlwire.NewTracker(caps.caps, caps.mariadb)}
	down.scan = mysqlwire.NewScanner(mysqlwire.TrackerPrefix, down.packet)
	down.scan.SetSkip(down.tracker.SkipRows)

	upstream := make(chan error, 1)
	go func() {
		var err error
		if shift != 0 {
			err = s.relayClientAuth(shift)
		}
		if err == nil {
			err = pump(s.fromClient, s.toBackend, up.scan, up.flush, &up.edits)
		}
		if errors.Is(err, io.EOF) && s.closeBackendWrite() {
			// The client has shut its side, and may still read what it
			// asked for: the backend hears the same, answers, and hangs
			// up, which ends the session. A client that is gone altogether
			// makes that answer fail just as well.
			upstream <- nil
			return
		}
		// Either side ending ends the session.
		if !s.handingOff.Load() {
			s.closeAll()
		}
		upstream <- err
	}()
	err := s.relayAuth(s.fromBackend, shift)
	if err == nil {
		if l := s.p.loops.pick(incomingCPU(s.client)); l != nil {
			if handled, err := s.relayOnLoop(l, up, down, upstream); handled {
				return err
			}
		}
		err = pump(s.fromBackend, s.toClient, down.scan, down.flush, nil)
	}
	s.closeAll()
	upErr := <-upstream
	if err == nil || isClosed(err) {
		err = upErr
	}
	if isClosed(err) {
		return nil
	}
	return err
}

// relayClientAuth forwards the client's authentication packets one by one,
// each renumbered by shift, until the first command. Commands, and only
// commands, have sequence id 0; authentication packets follow the
// handshake response, never 0. The command is left for pump.
func (s *session) relayClientAuth(shift byte) error {
	for {
		hdr, err := s.fromClient.Peek(packetHeader)
		if err != nil {
			return err
		}
		if hdr[3] == 0 {
			return nil
		}
		seq, pkt, err := mysqlwire.ReadPacket(s.fromClient, handshakeLimit)
		if err != nil {
			return fmt.Errorf("read auth response: %w", err)
		}
		s.h.CountIn(0, 1)
		if err := mysqlwire.WritePacket(s.toBackend, seq+shift, pkt); err != nil {
			return fmt.Errorf("write auth response: %w", err)
		}
	}
}

// closeBackendWrite passes a client's half-close on to the backend. It
// reports false if it could not, because the session is closing or the
// backend connection cannot half-close.
func (s *session) closeBackendWrite() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	tc, ok := s.backend.(*net.TCPConn)
	return ok && !s.closed && tc.CloseWrite() == nil
}

// pump forwards whatever r has read to w, showing each chunk to sc first,
// until reading or writing fails. Chunks are written straight out of r's
// buffer: no copy, and one write per read, as io.Copy would do. Packets
// that sc's callback put in eds are replaced as the chunk is written; eds
// is nil for a direction that never replaces any.
func pump(r *bufio.Reader, w io.Writer, sc *mysqlwire.Scanner, flush func(), eds *[]edit) error {
	for {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				return err
			}
		}
		chunk, _ := r.Peek(r.Buffered())
		// Commands must be queued before the backend can see them, or
		// their replies could arrive first.
		sc.Feed(chunk)
		// Counted before the peer can see them, so a reader of the
		// session never sees a reply before the packets that caused it.
		flush()
		var err error
		if eds != nil && len(*eds) > 0 {
			err = writeEdited(w, chunk, *eds)
			clear(*eds)
			*eds = (*eds)[:0]
		} else {
			_, err = w.Write(chunk)
		}
		_, _ = r.Discard(len(chunk))
		if err != nil {
			return err
		}
	}
}

// edit replaces the n bytes at off in a chunk with packet.
type edit struct {
	off, n int
	packet []byte
}

// writeEdited writes chunk to w with eds, which are in order and do not
// overlap, applied.
func writeEdited(w io.Writer, chunk []byte, eds []edit) error {
	at := 0
	for _, e := range eds {
		if _, err := w.Write(chunk[at:e.off]); err != nil {
			return err
		}
		if _, err := w.Write(e.packet); err != nil {
			return err
		}
		at = e.off + e.n
	}
	_, err := w.Write(chunk[at:])
	return err
}

// inFlight is the queue of commands waiting for their replies, shared by
// the two directions: the client side adds a command before forwarding it,
// the backend side takes it off when its reply begins. Commands queue up
// when a client pipelines.
type inFlight struct {
	h *core.Handle
	// infile is set while the client sends a LOAD DATA LOCAL INFILE file:
	// its packets are data, whatever their sequence ids, until an empty one.
	infile atomic.Bool
	// stopped is set once replies can no longer be followed.
	stopped atomic.Bool

	mu    sync.Mutex
	ring  []pending
	head  int
	count int
}

// pending is a command waiting for its reply.
type pending struct {
	cmd      mysqlwire.Command
	received time.Time
	ticket   uint64 // in the statement history; 0 if not kept
	// changeUser is what a COM_CHANGE_USER asks for, nil for other
	// commands; it becomes the session's if the backend accepts it.
	changeUser *mysqlwire.ChangeUser
}

// maxInFlight bounds the queue. A client that pipelines without reading
// replies could otherwise make it grow with every few bytes it sends;
// past the bound the proxy stops following replies instead.
const maxInFlight = 4096

// push queues p and counts it in flight, in one step with stop, so a stop
// never leaves a command counted. It reports false if the queue is full,
// which stops it.
func (q *inFlight) push(p pending) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped.Load() {
		return true
	}
	if q.count == maxInFlight {
		q.stopLocked()
		return false
	}
	if q.count == len(q.ring) {
		grown := make([]pending, max(8, 2*len(q.ring)))
		for i := range q.count {
			grown[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.count)%len(q.ring)] = p
	q.count++
	q.h.InFlight(1)
	return true
}

func (q *inFlight) pop() (pending, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.count == 0 {
		return pending{}, false
	}
	p := q.ring[q.head]
	q.ring[q.head] = pending{}
	q.head = (q.head + 1) % len(q.ring)
	q.count--
	return p, true
}

// stop gives up following replies: nothing is queued or counted in flight
// any more.
func (q *inFlight) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.stopLocked()
}

func (q *inFlight) stopLocked() {
	q.stopped.Store(true)
	clear(q.ring)
	q.count = 0
	q.h.ClearInFlight()
}

// clientSide watches the client's packets on their way to the backend.
type clientSide struct {
	s      *session
	q      *inFlight
	scan   *mysqlwire.Scanner
	caps   uint32
	retain bool
	// edits are the packets of the chunk being scanned to forward
	// rewritten.
	edits []edit
}

func (c *clientSide) flush() { c.s.h.CountIn(0, c.scan.Packets()) }

// feed shows an event loop's chunk to the scanner and returns what to send
// the backend: the chunk, or a copy with the packets being replaced
// replaced.
func (c *clientSide) feed(chunk []byte) []byte {
	c.scan.Feed(chunk)
	c.flush()
	if len(c.edits) == 0 {
		return chunk
	}
	var b bytes.Buffer
	_ = writeEdited(&b, chunk, c.edits)
	clear(c.edits)
	c.edits = c.edits[:0]
	return b.Bytes()
}

func (c *clientSide) packet(p *mysqlwire.PacketInfo) {
	if !p.Ends() {
		return
	}
	if c.q.infile.Load() {
		if p.Len == 0 && !p.Cont {
			c.q.infile.Store(false)
		}
		return
	}
	// Only a logical packet with sequence id 0 starts a command; others
	// answer the server (authentication) or carry a file.
	if p.FirstSeq != 0 || len(p.Prefix) == 0 {
		return
	}
	h := c.s.h
	code := p.Prefix[0]
	if code == mysqlwire.ComProcessKill || code == mysqlwire.ComQuery && mysqlwire.HasKillPrefix(p.Prefix) {
		c.rewriteKill(p)
	}
	switch code {
	case mysqlwire.ComQuery, mysqlwire.ComStmtExecute, mysqlwire.ComStmtBulkExecute:
		h.CountQuery()
	}
	if !mysqlwire.ExpectsReply(code) || c.q.stopped.Load() {
		return
	}
	now := time.Now()
	pd := pending{cmd: mysqlwire.Command{Code: code, Seq: p.Seq}, received: now}
	switch code {
	case mysqlwire.ComQuery, mysqlwire.ComStmtPrepare:
		if c.retain {
			pd.ticket = h.StatementReceived(mysqlwire.CommandName(code), statementText(p.Prefix[1:]), now)
		}
	case mysqlwire.ComChangeUser:
		pd.changeUser = c.changeUser(p)
	}
	if !c.q.push(pd) {
		c.s.log.Log(context.Background(), LevelNotice, "stopped following replies; relaying goes on",
			"reason", "more than "+strconv.Itoa(maxInFlight)+" commands wait for their replies")
	}
}

// changeUser reads a COM_CHANGE_USER, or returns nil if it is malformed.
// Only the start of a packet longer than the capture is kept: its user and
// database come first and are read, its attributes are cut and dropped.
func (c *clientSide) changeUser(p *mysqlwire.PacketInfo) *mysqlwire.ChangeUser {
	caps := c.caps
	if p.Cont || len(p.Prefix) < p.Len {
		caps &^= mysqlwire.ClientPluginAuth | mysqlwire.ClientConnectAttrs
	}
	cu, err := mysqlwire.ParseChangeUser(p.Prefix, caps)
	if err != nil {
		c.s.log.Debug("COM_CHANGE_USER not understood; the session keeps its user", "err", err)
		return nil
	}
	return &cu
}

// rewriteKill puts the backend thread id of a Portico session in place of
// its Portico id in a KILL, since clients only see Portico ids (the
// greeting carries them) and the backend only knows its own. An id that is
// no Portico session's goes through unchanged: it may be a backend id from
// SHOW PROCESSLIST. Only a packet that lies whole in the chunk being relayed
// can be replaced; one split across reads goes through unchanged.
func (c *clientSide) rewriteKill(p *mysqlwire.PacketInfo) {
	if !p.Whole || p.Cont || len(p.Prefix) != p.Len {
		return
	}
	k, ok := mysqlwire.ParseKill(p.Prefix)
	if !ok || k.ID == 0 {
		return
	}
	target, err := c.s.p.reg.Get(core.SessionID(k.ID))
	if err != nil || len(target.Backends) == 0 || target.Backends[0].ThreadID == 0 {
		return
	}
	be := target.Backends[0]
	// Another server's thread id means nothing to this session's backend,
	// and could name an unrelated thread there.
	if be.Server != c.s.server {
		c.s.log.Log(context.Background(), LevelNotice, "KILL names a session on another server; forwarded unchanged",
			"target", k.ID, "target_server", be.Server)
		return
	}
	payload, ok := k.Rewrite(make([]byte, packetHeader, packetHeader+p.Len+10), p.Prefix, uint64(be.ThreadID))
	if !ok || len(payload)-packetHeader >= mysqlwire.MaxPacketSize {
		return
	}
	n := len(payload) - packetHeader
	payload[0], payload[1], payload[2], payload[3] = byte(n), byte(n>>8), byte(n>>16), p.Seq
	c.edits = append(c.edits, edit{off: p.Off, n: packetHeader + p.Len, packet: payload})
	c.s.log.Debug("KILL rewritten to the backend thread id", "target", k.ID, "thread_id", be.ThreadID)
}

// statementText keeps at most statementLimit bytes of a statement, cut at
// a character boundary when the text is UTF-8.
func statementText(b []byte) string {
	if len(b) > statementLimit {
		b = b[:statementLimit]
		// Only a character cut in half is dropped, so text in another
		// encoding loses at most three bytes more.
		for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
			if start := len(b) - i; utf8.RuneStart(b[start]) {
				if !utf8.FullRune(b[start:]) {
					b = b[:start]
				}
				break
			}
		}
	}
	return string(b)
}

// backendSide watches the backend's packets on their way to the client and
// ends each command's time in flight when its reply ends.
type backendSide struct {
	s       *session
	q       *inFlight
	scan    *mysqlwire.Scanner
	tracker *mysqlwire.Tracker
	cur     pending
}

func (b *backendSide) flush() { b.s.h.CountOut(0, b.scan.Packets()) }

// feed shows an event loop's chunk to the scanner; it goes to the client
// unchanged.
func (b *backendSide) feed(chunk []byte) []byte {
	b.scan.Feed(chunk)
	b.flush()
	return chunk
}

func (b *backendSide) packet(p *mysqlwire.PacketInfo) {
	if b.tracker.Lost() {
		return
	}
	if b.q.stopped.Load() {
		// The client side gave up (too many commands in flight).
		b.tracker.Lose()
		return
	}
	h := b.s.h
	if !b.tracker.Busy() {
		cur, ok := b.q.pop()
		if !ok {
			b.lose("the server sent a packet no command was waiting for", p)
			return
		}
		b.cur = cur
		if !b.tracker.Begin(cur.cmd) {
			b.lose("Portico cannot follow the reply to "+mysqlwire.CommandName(cur.cmd.Code), p)
			return
		}
	}
	switch b.tracker.Packet(p) {
	case mysqlwire.ReplyDone:
		h.InFlight(-1)
		switch b.cur.cmd.Code {
		case mysqlwire.ComQuery, mysqlwire.ComStmtExecute, mysqlwire.ComStmtBulkExecute:
			h.QueryDone(time.Since(b.cur.received))
		}
		if b.cur.changeUser != nil && b.tracker.Failed() {
			h.AuthFailed()
		}
		if b.cur.ticket != 0 {
			h.StatementCompleted(b.cur.ticket, b.s.server, time.Now())
		}
		if cu := b.cur.changeUser; cu != nil && !b.tracker.Failed() {
			b.s.user = cu.User
			h.Update(func(sess *core.Session) {
				sess.User, sess.Database, sess.Attributes = cu.User, cu.Database, cu.Attributes
			})
		}
		b.cur = pending{}
	case mysqlwire.ReplyLocalInfile:
		b.q.infile.Store(true)
	case mysqlwire.ReplyLost:
		b.lose("the reply to "+mysqlwire.CommandName(b.cur.cmd.Code)+" did not follow the protocol as Portico reads it", p)
	}
}

// lose stops following replies for the rest of the session. Relaying goes
// on; statements are no longer timed and the session no longer shows busy.
func (b *backendSide) lose(reason string, p *mysqlwire.PacketInfo) {
	b.tracker.Lose()
	b.q.stop()
	b.s.log.Log(context.Background(), LevelNotice, "stopped following replies; relaying goes on", "reason", reason,
		"seq", p.Seq, "len", p.Len)
}

// ioCounter records each read that returned data as the session's I/O.
type ioCounter struct {
	r      io.Reader
	h      *core.Handle
	client bool // bytes from the client count as its bytes in
}

func (c *ioCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		c.h.IO(time.Now())
		if c.client {
			c.h.CountIn(n, 0)
		}
	}
	return n, err
}

// clientWriter counts the bytes written to the client.
type clientWriter struct {
	w io.Writer
	h *core.Handle
}

func (c *clientWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.h.CountOut(n, 0)
	return n, err
}

// packetHeader is the size of a packet's header: 3 bytes of length, 1 of
// sequence id.
const packetHeader = 4
