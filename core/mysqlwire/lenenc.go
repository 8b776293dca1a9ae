package mysqlwire

import "encoding/binary"

// ReadLenEncInt decodes a length-encoded integer from the start of b and
// reports how many bytes it used. ok is false when b is too short or starts
// with 0xFB (SQL NULL in row data) or 0xFF (an ERR marker), neither of which
// is an integer.
func ReadLenEncInt(b []byte) (v uint64, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch first := b[0]; {
	case first < 0xFB:
		return uint64(first), 1, true
	case first == 0xFC:
		if len(b) < 3 {
			return 0, 0, false
		}
		return uint64(binary.LittleEndian.Uint16(b[1:3])), 3, true
	case first == 0xFD:
		if len(b) < 4 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, true
	case first == 0xFE:
		if len(b) < 9 {
			return 0, 0, false
		}
		return binary.LittleEndian.Uint64(b[1:9]), 9, true
	default:
		return 0, 0, false
	}
}

// ReadLenEncString decodes a length-encoded string from the start of b. The
// returned slice aliases b. The length is compared as uint64 so a hostile
// 8-byte length cannot overflow int.
func ReadLenEncString(b []byte) (s []byte, n int, ok bool) {
	l, n, ok := ReadLenEncInt(b)
	if !ok || l > uint64(len(b)-n) {
		return nil, 0, false
	}
	end := n + int(l)
	return b[n:end:end], end, true
}

// AppendLenEncInt appends the shortest length-encoded form of v.
func AppendLenEncInt(dst []byte, v uint64) []byte {
	switch {
	case v < 0xFB:
		return append(dst, byte(v))
	case v <= 0xFFFF:
		return append(dst, 0xFC, byte(v), byte(v>>8))
	case v <= 0xFFFFFF:
		return append(dst, 0xFD, byte(v), byte(v>>8), byte(v>>16))
	default:
		dst = append(dst, 0xFE)
		return binary.LittleEndian.AppendUint64(dst, v)
	}
}

// AppendLenEncString appends s prefixed with its length-encoded length.
func AppendLenEncString(dst []byte, s string) []byte {
	dst = AppendLenEncInt(dst, uint64(len(s)))
	return append(dst, s...)
}
