package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func query(s string) []byte { return append([]byte{ComQuery}, s...) }

func TestParseKill(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		ok      bool
		id      uint64
		// rewritten is the payload with the id replaced by 4321.
		rewritten []byte
	}{
		{"mariadb CLI on Ctrl-C", query("KILL QUERY 12"), true, 12, query("KILL QUERY 4321")},
		{"bare", query("KILL 7"), true, 7, query("KILL 4321")},
		{"lower case", query("kill connection 99"), true, 99, query("kill connection 4321")},
		{"hard", query("KILL HARD QUERY 5"), true, 5, query("KILL HARD QUERY 4321")},
		{"soft without kind", query("kill soft 5"), true, 5, query("kill soft 4321")},
		{"semicolon and spaces", query("  KILL\tQUERY\n 12 ;  "), true, 12, query("  KILL\tQUERY\n 4321 ;  ")},
		{"comments", query("/* app */ KILL /* x */ QUERY/**/12 -- why\n"), true, 12, query("/* app */ KILL /* x */ QUERY/**/4321 -- why\n")},
		{"hash comment", query("KILL 12 # Ctrl-C"), true, 12, query("KILL 4321 # Ctrl-C")},
		{"largest id", query("KILL 18446744073709551615"), true, 18446744073709551615, query("KILL 4321")},
		{"COM_PROCESS_KILL", []byte{ComProcessKill, 12, 0, 0, 0}, true, 12, []byte{ComProcessKill, 0xe1, 0x10, 0, 0}},

		{"query id", query("KILL QUERY ID 12"), false, 0, nil},
		{"user", query("KILL USER bob"), false, 0, nil},
		{"expression", query("KILL 1+1"), false, 0, nil},
		{"parenthesised", query("KILL (12)"), false, 0, nil},
		{"two statements", query("KILL 12; KILL 13"), false, 0, nil},
		{"no space", query("KILL12"), false, 0, nil},
		{"no id", query("KILL QUERY"), false, 0, nil},
		{"trailing word", query("KILL 12 x"), false, 0, nil},
		{"id runs into word", query("KILL 12abc"), false, 0, nil},
		{"executable comment", query("KILL /*!50000 QUERY */ 12"), false, 0, nil},
		{"MariaDB executable comment", query("KILL /*M!100000 QUERY */ 12"), false, 0, nil},
		{"unterminated comment", query("KILL 12 /* x"), false, 0, nil},
		{"too large", query("KILL 18446744073709551616"), false, 0, nil},
		{"negative", query("KILL -12"), false, 0, nil},
		{"other statement", query("SELECT 12"), false, 0, nil},
		{"killall", query("KILLALL 12"), false, 0, nil},
		{"short COM_PROCESS_KILL", []byte{ComProcessKill, 12, 0, 0}, false, 0, nil},
		{"long COM_PROCESS_KILL", []byte{ComProcessKill, 12, 0, 0, 0, 0}, false, 0, nil},
		{"other command", []byte{ComPing}, false, 0, nil},
		{"empty", nil, false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, ok := ParseKill(tt.payload)
			if ok != tt.ok || k.ID != tt.id {
				t.Fatalf("ParseKill(%q) = %d, %v; want %d, %v", tt.payload, k.ID, ok, tt.id, tt.ok)
			}
			if !ok {
				return
			}
			got, ok := k.Rewrite(nil, tt.payload, 4321)
			if !ok || !bytes.Equal(got, tt.rewritten) {
				t.Errorf("Rewrite = %q, %v; want %q", got, ok, tt.rewritten)
			}
		})
	}
}

func TestKillRewriteTooLargeForComProcessKill(t *testing.T) {
	k, ok := ParseKill([]byte{ComProcessKill, 1, 0, 0, 0})
	if !ok {
		t.Fatal("not parsed")
	}
	if _, ok := k.Rewrite(nil, []byte{ComProcessKill, 1, 0, 0, 0}, 1<<32); ok {
		t.Error("rewrote an id that does not fit 4 bytes")
	}
}

func TestHasKillPrefix(t *testing.T) {
	tests := []struct {
		payload []byte
		want    bool
	}{
		{query("KILL QUERY 1"), true},
		{query("kill 1"), true},
		{query("Kill/**/1"), true},
		{query("KILLER 1"), false},
		{query("KILL"), false},
		{query(" KILL 1"), false},
		{query("SELECT 1"), false},
		{append([]byte{ComStmtPrepare}, "KILL 1"...), false},
	}
	for _, tt := range tests {
		t.Run(string(tt.payload[1:]), func(t *testing.T) {
			if got := HasKillPrefix(tt.payload); got != tt.want {
				t.Errorf("HasKillPrefix(%q) = %v, want %v", tt.payload, got, tt.want)
			}
		})
	}
}

// FuzzParseKill checks that whatever a client sends, ParseKill does not
// panic, and that a rewrite is parsed back to the new id with everything
// around the id unchanged.
func FuzzParseKill(f *testing.F) {
	f.Add(query("KILL QUERY 12"), uint64(4321))
	f.Add(query("kill hard connection /* c */ 7 ;"), uint64(1))
	f.Add(query("KILL QUERY ID 12"), uint64(1))
	f.Add(query("KILL 1 -- x\n"), uint64(0))
	f.Add([]byte{ComProcessKill, 12, 0, 0, 0}, uint64(1<<32-1))
	f.Fuzz(func(t *testing.T, payload []byte, id uint64) {
		k, ok := ParseKill(payload)
		if !ok {
			return
		}
		got, ok := k.Rewrite(nil, payload, id)
		if !ok {
			if payload[0] != ComProcessKill || id < 1<<32 {
				t.Fatalf("Rewrite(%q, %d) refused", payload, id)
			}
			return
		}
		k2, ok := ParseKill(got)
		if !ok || k2.ID != id {
			t.Fatalf("rewrite %q of %q parses as %d, %v; want %d", got, payload, k2.ID, ok, id)
		}
		if !bytes.Equal(got[:k.start], payload[:k.start]) || !bytes.Equal(got[k2.end:], payload[k.end:]) {
			t.Fatalf("rewrite %q of %q changed more than the id", got, payload)
		}
		if payload[0] == ComProcessKill && binary.LittleEndian.Uint32(got[1:]) != uint32(id) {
			t.Fatalf("COM_PROCESS_KILL rewrite %x", got)
		}
	})
}
