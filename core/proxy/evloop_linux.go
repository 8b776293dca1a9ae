package proxy

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/portico-db/portico/core"
)

// Once a session has logged in, Linux relays it on an event loop instead of
// two pump goroutines: a few loops, each one goroutine waiting on its epoll
// fd, read whichever connection has bytes, show them to the session's
// scanners and write them to the other side, as HAProxy does. An idle
// session then holds no buffer and no goroutine, and a busy one costs a
// read and a write per chunk with no scheduler hand-offs between them.
//
// With one loop per CPU, each loop's thread is pinned to its CPU and a
// session goes to the loop of the CPU its client's packets arrive on: the
// client's writes then wake a loop on their own CPU, and the scheduler
// keeps the session's database thread there too, as it does when the
// client talks to the database directly. Spread over the CPUs in turn
// instead, most hand-offs cross CPUs, and each costs an interrupt that
// wakes an idle one: measured here on 2 CPUs with sysbench, placing by CPU
// halved the rescheduling interrupts per query, and served 1.16 times the
// queries of HAProxy where one unpinned loop served 1.06 times.
//
// That needs a client whose thread stays on a CPU, as a thread per
// connection does. A client that hops, as a goroutine does, would have
// every hop cross CPUs to a pinned loop: measured, its round trips took
// 1.24 times as long. So the loops check where a client's packets arrive
// now and then, and move a session whose client has left its loop's CPU
// to one more loop, pinned to none, which the scheduler runs where it is
// woken; and back to a pinned loop once the client settles on a CPU.

// readEvents are what a connection being read is watched for: bytes, and
// its peer shutting its side (which a read then sees as the end).
const readEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP

// loopBuffer sizes each loop's read buffer: the largest chunk relayed in
// one read and write.
const loopBuffer = 256 << 10

// loopGroup is the loops of one Proxy. Sessions are spread over them in
// turn. A nil *loopGroup runs none.
type loopGroup struct {
	n int // loops to run
	// cpus are the CPUs to pin the loops to, one each, if there is one
	// loop per CPU the process may run on and more than one CPU; else nil.
	// A group that pins also runs a loop pinned to none, the last.
	cpus  []int
	mu    sync.Mutex
	users int // running Serve calls; the loops run while there are any
	loops []*loop
	next  atomic.Uint32
}

func newLoopGroup(n int) *loopGroup {
	g := &loopGroup{n: n}
	if cpus := allowedCPUs(); n > 1 && len(cpus) == n {
		g.cpus = cpus
		g.n++
	}
	return g
}

// DefaultLoops is the number of loops a Config with no Loops asks for: one
// per CPU the process may run on.
func DefaultLoops() int { return runtime.NumCPU() }

// LoopThreads is the number of threads n loops take: one each, and one
// more for a loop pinned to none when the loops are pinned.
func LoopThreads(n int) int { return newLoopGroup(n).n }

// start starts the loops for one more Serve call.
func (g *loopGroup) start() error {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users++
	if g.users > 1 {
		return nil
	}
	// A loop that holds its processor while it waits needs the program
	// to have another for everything else.
	holdP := runtime.GOMAXPROCS(0) > g.n
	loops := make([]*loop, 0, g.n)
	for i := range g.n {
		l, err := newLoop()
		if err != nil {
			for _, l := range loops {
				l.close()
			}
			g.users--
			return err
		}
		l.cpu, l.holdP = -1, holdP
		if i < len(g.cpus) {
			l.cpu = g.cpus[i]
		}
		loops = append(loops, l)
	}
	for _, l := range loops {
		l.siblings, l.pins = loops, g.cpus != nil
		go l.run()
	}
	g.loops = loops
	return nil
}

// stop ends the loops once the last Serve call ended; by then every session
// has ended, so no loop has any left.
func (g *loopGroup) stop() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users--
	if g.users == 0 {
		g.stopLocked()
	}
}

func (g *loopGroup) stopLocked() {
	for _, l := range g.loops {
		l.stop()
	}
	g.loops = nil
}

// running reports whether the loops run, or there are none to run.
func (g *loopGroup) running() bool {
	if g == nil {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.loops) > 0
}

