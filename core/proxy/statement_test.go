package proxy

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzStatementText checks the statement text the history keeps of a
// client's COM_QUERY or COM_STMT_PREPARE: a prefix of what was sent, at
// most statementLimit bytes, cut no more than a character short of the
// limit, and still valid UTF-8 when the statement was.
func FuzzStatementText(f *testing.F) {
	f.Add([]byte("SELECT 1"))
	f.Add([]byte(strings.Repeat("x", statementLimit-1) + "é"))
	f.Add([]byte(strings.Repeat("x", statementLimit-2) + "€"))
	f.Add([]byte(strings.Repeat("€", statementLimit)))
	f.Add(append(bytes.Repeat([]byte{0xE9}, statementLimit), 'x'))
	f.Fuzz(func(t *testing.T, b []byte) {
		got := statementText(b)
		if !strings.HasPrefix(string(b), got) {
			t.Fatal("the text kept is not a prefix of the statement")
		}
		if len(got) > statementLimit {
			t.Fatalf("kept %d bytes, limit %d", len(got), statementLimit)
		}
		if len(b) <= statementLimit && got != string(b) {
			t.Fatalf("a statement of %d bytes was cut to %d", len(b), len(got))
		}
		if len(b) > statementLimit && len(got) < statementLimit-utf8.UTFMax+1 {
			t.Fatalf("cut to %d bytes, more than a character short of %d", len(got), statementLimit)
		}
		if utf8.Valid(b) && !utf8.ValidString(got) {
			t.Fatalf("valid UTF-8 cut inside a character: ...%q", got[max(0, len(got)-8):])
		}
	})
}
