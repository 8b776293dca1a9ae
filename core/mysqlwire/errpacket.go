package mysqlwire

import (
	"encoding/binary"
	"fmt"
)

const sqlStateLen = 5

// ErrorPacket is a decoded ERR packet. It implements error so that a server
// refusal can travel up the stack and still be relayed verbatim.
type ErrorPacket struct {
	Code     uint16
	SQLState string
	Message  string
}

// Error formats the packet the way the mariadb CLI prints it, which is what
// operators will grep logs for.
func (e ErrorPacket) Error() string {
	if e.SQLState == "" {
		return fmt.Sprintf("ERROR %d: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("ERROR %d (%s): %s", e.Code, e.SQLState, e.Message)
}

// ErrPacket builds a Protocol41 ERR payload. A sqlState that is not exactly
// five bytes would shift the message for every client, so it is replaced by
// the generic HY000.
func ErrPacket(errno uint16, sqlState, message string) []byte {
	if len(sqlState) != sqlStateLen {
		sqlState = SSUnknownSQLState
	}
	b := make([]byte, 0, 1+2+1+sqlStateLen+len(message))
	b = append(b, ErrHeader)
	b = binary.LittleEndian.AppendUint16(b, errno)
	b = append(b, '#')
	b = append(b, sqlState...)
	return append(b, message...)
}

// ParseErrPacket parses an ERR payload. The '#'+SQLSTATE marker is optional
// because servers omit it before they know the client speaks Protocol41, i.e.
// in an ERR sent instead of the greeting. MariaDB progress reports
// (Code == ProgressReportCode) are returned with their raw body in Message.
func ParseErrPacket(payload []byte) (ErrorPacket, error) {
	var e ErrorPacket
	if len(payload) < 3 || payload[0] != ErrHeader {
		return e, fmt.Errorf("mysqlwire: not an ERR packet: %w", ErrMalformed)
	}
	e.Code = binary.LittleEndian.Uint16(payload[1:3])
	rest := payload[3:]
	if len(rest) > 0 && rest[0] == '#' {
		if len(rest) < 1+sqlStateLen {
			return ErrorPacket{}, fmt.Errorf("mysqlwire: ERR packet truncated in SQLSTATE: %w", ErrMalformed)
		}
		e.SQLState = string(rest[1 : 1+sqlStateLen])
		rest = rest[1+sqlStateLen:]
	}
	e.Message = string(rest)
	return e, nil
}