// pick returns the loop for a new session whose client's packets arrive on
// cpu (-1 if unknown): the loop pinned to it, or else the one pinned to
// none if the loops are pinned, or else the next in turn. It returns nil if
// no loop runs.
func (g *loopGroup) pick(cpu int) *loop {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.loops) == 0 {
		return nil
	}
	if g.cpus != nil {
		return pinnedTo(g.loops, cpu)
	}
	return g.loops[int(g.next.Add(1))%len(g.loops)]
}

// pinnedTo returns the loop of loops pinned to cpu, or else the one pinned
// to none, the last.
func pinnedTo(loops []*loop, cpu int) *loop {
	for _, l := range loops {
		if cpu >= 0 && l.cpu == cpu {
			return l
		}
	}
	return loops[len(loops)-1]
}

// loop is one epoll instance and the goroutine that serves it. The
// goroutine blocks in epoll_wait itself, as HAProxy's threads do, rather
// than parking on Go's poller until the epoll fd is readable: that way
// costs four epoll calls per wake-up instead of one, and the scheduler
// wakes a second thread to look for work each time (measured here: 3.75
// epoll calls and 1.9 wake-ups per query).
type loop struct {
	// siblings are the loops of the group, this one too, fixed while
	// they run; pins says that they are pinned.
	siblings []*loop
	pins     bool
	// cpu is the CPU the loop's thread is pinned to, or -1.
	cpu int
	// holdP says to wait in epoll_wait holding the goroutine's processor,
	// as if it ran: see epollWait.
	holdP  bool
	epfd   int
	wakefd int // an eventfd that stop writes to, to end the wait
	events []syscall.EpollEvent
	buf    []byte
	done   chan struct{}
	// stopping tells the loop that wakefd was written to end it.
	stopping atomic.Bool
	// spare holds buffers for connections that could not take all they
	// were sent. That is rare, and they go back as soon as the data has
	// gone; only the loop's goroutine uses them.
	spare [][]byte

	mu    sync.Mutex // guards conns, which registering sessions add to
	conns []*loopConn
}

// loopConn is one connection of a session on a loop: the client's or the
// backend's.
type loopConn struct {
	fd     int
	sess   *loopSession
	peer   *loopConn
	client bool // the client's connection
	// events is what epoll watches the fd for now.
	events uint32
	// eof is set once the client has shut its side: it is read no more.
	eof bool
	// out holds bytes the peer sent that this connection could not take
	// yet; while it does, the peer is not read (backpressure).
	out []byte
	// feed shows the bytes read from this connection to the session's
	// scanner and returns what to write to the peer: the same bytes, or
	// a copy with packets replaced.
	feed func(chunk []byte) []byte
	// For a client's connection on pinned loops: reads counts reads to
	// the next look at where its packets arrive, and cpu and looks are
	// what place remembers of the last looks.
	reads uint8
	cpu   int16
	looks uint8
}

// loopSession is a session on a loop.
type loopSession struct {
	s              *session
	client, backed *loopConn
	ended          bool
}

