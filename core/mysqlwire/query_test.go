package mysqlwire

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

// queryReply answers one COM_QUERY with wire, after checking what was sent.
type queryReply struct {
	bytes.Buffer // what the server says
	sent         bytes.Buffer
}

func (q *queryReply) Write(p []byte) (int, error) { return q.sent.Write(p) }

// resultSet encodes a classic-EOF text result set independently of the
// parser; a nil value is NULL.
func resultSet(columns []string, rows ...[]*string) []byte {
	var w bytes.Buffer
	seq := byte(1)
	put := func(p []byte) {
		_ = WritePacket(&w, seq, p)
		seq++
	}
	put(AppendLenEncInt(nil, uint64(len(columns))))
	for _, c := range columns {
		var def []byte
		for _, s := range []string{"def", "", "", "", c, ""} {
			def = AppendLenEncString(def, s)
		}
		put(append(def, 0x0c, 0x21, 0, 1, 0, 0, 0, 0xfd, 0, 0, 0x27, 0, 0))
	}
	eof := []byte{EOFHeader, 0, 0, 2, 0}
	put(eof)
	for _, r := range rows {
		var row []byte
		for _, v := range r {
			if v == nil {
				row = append(row, 0xFB)
				continue
			}
			row = AppendLenEncString(row, *v)
		}
		put(row)
	}
	put(eof)
	return w.Bytes()
}

func str(s string) *string { return &s }

func TestQueryScripted(t *testing.T) {
	okReply := append([]byte{7, 0, 0, 1}, okPacket...)
	var errReply bytes.Buffer
	_ = WritePacket(&errReply, 1, ErrPacket(1227, "42000", "Access denied; you need the SUPER privilege"))
	cut := resultSet([]string{"a"}, []*string{str("1")})
	cut = cut[:len(cut)-9] // the last row and the EOF are lost
	var midRowsErr bytes.Buffer
	full := resultSet([]string{"a"})
	midRowsErr.Write(full[:len(full)-9])
	_ = WritePacket(&midRowsErr, 4, ErrPacket(1317, "70100", "Query execution was interrupted"))

	tests := []struct {
		name     string
		reply    []byte
		want     Result
		wantCode uint16
		wantErr  error
	}{
		{name: "OK", reply: okReply, want: Result{}},
		{name: "rows with NULL and empty values",
			reply: resultSet([]string{"a", "b"}, []*string{str("1"), nil}, []*string{str(""), str("x")}),
			want:  Result{Columns: []string{"a", "b"}, Rows: []map[string]string{{"a": "1"}, {"a": "", "b": "x"}}}},
		{name: "no rows", reply: resultSet([]string{"Slave_IO_Running"}), want: Result{Columns: []string{"Slave_IO_Running"}}},
		{name: "ERR", reply: errReply.Bytes(), wantCode: 1227},
		{name: "ERR while sending rows", reply: midRowsErr.Bytes(), wantCode: 1317},
		{name: "cut short", reply: cut, wantErr: errUnexpectedEOF},
		{name: "row with too few values", reply: resultSet([]string{"a", "b"}, []*string{str("1")}), wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &queryReply{}
			conn.Buffer.Write(tt.reply)
			got, err := Query(conn, "SELECT x")
			if want := append([]byte{9, 0, 0, 0, ComQuery}, "SELECT x"...); !bytes.Equal(conn.sent.Bytes(), want) {
				t.Errorf("sent %q, want %q", conn.sent.Bytes(), want)
			}
			var ep ErrorPacket
			switch {
			case tt.wantCode != 0:
				if !errors.As(err, &ep) || ep.Code != tt.wantCode {
					t.Fatalf("err = %v, want ERR %d", err, tt.wantCode)
				}
				return
			case tt.wantErr == errUnexpectedEOF:
				if err == nil {
					t.Fatal("a result cut short parsed")
				}
				return
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Columns, tt.want.Columns) || !slices.EqualFunc(got.Rows, tt.want.Rows, mapsEqual) {
				t.Errorf("result = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// errUnexpectedEOF marks a case where any error will do: the stream ended.
var errUnexpectedEOF = errors.New("any error")

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestQueryRealMariaDB runs the monitor's statements on the real server.
func TestQueryRealMariaDB(t *testing.T) {
	addr := os.Getenv("PORTICO_TEST_MARIADB")
	if addr == "" {
		t.Fatal("PORTICO_TEST_MARIADB is not set: run `go tool task test`")
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ClientHandshake(ctx, conn, "maxuser", "maxpwd"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sql      string
		wantCols []string
		wantRows []map[string]string
		wantCode uint16
	}{
		{sql: "SELECT @@read_only", wantCols: []string{"@@read_only"}, wantRows: []map[string]string{{"@@read_only": "0"}}},
		{sql: "SELECT 1 AS a, NULL AS b UNION SELECT 2, 'y'", wantCols: []string{"a", "b"},
			wantRows: []map[string]string{{"a": "1"}, {"a": "2", "b": "y"}}},
		// The test server replicates from nothing.
		{sql: "SHOW ALL SLAVES STATUS"},
		{sql: "DO 1"},
		{sql: "SELECT nope FROM nowhere", wantCode: 1046},
	}
	for _, tt := range tests {
		t.Run(tt.sql, func(t *testing.T) {
			res, err := Query(conn, tt.sql)
			if tt.wantCode != 0 {
				var ep ErrorPacket
				if !errors.As(err, &ep) || ep.Code != tt.wantCode {
					t.Fatalf("err = %v, want ERR %d", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantCols != nil && !slices.Equal(res.Columns, tt.wantCols) {
				t.Errorf("columns = %q, want %q", res.Columns, tt.wantCols)
			}
			if tt.sql == "SHOW ALL SLAVES STATUS" && !slices.Contains(res.Columns, "Slave_IO_Running") {
				t.Errorf("columns = %q, want Slave_IO_Running among them", res.Columns)
			}
			if !slices.EqualFunc(res.Rows, tt.wantRows, mapsEqual) {
				t.Errorf("rows = %v, want %v", res.Rows, tt.wantRows)
			}
		})
	}
}

func FuzzQueryReply(f *testing.F) {
	f.Add(resultSet([]string{"a", "b"}, []*string{str("1"), nil}))
	// Every server turn of a captured conversation: result sets, OKs and
	// ERRs of all kinds.
	for _, rec := range readTranscript(f, "replies_eof_mariadb.bin") {
		if !rec.fromClient {
			f.Add(rec.wire)
		}
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		conn := &queryReply{}
		conn.Buffer.Write(wire)
		res, err := Query(conn, "SELECT 1")
		if err != nil {
			if len(res.Columns) != 0 || len(res.Rows) != 0 {
				t.Fatal("a result returned with an error")
			}
			return
		}
		if len(res.Rows) > queryRowLimit {
			t.Fatalf("%d rows kept, limit %d", len(res.Rows), queryRowLimit)
		}
		for _, row := range res.Rows {
			for k := range row {
				if !slices.Contains(res.Columns, k) {
					t.Fatalf("row has column %q, not among %q", k, res.Columns)
				}
			}
		}
	})
}
