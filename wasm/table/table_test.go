package table_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web/sessionview"
)

const t0 = 1500282720000 // 2017-07-17T09:12:00Z

const answered = `{"command":"COM_QUERY","statement":"SELECT 1","received":"2017-07-17T09:11:58.4Z","completed":"2017-07-17T09:11:58.5Z","server":"server1","duration":100}`

// row is a session as the stream's rows format carries it, in
// table.Columns order.
func row(id, user, state, service string) string {
	return strings.Join([]string{id, `"` + state + `"`, `"` + user + `"`, `"127.0.0.1"`, `"Mon Jul 17 11:10:39 2017"`,
		`"2017-07-17T09:11:58.5Z"`, `2`, `300`, `900`, `2`, `[{"server":"server1","connection_id":77}]`, answered,
		`[{"id":"` + service + `","type":"services"}]`}, "\x1f")
}

func rows(r ...string) string { return strings.Join(r, "\x1e") }

func newTable(view sessionview.View) *table.Table { return table.New(table.Columns, view) }

func order(t *table.Table) []uint64 {
	var out []uint64
	for i := range t.Len() {
		out = append(out, t.ID(i))
	}
	return out
}

func tbRows(tb *table.Table, now int64) *table.Table {
	tb.Rows(now + table.ReorderMS)
	return tb
}

func render(tb *table.Table, now int64) string {
	var b strings.Builder
	tb.Render(&b, 0, tb.Len(), now)
	return b.String()
}