func newLoop() (*loop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create: %w", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", errno)
	}
	wakefd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(wakefd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		syscall.Close(wakefd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &loop{epfd: epfd, wakefd: wakefd, events: make([]syscall.EpollEvent, 128),
		buf: make([]byte, loopBuffer), done: make(chan struct{})}, nil
}

// stop ends the loop and closes its epoll fd.
func (l *loop) stop() {
	l.stopping.Store(true)
	one := [8]byte{1}
	_, _ = rawWrite(l.wakefd, one[:])
	<-l.done
	l.close()
}

// close closes the loop's descriptors; the loop does not run.
func (l *loop) close() {
	syscall.Close(l.wakefd)
	syscall.Close(l.epfd)
}

// ctl changes what epoll watches fd for. Other goroutines may call it while
// the loop waits: epoll allows that.
func (l *loop) ctl(op int, fd int, events uint32) error {
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd)}
	_, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(&ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// add puts a session's two connections on the loop, watched for their
// events. The fds are the session's own duplicates, non-blocking like
// every socket Go opens.
func (l *loop) add(ls *loopSession) error {
	for i, c := range []*loopConn{ls.client, ls.backed} {
		if err := l.ctl(syscall.EPOLL_CTL_ADD, c.fd, c.events); err != nil {
			if i == 1 {
				_ = l.ctl(syscall.EPOLL_CTL_DEL, ls.client.fd, 0)
			}
			return fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	// Until the loop can find the connections it skips their events;
	// being level-triggered, epoll reports them again.
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range []*loopConn{ls.client, ls.backed} {
		for c.fd >= len(l.conns) {
			l.conns = append(l.conns, make([]*loopConn, len(l.conns)+64)...)
		}
		l.conns[c.fd] = c
	}
	return nil
}

func (l *loop) run() {
	defer close(l.done)
	if l.cpu >= 0 {
		// Never unlocked: the thread ends with the goroutine, so no other
		// goroutine inherits its affinity.
		runtime.LockOSThread()
		// Should the kernel refuse, the loop still relays; only the
		// sessions placed on it lose their CPU's locality.
		_ = pinThread(l.cpu)
	}
	for {
		n, err := l.wait()
		if errors.Is(err, syscall.EINTR) {
			// The runtime interrupts a loop that holds its processor to
			// stop it for the collector, or to share the processor;
			// yielding lets either happen.
			runtime.Gosched()
			continue
		}
		if err != nil {
			// Nothing a loop can do about a broken epoll: its sessions
			// would hang, so end them.
			l.endAll(fmt.Errorf("epoll_wait: %w", err))
			return
		}
		for _, ev := range l.events[:n] {
			fd := int(ev.Fd)
			if fd == l.wakefd {
				if l.stopping.Load() {
					return
				}
				continue
			}
			l.mu.Lock()
			var c *loopConn
			if fd < len(l.conns) {
				c = l.conns[fd]
			}
			l.mu.Unlock()
			if c == nil || c.sess.ended {
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				l.drain(c)
			}
			switch {
			case c.sess.ended:
			case c.events&syscall.EPOLLIN != 0:
				if ev.Events&(readEvents|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
					l.read(c)
				}
			case ev.Events&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0:
				// A connection not being read (its peer is full, or its
				// client has shut its side) hung up. Epoll reports that
				// whatever it is asked for, so it would come back every
				// round: nothing more can go through it.
				l.end(c.sess, nil)
			}
		}
	}
}

// read relays one read's worth from c to its peer. Epoll is level-triggered,
// so whatever one read leaves comes back in the next round, after the
// other sessions' turns.
func (l *loop) read(c *loopConn) {
	n, err := rawRead(c.fd, l.buf)
	if n <= 0 {
		switch {
		case err == nil && c.client && c.peer.out == nil:
			// The client has shut its side and may still read what it
			// asked for: the backend hears the same, answers and hangs
			// up, which ends the session.
			if syscall.Shutdown(c.peer.fd, syscall.SHUT_WR) != nil {
				l.end(c.sess, nil)
				return
			}
			c.eof = true
			l.watch(c, c.events&^readEvents)
		case err == nil:
			l.end(c.sess, nil) // EOF
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.ECONNRESET):
			l.end(c.sess, nil)
		default:
			l.end(c.sess, fmt.Errorf("read: %w", err))
		}
		return
	}
	h := c.sess.s.h
	h.IO(time.Now())
	if c.client {
		h.CountIn(n, 0)
	}
	chunk := c.feed(l.buf[:n])
	rest, err := l.write(c.peer, chunk)
	if err != nil {
		l.end(c.sess, err)
		return
	}
	if len(rest) > 0 {
		// The peer's socket is full: keep the rest and stop reading c
		// until the peer has taken it.
		c.peer.out = append(l.getOut(), rest...)
		l.watch(c.peer, c.peer.events|syscall.EPOLLOUT)
		l.watch(c, c.events&^readEvents)
	}
	if c.client && l.pins && !c.sess.ended {
		if c.reads++; c.reads == placeEvery {
			c.reads = 0
			l.place(c)
		}
	}
}

// placeEvery is how many reads of a client's connection a pinned loop
// relays between looks at where its packets arrive: a look is a system
// call, and a client that stays put needs none.
const placeEvery = 16

// place looks at where the packets of client connection c arrive, and
// moves its session to the loop that should relay it: from a pinned loop
// to the one pinned to none once two looks in a row found another CPU,
// and from that one to the loop pinned to a CPU once eight looks in a row
// found that CPU. The margins keep a client that hops from moving often.
func (l *loop) place(c *loopConn) {
	cpu, err := syscall.GetsockoptInt(c.fd, syscall.SOL_SOCKET, soIncomingCPU)
	if err != nil {
		return
	}
	var to *loop
	if l.cpu >= 0 {
		// c.looks counts the looks in a row that found another CPU.
		if cpu == l.cpu {
			c.looks = 0
		} else if c.looks++; c.looks == 2 {
			to = pinnedTo(l.siblings, -1)
		}
	} else {
		// c.looks counts the looks in a row that found c.cpu.
		if int(c.cpu) != cpu {
			c.cpu, c.looks = int16(cpu), 0
		}
		if c.looks++; c.looks == 8 {
			to = pinnedTo(l.siblings, cpu)
		}
	}
	if to != nil && to != l {
		c.cpu, c.looks = -1, 0
		l.move(c.sess, to)
	}
}

// move hands a session over to another loop. Only the loop that owns a
// session touches it, so this loop lets go of it before the other can see
// it; the connections keep what they are watched for, and what they hold.
func (l *loop) move(ls *loopSession, to *loop) {
	for _, c := range []*loopConn{ls.client, ls.backed} {
		_ = l.ctl(syscall.EPOLL_CTL_DEL, c.fd, 0)
	}
	l.mu.Lock()
	l.conns[ls.client.fd], l.conns[ls.backed.fd] = nil, nil
	l.mu.Unlock()
	if err := to.add(ls); err != nil {
		l.end(ls, err)
	}
}

// drain writes what c holds for it, and reads its peer again once c has
// taken it all.
func (l *loop) drain(c *loopConn) {
	rest, err := l.write(c, c.out)
	if err != nil {
		l.end(c.sess, err)
		return
	}
	if len(rest) > 0 {
		c.out = c.out[:copy(c.out, rest)]
		return
	}
	l.putOut(c.out)
	c.out = nil
	l.watch(c, c.events&^syscall.EPOLLOUT)
	if !c.peer.eof {
		l.watch(c.peer, c.peer.events|readEvents)
	}
}

// write writes b to c until done or c's socket is full, and returns what
// is left.
func (l *loop) write(c *loopConn, b []byte) ([]byte, error) {
	h := c.sess.s.h
	for len(b) > 0 {
		n, err := rawWrite(c.fd, b)
		if n > 0 {
			if c.client {
				h.CountOut(n, 0)
			}
			b = b[n:]
		}
		switch {
		case err == nil:
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			return b, nil
		case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
			return nil, errPeerClosed
		default:
			return nil, fmt.Errorf("write: %w", err)
		}
	}
	return nil, nil
}

// errPeerClosed ends a session quietly: the other side hung up while bytes
// were on their way to it.
var errPeerClosed = errors.New("connection closed by peer")

func (l *loop) watch(c *loopConn, events uint32) {
	if events == c.events {
		return
	}
	c.events = events
	if err := l.ctl(syscall.EPOLL_CTL_MOD, c.fd, events); err != nil {
		l.end(c.sess, fmt.Errorf("epoll_ctl: %w", err))
	}
}

// end takes the session off the loop, closes its connections and finishes
// the session.
func (l *loop) end(ls *loopSession, err error) {
	if ls.ended {
		return
	}
	ls.ended = true
	if errors.Is(err, errPeerClosed) {
		err = nil
	}
	for _, c := range []*loopConn{ls.client, ls.backed} {
		_ = l.ctl(syscall.EPOLL_CTL_DEL, c.fd, 0)
		if c.out != nil {
			l.putOut(c.out)
			c.out = nil
		}
	}
	l.mu.Lock()
	l.conns[ls.client.fd], l.conns[ls.backed.fd] = nil, nil
	l.mu.Unlock()
	ls.s.closeLoopFDs()
	// A goroutine of its own, since finishing waits for the kill of the
	// backend thread, if any.
	go ls.s.finish(err)
}

func (l *loop) endAll(err error) {
	l.mu.Lock()
	var sessions []*loopSession
	for _, c := range l.conns {
		if c != nil && c.client {
			sessions = append(sessions, c.sess)
		}
	}
	l.mu.Unlock()
	for _, ls := range sessions {
		l.end(ls, err)
	}
}

func (l *loop) getOut() []byte {
	if n := len(l.spare); n > 0 {
		b := l.spare[n-1]
		l.spare = l.spare[:n-1]
		return b[:0]
	}
	return make([]byte, 0, loopBuffer)
}

// putOut keeps a few buffers for the next backpressure, not all: a burst
// of slow clients must not pin its peak for good.
func (l *loop) putOut(b []byte) {
	if cap(b) == loopBuffer && len(l.spare) < 8 {
		l.spare = append(l.spare, b[:0])
	}
}

// loopFDs are a session's connections once a loop owns them: duplicates
// of the sockets, so closing the net.Conns removes them from Go's poller
// without closing the connections.
type loopFDs struct {
	on           bool
	client, back int
	closed       bool
}

// relayOnLoop hands a logged-in session to l, which finishes it when it
// ends; errOnLoop says that it did. It reports false if either side speaks
// TLS or is not a socket: those stay on goroutines.
func (s *session) relayOnLoop(l *loop, up *clientSide, down *backendSide, upstream <-chan error) (bool, error) {
	if s.overTLS() {
		return false, nil
	}
	cc, ok := s.client.(syscall.Conn)
	if !ok {
		return false, nil
	}
	bc, ok := s.backend.(syscall.Conn)
	if !ok {
		return false, nil
	}
	// Stop the client side's pump: a deadline in the past wakes its read
	// without losing a byte, as the pump forwards whatever it has read
	// before it reads again.
	s.handingOff.Store(true)
	_ = s.client.SetReadDeadline(time.Unix(1, 0))
	err := <-upstream
	// nil: the client shut its side first and the backend has heard. The
	// reply is on its way and the backend hangs up after it; the loop
	// relays it and, not reading the client, still sees it hang up.
	clientShut := err == nil
	if !clientShut && !errors.Is(err, os.ErrDeadlineExceeded) {
		// The client side ended on its own first.
		s.closeAll()
		if isClosed(err) {
			return true, nil
		}
		return true, err
	}
	_ = s.client.SetReadDeadline(time.Time{})
	// The backend may have sent more than its OK already.
	if n := s.fromBackend.Buffered(); n > 0 {
		chunk, _ := s.fromBackend.Peek(n)
		chunk = down.feed(chunk)
		_, err := s.toClient.Write(chunk)
		if err != nil {
			s.closeAll()
			return true, nil
		}
	}
	cfd, err := dupFD(cc)
	if err != nil {
		s.closeAll()
		return true, err
	}
	bfd, err := dupFD(bc)
	if err != nil {
		syscall.Close(cfd)
		s.closeAll()
		return true, err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		syscall.Close(cfd)
		syscall.Close(bfd)
		return true, nil
	}
	s.loop = loopFDs{on: true, client: cfd, back: bfd}
	s.mu.Unlock()
	s.client.Close()
	s.backend.Close()
	s.releaseReaders()
	s.h.Update(func(sess *core.Session) { sess.Memory.ClientBuffer, sess.Memory.BackendBuffer = 0, 0 })

	ls := &loopSession{s: s}
	ls.client = &loopConn{fd: cfd, sess: ls, client: true, feed: up.feed, eof: clientShut, events: readEvents, cpu: -1}
	if clientShut {
		// Epoll reports a hang-up whatever it is asked for.
		ls.client.events = 0
	}
	ls.backed = &loopConn{fd: bfd, sess: ls, feed: down.feed, events: readEvents}
	ls.client.peer, ls.backed.peer = ls.backed, ls.client
	if err := l.add(ls); err != nil {
		s.closeLoopFDs()
		return true, err
	}
	return true, errOnLoop
}

// shutdownLoopLocked wakes the loop that owns the session's connections:
// it sees them end and closes them. Only the loop closes them, so that a
// number the kernel has reused is never touched.
func (s *session) shutdownLoopLocked() {
	if s.loop.on && !s.loop.closed {
		_ = syscall.Shutdown(s.loop.client, syscall.SHUT_RDWR)
		_ = syscall.Shutdown(s.loop.back, syscall.SHUT_RDWR)
	}
}

// closeLoopFDs closes the session's connections for the loop.
func (s *session) closeLoopFDs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loop.on && !s.loop.closed {
		s.loop.closed = true
		syscall.Close(s.loop.client)
		syscall.Close(s.loop.back)
	}
}

// dupFD duplicates c's socket, close-on-exec. The duplicate shares the
// socket's non-blocking mode.
func dupFD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	fd := -1
	var errno syscall.Errno
	err = rc.Control(func(s uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		fd, errno = int(r), e
	})
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		return -1, fmt.Errorf("dup: %w", err)
	}
	return fd, nil
}

