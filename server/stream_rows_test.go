package server_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

func rowStrings(t *testing.T, list []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, raw := range list {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("row %s is not a JSON string: %v", raw, err)
		}
		out = append(out, s)
	}
	return out
}

func TestStreamRowsFormat(t *testing.T) {
	f := newFixture(t, fixtureOpts{interval: 10 * time.Millisecond})
	h := f.reg.Open(core.Session{Service: "RW-Split-Router", User: `al"ice\`, Remote: "10.0.0.1"})
	id := h.ID().String()
	fields := "&" + url.QueryEscape("fields[sessions]") + "="

	t.Run("bad parameters", func(t *testing.T) {
		for _, q := range []string{"?format=rows", "?format=xml", "?format=rows" + fields + "/", "?format=rows" + fields + "memory/total"} {
			_, resp, err := f.tryDial(t, "", basicHeader(), q)
			if err == nil || resp == nil || resp.StatusCode != 400 {
				t.Errorf("%s: dial err %v, response %v; want HTTP 400", q, err, resp)
			}
		}
	})

	c := f.dialQuery(t, "", basicHeader(), "?interval=50&format=rows"+fields+"user,nope,services,state")
	snap := readFrame(t, c, frameTimeout)
	rows := rowStrings(t, snap.Data)
	if len(rows) != 1 {
		t.Fatalf("snapshot rows %q", rows)
	}
	cols := strings.Split(rows[0], "\x1f")
	// id, user (escaped as JSON), nope (absent: empty), services (the
	// relationship object), state.
	if len(cols) != 5 || cols[0] != id || cols[1] != `"al\"ice\\"` || cols[2] != "" ||
		cols[3] != `[{"id":"RW-Split-Router","type":"services"}]` || cols[4] != `"Session Allocated"` {
		t.Fatalf("snapshot row columns %q", cols)
	}

	// A change to a column resends the whole row; one outside the columns
	// sends nothing.
	h.Update(func(s *core.Session) { s.State = core.StateReady; s.Remote = "10.0.0.2" })
	sentinel := f.reg.Open(core.Session{User: "sentinel"})
	ch := readChanges(t, c, frameTimeout)
	rows = rowStrings(t, ch.Updated)
	if len(rows) != 1 || !strings.HasPrefix(rows[0], id+"\x1f") || !strings.HasSuffix(rows[0], `"Session ready for routing"`) {
		t.Fatalf("updated rows %q", rows)
	}
	if added := rowStrings(t, ch.Added); len(added) != 1 || !strings.HasPrefix(added[0], sentinel.ID().String()+"\x1f\"sentinel\"") {
		t.Fatalf("added rows %q", added)
	}
	h.Update(func(s *core.Session) { s.Remote = "10.0.0.3" })
	sentinel.Close()
	ch = readChanges(t, c, frameTimeout)
	if len(ch.Updated) != 0 || !slices.Equal(ch.Removed, []string{sentinel.ID().String()}) {
		t.Fatalf("a change outside the columns: updated %s, removed %v", ch.raw, ch.Removed)
	}

	// Column order matters, so clients asking for another order get
	// their own rows.
	c2 := f.dialQuery(t, "", basicHeader(), "?interval=50&format=rows"+fields+"state,user")
	if got := rowStrings(t, readFrame(t, c2, frameTimeout).Data); !slices.Equal(got, []string{id + "\x1f" + `"Session ready for routing"` + "\x1f" + `"al\"ice\\"`}) {
		t.Fatalf("reordered columns: %q", got)
	}
}
