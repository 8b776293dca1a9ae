package mysqlwire

import (
	"encoding/binary"
	"strconv"
)

// Kill is a client command that kills a connection or its statement by
// connection id: a COM_QUERY `KILL [HARD|SOFT] [CONNECTION|QUERY] <id>` or a
// COM_PROCESS_KILL. A proxy that shows clients ids of its own must put the
// backend's id in its place before forwarding it.
type Kill struct {
	// ID is the connection id the command names.
	ID uint64
	// start and end bound the id's bytes in the payload, so the command can
	// be rebuilt with another id and everything else kept as sent.
	start, end int
	binary     bool
}

// ParseKill reports whether payload, a whole command packet's payload
// starting with its command byte, is a KILL by connection id, and where the
// id is. It accepts whitespace and comments around words and a trailing
// semicolon, as clients send them. It refuses what it cannot rewrite
// safely: KILL QUERY ID (a query id, not a connection id), KILL USER, an id
// given as an expression, executable comments (which may change the
// statement), and more than one statement.
func ParseKill(payload []byte) (Kill, bool) {
	if len(payload) == 0 {
		return Kill{}, false
	}
	switch payload[0] {
	case ComProcessKill:
		if len(payload) != 5 {
			return Kill{}, false
		}
		return Kill{ID: uint64(binary.LittleEndian.Uint32(payload[1:])), start: 1, end: 5, binary: true}, true
	case ComQuery:
	default:
		return Kill{}, false
	}
	b := payload
	i, ok := skipSpace(b, 1)
	if !ok {
		return Kill{}, false
	}
	word, i := sqlWord(b, i)
	if !equalFold(word, "KILL") {
		return Kill{}, false
	}
	// Each option is optional, in this order.
	for _, opts := range [][]string{{"HARD", "SOFT"}, {"CONNECTION", "QUERY"}} {
		j, ok := skipSpace(b, i)
		if !ok {
			return Kill{}, false
		}
		w, k := sqlWord(b, j)
		for _, o := range opts {
			if equalFold(w, o) {
				i = k
				break
			}
		}
	}
	// A word or id must be set off from the word before it.
	j, ok := skipSpace(b, i)
	if !ok || j == i {
		return Kill{}, false
	}
	start := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j == start {
		// ID, USER or an expression.
		return Kill{}, false
	}
	id, err := strconv.ParseUint(string(b[start:j]), 10, 64)
	if err != nil {
		return Kill{}, false
	}
	end := j
	if j, ok = skipSpace(b, j); !ok {
		return Kill{}, false
	}
	if j < len(b) && b[j] == ';' {
		if j, ok = skipSpace(b, j+1); !ok {
			return Kill{}, false
		}
	}
	if j != len(b) {
		return Kill{}, false
	}
	return Kill{ID: id, start: start, end: end}, true
}

// Rewrite appends to dst the payload k was parsed from, with id in place of
// k.ID. A COM_PROCESS_KILL carries 4 bytes, so it reports false for an id
// that does not fit them.
func (k Kill) Rewrite(dst, payload []byte, id uint64) ([]byte, bool) {
	if k.end > len(payload) || k.start > k.end {
		return dst, false
	}
	dst = append(dst, payload[:k.start]...)
	if k.binary {
		if id > 1<<32-1 {
			return dst, false
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(id))
	} else {
		dst = strconv.AppendUint(dst, id, 10)
	}
	return append(dst, payload[k.end:]...), true
}

// skipSpace skips whitespace and comments from i. It reports false for an
// unterminated comment or an executable one (/*! or /*M!), whose text the
// server runs.
func skipSpace(b []byte, i int) (int, bool) {
	for i < len(b) {
		switch c := b[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '#' || (c == '-' && i+2 < len(b) && b[i+1] == '-' && isSpace(b[i+2])):
			for i < len(b) && b[i] != '\n' {
				i++
			}
		case c == '-' && i+2 == len(b) && b[i+1] == '-':
			// "--" at the very end is a comment too.
			i = len(b)
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			if i+2 < len(b) && (b[i+2] == '!' || b[i+2] == 'M') {
				return i, false
			}
			end := -1
			for k := i + 2; k+1 < len(b); k++ {
				if b[k] == '*' && b[k+1] == '/' {
					end = k + 2
					break
				}
			}
			if end < 0 {
				return i, false
			}
			i = end
		default:
			return i, true
		}
	}
	return i, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// sqlWord returns the ASCII letters at i and where they end.
func sqlWord(b []byte, i int) ([]byte, int) {
	j := i
	for j < len(b) && (b[j]|0x20 >= 'a' && b[j]|0x20 <= 'z' || b[j] == '_' || b[j] >= '0' && b[j] <= '9' && j > i) {
		j++
	}
	return b[i:j], j
}

// equalFold compares an ASCII word with an upper-case keyword.
func equalFold(w []byte, kw string) bool {
	if len(w) != len(kw) {
		return false
	}
	for i := range w {
		if w[i]&^0x20 != kw[i] {
			return false
		}
	}
	return true
}

// HasKillPrefix is the relay's cheap test, on every COM_QUERY, for whether
// a payload may be a KILL worth parsing: it starts with the keyword, as
// clients send it.
func HasKillPrefix(payload []byte) bool {
	return len(payload) >= 6 && payload[0] == ComQuery && equalFold(payload[1:5], "KILL") && !isWordByte(payload[5])
}

func isWordByte(c byte) bool {
	return c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9' || c == '_'
}
