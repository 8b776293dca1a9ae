package server

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
)

// A stream connection spends most of its life idle, and its buffers are
// most of what it costs then. The websocket library takes its buffers from
// the hijacked connection, 4 KiB each way from net/http. hijackWriter hands
// it 16-byte ones instead, over a frameConn.
//
// With a small write buffer the library would issue two writes per frame
// (the buffered header, then the payload). frameConn reads each frame's
// length from its header, holds back a frame's first bytes until the rest
// arrives, and passes the whole frame on with one writev. It never reorders
// or drops bytes: held bytes go out before any later ones.

const streamBufSize = 16 // bufio's minimum; holds any server frame header

// hijackWriter wraps the response writer of a stream upgrade.
type hijackWriter struct {
	http.ResponseWriter
	// conn is the hijacked connection, once the upgrade has taken it.
	conn net.Conn
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = conn
	fc := &frameConn{Conn: conn}
	// Bytes the client sent right after its request are in net/http's
	// reader; they are read first.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		fc.early = append([]byte(nil), b...)
	}
	fc.writev = func(b net.Buffers) (int64, error) { return b.WriteTo(fc.Conn) }
	return fc, bufio.NewReadWriter(bufio.NewReaderSize(fc, streamBufSize), bufio.NewWriterSize(fc, streamBufSize)), nil
}

// frameConn passes websocket frames on whole (see above).
type frameConn struct {
	net.Conn
	early []byte
	// held is the start of the current frame, not yet passed on; left is
	// how many bytes of the frame have not been passed on or held, or -1
	// while the frame's header is incomplete.
	held   []byte
	left   int64
	writev func(net.Buffers) (int64, error)
}

func (c *frameConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *frameConn) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch {
		case c.left == 0:
			// A frame starts: pass it on now if p holds all of it, else
			// hold its start.
			size, ok := frameSize(p)
			switch {
			case !ok:
				c.held, c.left, p = append([]byte(nil), p...), -1, nil
			case int64(len(p)) >= size:
				if _, err := c.writev(net.Buffers{p[:size]}); err != nil {
					return 0, err
				}
				p = p[size:]
			default:
				c.held, c.left, p = append([]byte(nil), p...), size-int64(len(p)), nil
			}
		case c.left < 0:
			// The header came in pieces.
			c.held, p = append(c.held, p...), nil
			size, ok := frameSize(c.held)
			if !ok {
				continue
			}
			if int64(len(c.held)) < size {
				c.left = size - int64(len(c.held))
				continue
			}
			p, c.held = c.held[size:], c.held[:size]
			c.left = 0
			if err := c.pass(nil); err != nil {
				return 0, err
			}
		default:
			// The rest of the current frame.
			k := min(int64(len(p)), c.left)
			chunk := p[:k]
			p, c.left = p[k:], c.left-k
			if err := c.pass(chunk); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// pass writes what is held and chunk together.
func (c *frameConn) pass(chunk []byte) error {
	bufs := net.Buffers{c.held}
	if len(chunk) > 0 {
		bufs = append(bufs, chunk)
	}
	_, err := c.writev(bufs)
	c.held = nil
	return err
}

// frameSize returns the length of the websocket frame that b starts with,
// header included, once b holds the whole header.
func frameSize(b []byte) (int64, bool) {
	if len(b) < 2 {
		return 0, false
	}
	hdr := int64(2)
	n := int64(b[1] & 0x7f)
	switch n {
	case 126:
		hdr = 4
	case 127:
		hdr = 10
	}
	if b[1]&0x80 != 0 {
		hdr += 4 // masking key
	}
	if int64(len(b)) < hdr {
		return 0, false
	}
	switch n {
	case 126:
		n = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		n = int64(binary.BigEndian.Uint64(b[2:10]) & (1<<63 - 1))
	}
	return hdr + n, true
}