// The loop's sockets are non-blocking, so reads, writes and epoll_ctl
// return at once and need not tell the scheduler they may block.
// syscall.Read and friends do (entersyscall and exitsyscall), and when
// the runtime's monitor thread sleeps, every such call wakes it, after which
// it polls every 20 µs: measured here, that cost more than the relaying
// itself. Raw calls skip both. Only epoll_wait blocks, once per wake-up.

func rawRead(fd int, b []byte) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// holdFor is how long a loop that holds its processor waits so before it
// waits the ordinary way: an idle loop must not keep the runtime busy.
const holdFor = 5 // ms

// wait waits for events.
//
// A busy loop waits holding its goroutine's processor, as if it ran, when
// the program has processors to spare. Telling the scheduler instead that
// the call may block lets it lend the processor out while the loop waits,
// and the loop must win one back each time it wakes, waking other threads:
// measured here, two loops that did cost 1.18 times the CPU per query of
// one. The runtime still stops a holding loop for the collector, or after
// 10 ms, by a signal, which ends the wait with EINTR. But it cannot tell
// the loop is idle: it would keep interrupting it, measured at 2.4% of a
// CPU with nothing to relay. So after holdFor with no events the loop
// waits the ordinary way.
func (l *loop) wait() (int, error) {
	if l.holdP {
		n, err := epollWait(l.epfd, l.events, holdFor, syscall.RawSyscall6)
		if n != 0 || err != nil {
			return n, err
		}
	}
	return epollWait(l.epfd, l.events, -1, syscall.Syscall6)
}

