package server

import (
	"encoding/json"
	"log/slog"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/server/query"
)

// dashboardFields is the fieldset the dashboard's WASM client streams with.
const dashboardFields = "state,user,remote,connected,idle,last_activity,io_activity,bytes_in,bytes_out,queries_total,connections,last_statement,services"

// parseSessionFields parses a fields[sessions] value as the stream does.
func parseSessionFields(tb testing.TB, value string) query.Fields {
	tb.Helper()
	f, err := query.ParseFields(url.Values{"fields[sessions]": {value}}, "sessions")
	if err != nil {
		tb.Fatalf("parse fields %q: %v", value, err)
	}
	return f
}

// openBusySession opens a session as a proxy leaves it after some work, so
// that its resource has every member a real one has: a default database,
// connection attributes, two backends, kept statements, counters and a
// running last statement whose text needs escaping.
func openBusySession(reg *core.Registry, i int, at time.Time) *core.Handle {
	h := reg.Open(core.Session{
		Service: "RW-Split-Router", State: core.StateReady, User: "app" + strconv.Itoa(i%50),
		Database: "shop", Remote: "10.0." + strconv.Itoa(i/250%250) + "." + strconv.Itoa(i%250), Port: 40000 + i%20000,
		Attributes: map[string]string{"_client_name": "libmariadb", "_os": "Linux", "program_name": "shop <worker> & co"},
		Backends:   []core.BackendConn{{Server: "server1", ThreadID: uint32(1000 + i)}, {Server: "server2", ThreadID: uint32(90000 + i)}},
		Memory:     core.Memory{ClientBuffer: 16384, BackendBuffer: 16384, Capture: 512},
	})
	h.RetainStatements(2)
	tk := h.StatementReceived("COM_QUERY", "SELECT * FROM orders WHERE id = "+strconv.Itoa(i), at)
	h.StatementCompleted(tk, "server1", at.Add(3*time.Millisecond))
	h.StatementReceived("COM_QUERY", `UPDATE carts SET note = 'a "quoted" \ path' WHERE id = `+strconv.Itoa(i), at.Add(time.Second))
	h.CountIn(1200+i, 12)
	h.CountOut(48000+i, 40)
	h.CountQuery()
	h.IO(at.Add(time.Second))
	return h
}

// fieldsGroup is a started group with fieldset fields over n busy
// sessions, for timing snapshots.
func fieldsGroup(b *testing.B, n int, fields string, rows bool) *group {
	b.Helper()
	reg := core.NewRegistry(nil)
	at := time.Now().Add(-time.Minute)
	for i := range n {
		openBusySession(reg, i, at)
	}
	q := streamQuery{interval: time.Hour}
	if fields != "" {
		q.fields = parseSessionFields(b, fields)
	}
	if rows {
		var err error
		if q.columns, err = rowColumns(q.fields); err != nil {
			b.Fatal(err)
		}
	}
	g := newGroup(newHub(reg, "bench", StreamConfig{}, slog.New(slog.DiscardHandler)), "k", linker{base: "http://127.0.0.1:8989/v1"}, q)
	go g.start()
	b.Cleanup(g.stop)
	<-g.ready
	return g
}

// BenchmarkStreamSnapshotFields encodes a 10k-session snapshot for a client
// joining with a fieldset: the dashboard's (every path one name), one with
// a nested path (which takes the generic path), and none, for comparison.
func BenchmarkStreamSnapshotFields(b *testing.B) {
	for _, bc := range []struct {
		name, fields string
		rows         bool
	}{
		{"none", "", false},
		{"dashboard", dashboardFields, false},
		{"dashboard-rows", dashboardFields, true},
		{"nested", "state,user,memory/total", false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchSnapshots(b, fieldsGroup(b, 10_000, bc.fields, bc.rows))
		})
	}
}

// benchSnapshots times what a client joining g costs the server: a
// snapshot planned afresh and encoded.
func benchSnapshots(b *testing.B, g *group) {
	b.ReportAllocs()
	for b.Loop() {
		sub := &subscriber{wake: make(chan struct{}, 1)}
		g.mu.Lock()
		g.snap = nil
		j := g.snapshotLocked(sub, "")
		g.mu.Unlock()
		if _, err := j.snapshot.encode(g.h); err != nil {
			b.Fatal(err)
		}
		g.leave(sub)
	}
}

// BenchmarkAppendProjected is the flat fieldset's own cost per session, on
// top of encoding the whole resource: trimming a busy session's bytes to the
// dashboard's fieldset.
func BenchmarkAppendProjected(b *testing.B) {
	reg := core.NewRegistry(nil)
	at := time.Now()
	h := openBusySession(reg, 1, at.Add(-time.Minute))
	s, err := reg.Get(h.ID())
	if err != nil {
		b.Fatal(err)
	}
	res, err := json.Marshal(linker{base: "http://127.0.0.1:8989/v1"}.session(s, at))
	if err != nil {
		b.Fatal(err)
	}
	names, all, _ := parseSessionFields(b, dashboardFields).Names()
	dst := make([]byte, 0, len(res))
	b.SetBytes(int64(len(res)))
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = appendProjected(dst[:0], res, names, all); err != nil {
			b.Fatal(err)
		}
	}
}