func TestDecodeRow(t *testing.T) {
	tb := newTable(sessionview.View{Sort: "id"})
	tb.Apply(table.Frame{Type: "snapshot", Epoch: "e1", Rev: "42", Rows: rows(strings.Replace(row("7", "x", "Session ready for routing", "RW"), `"x"`, `"b\u00f6b"`, 1))}, t0)
	want := sessionview.Session{ID: 7, User: "böb", Remote: "127.0.0.1", Service: "RW", Server: "server1", ServerConn: 77,
		State: "Session ready for routing", Connected: "Mon Jul 17 11:10:39 2017", LastActivity: t0 - 1500, IO: 2,
		BytesIn: 300, BytesOut: 900, Queries: 2, Statement: "SELECT 1", StatementAt: t0 - 1600, StatementMS: 100}
	if got, ok := tb.Session(7); !ok || got != want || tb.Epoch != "e1" || tb.Rev != "42" {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// Absent fields (a session without a user) are empty values, and a
	// short row leaves the rest empty.
	tb.Apply(table.Frame{Type: "changes", Rev: "43", Updated: "7\x1f\"Session Allocated\"\x1f\x1f\"::1\""}, t0)
	if got, _ := tb.Session(7); got.User != "" || got.Remote != "::1" || got.State != "Session Allocated" || got.Service != "" {
		t.Fatalf("short row: %+v", got)
	}
	if tb.Counts()["allocated"] != 1 || tb.Counts()["ready"] != 0 {
		t.Fatalf("counts %v", tb.Counts())
	}
}

func TestApply(t *testing.T) {
	tb := newTable(sessionview.View{Sort: "id"})
	// A snapshot in two chunks shows nothing until the last.
	if tb.Apply(table.Frame{Type: "snapshot", Epoch: "e", Rev: "5", More: true, Rows: row("1", "alice", "Session ready for routing", "RW")}, t0) {
		t.Fatal("first chunk completed the snapshot")
	}
	if n := tb.Rows(t0); n != 0 {
		t.Fatalf("%d rows before the snapshot ended", n)
	}
	if !tb.Apply(table.Frame{Type: "snapshot", Epoch: "e", Rev: "5", Rows: rows(row("2", "bob", "Session Allocated", "RO"), row("3", "carol", "Session ready for routing", "RO"))}, t0) {
		t.Fatal("last chunk did not complete the snapshot")
	}
	if got := order(tbRows(tb, t0)); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("order %v", got)
	}
	if tb.Live() != 3 || tb.Counts()["ready"] != 2 || tb.Counts()["allocated"] != 1 {
		t.Fatalf("live %d counts %v", tb.Live(), tb.Counts())
	}

	// Changes: 2 leaves, 4 arrives, 3 gets a new state and statement.
	changed := strings.Replace(row("3", "carol", "Stopping session", "RO"), answered,
		`{"command":"COM_QUERY","statement":"SELECT SLEEP(9)","received":"2017-07-17T09:12:00.5Z"}`, 1)
	tb.Apply(table.Frame{Type: "changes", Epoch: "e", Rev: "9", Time: t0 + 1000, Rows: row("4", "dave", "Session ready for routing", "RW"),
		Updated: changed, Removed: []uint64{2}}, t0+1000)
	if tb.Rev != "9" || tb.ServerNow(t0+1500) != t0+1500 {
		t.Fatalf("rev %q, server now %d", tb.Rev, tb.ServerNow(t0+1500))
	}
	if tb.Live() != 3 || tb.Counts()["allocated"] != 0 || tb.Counts()["stopping"] != 1 {
		t.Fatalf("live %d counts %v", tb.Live(), tb.Counts())
	}
	// The removed row stays, marked, until its mark runs out.
	html := render(tbRows(tb, t0+1300), t0+1500)
	for _, want := range []string{`data-session-id="2" id="session-2" class="row-removed"`, `data-session-id="4" id="session-4" class="row-added"`,
		`data-session-id="3" id="session-3" class="row-changed"`, `<span class="dur running">1.0 s</span>SELECT SLEEP(9)`} {
		if !strings.Contains(html, want) {
			t.Errorf("render lacks %s", want)
		}
	}
	if s, _ := tb.Session(3); s.User != "carol" || !s.Running() {
		t.Fatalf("update lost fields or running state: %+v", s)
	}
	if _, ok := tb.Session(2); ok {
		t.Fatal("a removed session is still offered")
	}
	if !tb.Expire(t0 + 1000 + table.MarkMS) {
		t.Fatal("nothing expired")
	}
	if got := order(tbRows(tb, t0+5000)); !slices.Equal(got, []uint64{1, 3, 4}) {
		t.Fatalf("order after expiry %v", got)
	}
	if strings.Contains(render(tb, t0+5000), "row-") {
		t.Fatal("marks survived their expiry")
	}

	// A reset drops the resume point; the next snapshot replaces everything.
	tb.Apply(table.Frame{Type: "reset", Reason: "expired"}, t0+6000)
	if tb.Epoch != "" || tb.Rev != "" {
		t.Fatal("reset kept the resume point")
	}
	tb.Apply(table.Frame{Type: "snapshot", Epoch: "f", Rev: "1", Rows: row("9", "erin", "Session ready for routing", "RW")}, t0+7000)
	if got := order(tbRows(tb, t0+7000)); !slices.Equal(got, []uint64{9}) || tb.Live() != 1 {
		t.Fatalf("after reset and snapshot: %v, live %d", got, tb.Live())
	}

	// A snapshot cut short by a disconnect is forgotten.
	tb.Apply(table.Frame{Type: "snapshot", Epoch: "g", Rev: "2", More: true, Rows: row("10", "x", "Session ready for routing", "RW")}, t0+8000)
	tb.Disconnected()
	tb.Apply(table.Frame{Type: "snapshot", Epoch: "g", Rev: "3", Rows: row("11", "y", "Session ready for routing", "RW")}, t0+9000)
	if got := order(tbRows(tb, t0+9000)); !slices.Equal(got, []uint64{11}) {
		t.Fatalf("after a cut snapshot: %v", got)
	}
}

