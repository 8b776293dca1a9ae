package mysqlwire

import (
	"bytes"
	"encoding/binary"
)

// reader is a cursor over a payload whose methods report ok=false instead of
// indexing out of range, so parsers can stay linear and still never panic.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) remaining() int { return len(r.b) - r.pos }

func (r *reader) next(n int) ([]byte, bool) {
	if n < 0 || n > r.remaining() {
		return nil, false
	}
	s := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return s, true
}

func (r *reader) uint8() (byte, bool) {
	s, ok := r.next(1)
	if !ok {
		return 0, false
	}
	return s[0], true
}

func (r *reader) uint16() (uint16, bool) {
	s, ok := r.next(2)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint16(s), true
}

func (r *reader) uint32() (uint32, bool) {
	s, ok := r.next(4)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint32(s), true
}

// nulString returns the bytes up to a NUL terminator and consumes the NUL.
// A missing terminator is a failure: accepting it would let a truncated
// packet parse as a shorter but valid one.
func (r *reader) nulString() ([]byte, bool) {
	i := bytes.IndexByte(r.b[r.pos:], 0)
	if i < 0 {
		return nil, false
	}
	s := r.b[r.pos : r.pos+i : r.pos+i]
	r.pos += i + 1
	return s, true
}

func (r *reader) lenEncString() ([]byte, bool) {
	s, n, ok := ReadLenEncString(r.b[r.pos:])
	if !ok {
		return nil, false
	}
	r.pos += n
	return s, true
}
