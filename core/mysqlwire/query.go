package mysqlwire

import (
	"fmt"
	"io"
)

// queryRowLimit bounds the rows Query keeps: it is for status statements
// that return a handful, and a server that streams more is answered with an
// error rather than with memory.
const queryRowLimit = 1000

// Result is a text-protocol result set small enough to hold in memory.
type Result struct {
	Columns []string
	// Rows maps each row's column names to its values; a NULL value is
	// absent from its row.
	Rows []map[string]string
}

// Query sends sql as a COM_QUERY on a logged-in connection, such as one
// ClientHandshake opened, and reads its whole reply. A statement without a
// result set gives an empty Result; an ERR is returned wrapping its
// ErrorPacket. It is meant for Portico's own short status statements: it
// reads at most 1000 rows and expects the classic EOF packets that
// ClientHandshake negotiates.
func Query(conn io.ReadWriter, sql string) (Result, error) {
	if err := WritePacket(conn, 0, append([]byte{ComQuery}, sql...)); err != nil {
		return Result{}, err
	}
	_, payload, err := readReply(conn, "query reply", "query failed")
	if err != nil || payload == nil {
		return Result{}, err
	}
	return readResult(conn, payload)
}

// readResult reads the rest of a result set whose first packet, the column
// count, is first.
func readResult(r io.Reader, first []byte) (Result, error) {
	n, used, ok := ReadLenEncInt(first)
	if !ok || used != len(first) || n == 0 || n > 4096 {
		return Result{}, fmt.Errorf("mysqlwire: bad column count in result set: %w", ErrMalformed)
	}
	var res Result
	for range n {
		_, def, err := ReadPacket(r, clientReplyLimit)
		if err != nil {
			return Result{}, fmt.Errorf("mysqlwire: read column definition: %w", err)
		}
		name, err := columnName(def)
		if err != nil {
			return Result{}, err
		}
		res.Columns = append(res.Columns, name)
	}
	if _, eof, err := ReadPacket(r, clientReplyLimit); err != nil {
		return Result{}, fmt.Errorf("mysqlwire: read end of columns: %w", err)
	} else if !isEOFPacket(eof) {
		return Result{}, fmt.Errorf("mysqlwire: column definitions not ended by EOF: %w", ErrMalformed)
	}
	for {
		_, row, err := ReadPacket(r, clientReplyLimit)
		if err != nil {
			return Result{}, fmt.Errorf("mysqlwire: read row: %w", err)
		}
		switch {
		case isEOFPacket(row):
			return res, nil
		case len(row) > 0 && row[0] == ErrHeader:
			ep, err := ParseErrPacket(row)
			if err != nil {
				return Result{}, err
			}
			return Result{}, fmt.Errorf("mysqlwire: query failed while sending rows: %w", ep)
		}
		if len(res.Rows) == queryRowLimit {
			return Result{}, fmt.Errorf("mysqlwire: result set has more than %d rows", queryRowLimit)
		}
		values, err := textRow(row, res.Columns)
		if err != nil {
			return Result{}, err
		}
		res.Rows = append(res.Rows, values)
	}
}

// isEOFPacket tells an EOF packet from a row that starts with the 0xFE of
// an 8-byte length: an EOF is always shorter than 9 bytes.
func isEOFPacket(p []byte) bool {
	return len(p) > 0 && p[0] == EOFHeader && len(p) < 9
}

// columnName reads the name from a Protocol41 column definition: catalog,
// schema, table and original table come first.
func columnName(def []byte) (string, error) {
	r := reader{b: def}
	for range 4 {
		if _, ok := r.lenEncString(); !ok {
			return "", fmt.Errorf("mysqlwire: column definition truncated: %w", ErrMalformed)
		}
	}
	name, ok := r.lenEncString()
	if !ok {
		return "", fmt.Errorf("mysqlwire: column definition truncated: %w", ErrMalformed)
	}
	return string(name), nil
}

// textRow reads one text-protocol row: a length-encoded string per column,
// or 0xFB for NULL.
func textRow(row []byte, columns []string) (map[string]string, error) {
	values := make(map[string]string, len(columns))
	r := reader{b: row}
	for _, c := range columns {
		if r.remaining() > 0 && r.b[r.pos] == 0xFB {
			r.pos++
			continue
		}
		v, ok := r.lenEncString()
		if !ok {
			return nil, fmt.Errorf("mysqlwire: row truncated at column %q: %w", c, ErrMalformed)
		}
		values[c] = string(v)
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("mysqlwire: row has %d bytes after its last column: %w", r.remaining(), ErrMalformed)
	}
	return values, nil
}