func TestSortAndFilter(t *testing.T) {
	tb := newTable(sessionview.View{Sort: "id"})
	tb.Apply(table.Frame{Type: "snapshot", Epoch: "e", Rev: "1", Rows: rows(
		row("1", "zed", "Session ready for routing", "RW"),
		row("2", "amy", "Session Allocated", "RO"),
		row("3", "max", "Session ready for routing", "RO"))}, t0)
	tests := []struct {
		name string
		view sessionview.View
		want []uint64
	}{
		{"id descending", sessionview.View{Sort: "id", Desc: true}, []uint64{3, 2, 1}},
		{"user ascending", sessionview.View{Sort: "user"}, []uint64{2, 3, 1}},
		{"user descending", sessionview.View{Sort: "user", Desc: true}, []uint64{1, 3, 2}},
		{"service filter", sessionview.View{Sort: "id", Service: "RO"}, []uint64{2, 3}},
		{"state filter", sessionview.View{Sort: "id", State: "ready"}, []uint64{1, 3}},
		{"search", sessionview.View{Sort: "id", Query: "AM"}, []uint64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb.SetView(tt.view)
			tb.Rows(t0) // a new view applies at once
			if got := order(tb); !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
		})
	}

	// An update that moves a row under a sorted column reorders it, but
	// not before ReorderMS has passed since the last sort.
	tb.SetView(sessionview.View{Sort: "user"})
	tb.Rows(t0)
	tb.Apply(table.Frame{Type: "changes", Epoch: "e", Rev: "2", Updated: row("1", "aaron", "Session ready for routing", "RW")}, t0+10)
	tb.Rows(t0 + 10)
	if got := order(tb); !slices.Equal(got, []uint64{2, 3, 1}) {
		t.Fatalf("reordered too soon: %v", got)
	}
	tb.Rows(t0 + table.ReorderMS)
	if got := order(tb); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("not reordered: %v", got)
	}
	if users := tb.Users(); !slices.Equal(users, []string{"aaron", "amy", "max"}) {
		t.Fatalf("users %v", users)
	}
	if c := tb.ServiceCounts(); c["RO"] != 2 || c["RW"] != 1 {
		t.Fatalf("service counts %v", c)
	}
}

func TestDecodeDetail(t *testing.T) {
	text := `{"data":{"id":"5","type":"sessions","attributes":{"state":"Session ready for routing","user":"u","port":51234,"database":"shop",` +
		`"client":{"connection_attributes":{"_os":"linux","_client_name":"libmariadb"}},"parameters":{"log_info":true,"log_notice":false,"log_warning":true,"log_error":true},` +
		`"memory":{"total":4096},"packets_in":4,"packets_out":11,"connections":[{"server":"s1","connection_id":9}],` +
		`"queries":[{"command":"COM_QUERY","statement":"SELECT 1","received":"2017-07-17T11:00:01.000","responses":[{"server":"s1","duration":3}]},{"command":"COM_QUERY","statement":"SELECT SLEEP(5)","received":"2017-07-17T11:00:02.000","responses":[]}]},` +
		`"relationships":{"services":{"data":[{"id":"RW","type":"services"}]}}},"links":{"self":"x"}}`
	d, err := table.DecodeDetail(text)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != 5 || d.Service != "RW" || d.Port != 51234 || d.Database != "shop" || d.Memory != 4096 || d.PacketsOut != 11 || !d.Log.Info || d.Log.Notice ||
		len(d.Attributes) != 2 || d.Attributes[0].Name != "_client_name" || len(d.Connections) != 1 ||
		len(d.Statements) != 2 || d.Statements[0].MS != 3 || d.Statements[1].MS != -1 || d.ServerConn != 9 {
		t.Fatalf("detail %+v", d)
	}
}

// FuzzRows feeds arbitrary rows through every path that decodes them.
func FuzzRows(f *testing.F) {
	f.Add(rows(row("1", "a", "Session ready for routing", "RW"), row("2", "b", "Stopping session", "RO")), "3\x1f\"x\"")
	f.Add("1\x1f{\x1f[\x1e\x1e9", "7\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull\x1fnull")
	f.Fuzz(func(t *testing.T, snapshot, update string) {
		tb := newTable(sessionview.View{Sort: "idle", Query: "a"})
		tb.Apply(table.Frame{Type: "snapshot", Rows: snapshot}, t0)
		tb.Apply(table.Frame{Type: "changes", Updated: update, Rows: update}, t0)
		tb.Rows(t0)
		var b strings.Builder
		tb.Render(&b, 0, tb.Len(), t0)
		tb.Users()
		tb.ServiceCounts()
	})
}
