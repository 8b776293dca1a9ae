package mysqlwire

import (
	"errors"
	"fmt"
	"io"
	"slices"
)

// ErrPacketTooLarge is returned (wrapped) when a packet header declares a
// payload longer than the caller is willing to buffer. Checking the header
// before allocating stops a peer from making the proxy reserve 16MB per
// connection with a 4-byte message.
var ErrPacketTooLarge = errors.New("packet too large")

// ErrMalformed is wrapped by every parser error caused by the bytes
// themselves, as opposed to I/O, so callers can answer with ERHandshakeError
// instead of treating it as a network failure.
var ErrMalformed = errors.New("malformed packet")

const packetHeaderSize = 4

// ReadPacket reads one physical packet. limit caps the accepted payload
// length; limit <= 0 accepts anything the 3-byte length can express. The
// returned payload is freshly allocated and owned by the caller.
//
// A clean end of stream before any header byte is returned as a bare io.EOF so
// that callers can tell an orderly close from a truncated packet, which yields
// an error wrapping io.ErrUnexpectedEOF.
func ReadPacket(r io.Reader, limit int) (seq byte, payload []byte, err error) {
	var hdr [packetHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return 0, nil, io.EOF
		}
		return 0, nil, fmt.Errorf("mysqlwire: read packet header: %w", err)
	}
	length := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	seq = hdr[3]
	if limit > 0 && length > limit {
		return seq, nil, fmt.Errorf("mysqlwire: payload of %d bytes exceeds limit %d: %w", length, limit, ErrPacketTooLarge)
	}
	payload, err = readPayload(r, length)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return seq, nil, fmt.Errorf("mysqlwire: read packet payload (%d bytes): %w", length, err)
	}
	return seq, payload, nil
}

// readChunk bounds how much memory a declared length can claim before the
// peer has actually sent the bytes. Without it, every idle connection could
// pin 16MB by sending a single header.
const readChunk = 1 << 20

func readPayload(r io.Reader, length int) ([]byte, error) {
	if length <= readChunk {
		buf := make([]byte, length)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf := make([]byte, 0, readChunk)
	for len(buf) < length {
		n := min(length-len(buf), readChunk)
		buf = slices.Grow(buf, n)
		if _, err := io.ReadFull(r, buf[len(buf):len(buf)+n]); err != nil {
			return nil, err
		}
		buf = buf[:len(buf)+n]
	}
	return buf, nil
}

// WritePacket writes payload as a single physical packet. Splitting larger
// payloads is left to the caller because a proxy normally forwards packets
// one-for-one and must keep the peer's sequence numbering.
func WritePacket(w io.Writer, seq byte, payload []byte) error {
	if len(payload) > MaxPacketSize {
		return fmt.Errorf("mysqlwire: payload of %d bytes exceeds %d: %w", len(payload), MaxPacketSize, ErrPacketTooLarge)
	}
	// One Write call so header and payload leave in the same segment and
	// concurrent writers guarded by the caller cannot interleave them.
	buf := make([]byte, packetHeaderSize+len(payload))
	n := len(payload)
	buf[0] = byte(n)
	buf[1] = byte(n >> 8)
	buf[2] = byte(n >> 16)
	buf[3] = seq
	copy(buf[packetHeaderSize:], payload)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("mysqlwire: write packet: %w", err)
	}
	return nil
}