// epollWait is epoll_pwait, not epoll_wait, since some architectures have
// only it, made by call: syscall.Syscall6, or RawSyscall6 to hold the
// processor.
func epollWait(epfd int, events []syscall.EpollEvent, msec int, call func(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)) (int, error) {
	r, _, errno := call(syscall.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), uintptr(msec), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// cpuSetWords sizes the CPU masks: 1,024 CPUs, as glibc's cpu_set_t.
const cpuSetWords = 1024 / 64

// allowedCPUs returns the CPUs the process may run on, or nil if it
// cannot tell.
func allowedCPUs() []int {
	var mask [cpuSetWords]uint64
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if errno != 0 {
		return nil
	}
	var cpus []int
	for i, w := range mask {
		for b := range 64 {
			if w&(1<<b) != 0 {
				cpus = append(cpus, i*64+b)
			}
		}
	}
	return cpus
}

// pinThread restricts the calling thread to cpu.
func pinThread(cpu int) error {
	var mask [cpuSetWords]uint64
	if cpu < 0 || cpu >= len(mask)*64 {
		return fmt.Errorf("pin to CPU %d: out of range", cpu)
	}
	mask[cpu/64] = 1 << (cpu % 64)
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if errno != 0 {
		return fmt.Errorf("pin to CPU %d: %w", cpu, errno)
	}
	return nil
}

// incomingCPU returns the CPU that last took in c's packets, which on
// loopback is the CPU its peer wrote them on, or -1 if c cannot tell.
func incomingCPU(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1
	}
	cpu := -1
	_ = rc.Control(func(fd uintptr) {
		if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, soIncomingCPU); err == nil {
			cpu = v
		}
	})
	return cpu
}

// soIncomingCPU is SO_INCOMING_CPU, which package syscall lacks.
const soIncomingCPU = 49
