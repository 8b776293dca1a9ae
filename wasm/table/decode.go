package table

import (
	"strconv"
	"strings"

	"github.com/portico-db/portico/wasm/jsonscan"
	"github.com/portico-db/portico/web/sessionview"
)

// Columns are the fields the sessions table streams (sessionview.StreamColumns).
var Columns = sessionview.StreamColumns

// Row and value separators of the stream's rows format: a row is the id
// and then each column's JSON value, separated by US; the client joins a
// frame's rows with RS. encoding/json escapes both, so neither occurs
// inside a value.
const (
	unitSep   = '\x1f'
	recordSep = '\x1e'
)

// Frame is one stream frame, its rows still encoded.
type Frame struct {
	Type       string // snapshot, changes, bookmark or reset
	Epoch, Rev string
	Reason     string
	// Time is the server's time (Unix ms) of a changes or bookmark frame,
	// 0 if absent.
	Time int64
	// More is set on every snapshot chunk but the last.
	More bool
	// Rows holds a snapshot's sessions or a changes frame's added ones,
	// Updated the changed ones (whole), as rows joined by RS.
	Rows, Updated string
	Removed       []uint64
}

// splitRows calls fn with each row of a joined list and its id.
func splitRows(rows string, fn func(id uint64, row string)) {
	for len(rows) > 0 {
		end := strings.IndexByte(rows, recordSep)
		if end < 0 {
			end = len(rows)
		}
		row := rows[:end]
		rows = rows[min(end+1, len(rows)):]
		var id uint64
		i := 0
		for ; i < len(row) && '0' <= row[i] && row[i] <= '9'; i++ {
			id = id*10 + uint64(row[i]-'0')
		}
		if i == 0 {
			continue // not a row
		}
		fn(id, row)
	}
}

// decodeRow reads a row of columns into s.
func decodeRow(row string, columns []string, s *sessionview.Session) {
	*s = sessionview.Session{}
	id, rest, more := strings.Cut(row, string(unitSep))
	s.ID, _ = strconv.ParseUint(id, 10, 64)
	for c := 0; more && c < len(columns); c++ {
		var v string
		v, rest, more = strings.Cut(rest, string(unitSep))
		if v == "" {
			continue // the session lacks the field
		}
		if decodePlain(v, columns[c], s) {
			continue
		}
		d := jsonscan.New(v)
		if columns[c] == "services" {
			s.Service = relationshipID(d)
		} else {
			decodeAttribute(d, columns[c], s, nil)
		}
	}
}

// decodePlain reads the scalar columns that need no scanner: strings
// without escapes and integers, most of a row. Sorting on a column decodes
// every row, so this is the difference between a stall and none.
func decodePlain(v, column string, s *sessionview.Session) bool {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		text := v[1 : len(v)-1]
		if strings.IndexByte(text, '\\') >= 0 {
			return false
		}
		switch column {
		case "state":
			s.State = text
		case "user":
			s.User = text
		case "remote":
			s.Remote = text
		case "connected":
			s.Connected = text
		case "last_activity":
			s.LastActivity = parseTime(text)
		default:
			return false
		}
		return true
	}
	if v == "" || v[0] < '0' || v[0] > '9' {
		return false // ParseUint's error would cost an allocation
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return false
	}
	switch column {
	case "io_activity":
		s.IO = int64(n)
	case "bytes_in":
		s.BytesIn = n
	case "bytes_out":
		s.BytesOut = n
	case "queries_total":
		s.Queries = n
	default:
		return false
	}
	return true
}

