package core_test

import (
	"strconv"
	"testing"

	"github.com/portico-db/portico/core"
)

// FuzzParseSessionID checks that a session id from a URL is accepted only
// in its one canonical spelling, so that no two paths name the same
// session.
func FuzzParseSessionID(f *testing.F) {
	for _, s := range []string{"1", "42", "07", "-1", "+1", "1e3", "0", "", "18446744073709551615", "18446744073709551616", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := core.ParseSessionID(s)
		if err != nil {
			if id != 0 {
				t.Fatalf("id %d returned with an error", id)
			}
			return
		}
		if id == 0 || id.String() != s {
			t.Fatalf("%q parsed as %d, which is spelled %q", s, id, id.String())
		}
		if n, err := strconv.ParseUint(s, 10, 64); err != nil || core.SessionID(n) != id {
			t.Fatalf("%q parsed as %d, strconv says %d, %v", s, id, n, err)
		}
	})
}