// firstColumn returns the first column's value of a row, when it is a
// plain JSON string (as state is), without decoding the rest.
func firstColumn(row string) string {
	i := strings.IndexByte(row, unitSep)
	if i < 0 {
		return ""
	}
	v := row[i+1:]
	if j := strings.IndexByte(v, unitSep); j >= 0 {
		v = v[:j]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && strings.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	d := jsonscan.New(v)
	return d.String()
}

// relationshipID reads the first id of a relationship: its data array, as
// the rows format sends it, or the whole relationship object.
func relationshipID(d *jsonscan.Scanner) string {
	var id string
	ids := func() {
		d.Array(func() {
			d.Object(func(key string) {
				if key == "id" && id == "" {
					id = d.String()
				}
			})
		})
	}
	if d.Peek() == jsonscan.Array {
		ids()
		return id
	}
	d.Object(func(key string) {
		if key == "data" {
			ids()
		}
	})
	return id
}

// Extra holds what the detail view shows beyond the row.
type Extra struct {
	Detail sessionview.Detail
}

// decodeResource reads a session resource into s and returns its id.
func decodeResource(d *jsonscan.Scanner, s *sessionview.Session, extra *Extra) uint64 {
	var id uint64
	d.Object(func(key string) {
		switch key {
		case "id":
			id = d.Uint()
			s.ID = id
		case "attributes":
			d.Object(func(key string) { decodeAttribute(d, key, s, extra) })
		case "relationships":
			d.Object(func(key string) {
				if key == "services" {
					s.Service = relationshipID(d)
				}
			})
		}
	})
	return id
}

func decodeAttribute(d *jsonscan.Scanner, key string, s *sessionview.Session, extra *Extra) {
	switch key {
	case "state":
		s.State = d.String()
	case "user":
		s.User = d.String()
	case "remote":
		s.Remote = d.String()
	case "connected":
		s.Connected = d.String()
	case "last_activity":
		s.LastActivity = parseTime(d.String())
	case "io_activity":
		s.IO = d.Int()
	case "bytes_in":
		s.BytesIn = d.Uint()
	case "bytes_out":
		s.BytesOut = d.Uint()
	case "queries_total":
		s.Queries = d.Uint()
	case "connections":
		s.Server, s.ServerConn = "", 0
		var conns []sessionview.Conn
		d.Array(func() {
			var c sessionview.Conn
			d.Object(func(key string) {
				switch key {
				case "server":
					c.Server = d.String()
				case "connection_id":
					c.ID = uint32(d.Uint())
				}
			})
			conns = append(conns, c)
		})
		if len(conns) > 0 {
			s.Server, s.ServerConn = conns[0].Server, conns[0].ID
		}
		if extra != nil {
			extra.Detail.Connections = conns
		}
	case "last_statement":
		// A statement without a duration is still running.
		s.Statement, s.StatementAt, s.StatementMS = "", 0, -1
		present := d.Object(func(key string) {
			switch key {
			case "statement":
				s.Statement = d.String()
			case "received":
				s.StatementAt = parseTime(d.String())
			case "duration":
				s.StatementMS = d.Int()
			}
		})
		if !present {
			s.StatementMS = 0
		}
	default:
		if extra == nil {
			d.Skip()
			return
		}
		decodeExtra(d, key, extra)
	}
}

func decodeExtra(d *jsonscan.Scanner, key string, extra *Extra) {
	x := &extra.Detail
	switch key {
	case "port":
		x.Port = int(d.Int())
	case "database":
		x.Database = d.String()
	case "packets_in":
		x.PacketsIn = d.Uint()
	case "packets_out":
		x.PacketsOut = d.Uint()
	case "memory":
		d.Object(func(key string) {
			if key == "total" {
				x.Memory = d.Uint()
			}
		})
	case "parameters":
		d.Object(func(key string) {
			switch key {
			case "log_info":
				x.Log.Info = d.Bool()
			case "log_notice":
				x.Log.Notice = d.Bool()
			case "log_warning":
				x.Log.Warning = d.Bool()
			case "log_error":
				x.Log.Error = d.Bool()
			}
		})
	case "client":
		x.Attributes = nil
		d.Object(func(key string) {
			if key != "connection_attributes" {
				return
			}
			d.Object(func(name string) {
				x.Attributes = append(x.Attributes, sessionview.Pair{Name: name, Value: d.String()})
			})
		})
		sortPairs(x.Attributes)
	case "queries":
		x.Statements = nil
		d.Array(func() {
			st := sessionview.Statement{MS: -1}
			d.Object(func(key string) {
				switch key {
				case "command":
					st.Command = d.String()
				case "statement":
					st.Text = d.String()
				case "received":
					st.Received = d.String()
				case "responses":
					d.Array(func() {
						d.Object(func(key string) {
							switch key {
							case "server":
								st.Server = d.String()
							case "duration":
								st.MS = d.Int()
							}
						})
					})
				}
			})
			x.Statements = append(x.Statements, st)
		})
	default:
		d.Skip()
	}
}

// parseTime reads the times the API writes (RFC 3339 in UTC, as
// "2017-07-17T09:00:03.5Z") as Unix ms; 0 if absent or in another form. It
// is written out because the time package's parser would add tens of
// kilobytes to the WASM client for one layout.
func parseTime(s string) int64 {
	// 2006-01-02T15:04:05[.fff…]Z
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return 0
	}
	num := func(a, b int) int64 {
		var n int64
		for _, c := range []byte(s[a:b]) {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int64(c-'0')
		}
		return n
	}
	y, mo, dd, h, mi, sec := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || mo < 1 || mo > 12 || dd < 1 || dd > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60 {
		return 0
	}
	var ms int64
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 {
			return 0
		}
		digits := frac[1:min(len(frac), 4)]
		n := num(20, 20+len(digits))
		if n < 0 || num(20, len(s)-1) < 0 {
			return 0
		}
		for range 3 - len(digits) {
			n *= 10
		}
		ms = n
	}
	return ((daysFromCivil(y, mo, dd)*24+h)*60+mi)*60_000 + sec*1000 + ms
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the
// proleptic Gregorian calendar (Howard Hinnant's algorithm).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// DecodeDetail reads a GET /v1/sessions/:id document into the detail view.
func DecodeDetail(text string) (sessionview.Detail, error) {
	var x Extra
	d := jsonscan.New(text)
	d.Object(func(key string) {
		if key == "data" {
			decodeResource(d, &x.Detail.Session, &x)
		}
	})
	return x.Detail, d.Done()
}
