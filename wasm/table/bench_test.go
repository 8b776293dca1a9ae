package table_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/portico-db/portico/wasm/table"
	"github.com/portico-db/portico/web/sessionview"
)

// snapshot10k is a 10,000-session snapshot in the stream's 500-session
// chunks, each chunk's rows joined as the client joins them.
func snapshot10k() []string {
	var chunks []string
	for c := range 20 {
		var list []string
		for i := range 500 {
			list = append(list, row(strconv.Itoa(c*500+i+1), "user"+strconv.Itoa(i%40), "Session ready for routing", "Read-Write-Service"))
		}
		chunks = append(chunks, rows(list...))
	}
	return chunks
}

func applySnapshot(tb *table.Table, chunks []string) {
	for i, c := range chunks {
		tb.Apply(table.Frame{Type: "snapshot", Rows: c, More: i < len(chunks)-1}, t0)
	}
}

// BenchmarkSnapshot10k is the client's cost of taking in a 10,000-session
// snapshot once the browser has parsed each chunk's JSON and joined its
// rows: splitting them, applying them, ordering the table and rendering
// the first screen. Run under GOOS=js GOARCH=wasm (go tool task
// bench:client) for the browser's figure.
func BenchmarkSnapshot10k(b *testing.B) {
	chunks := snapshot10k()
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	b.SetBytes(int64(n))
	for b.Loop() {
		tb := newTable(sessionview.View{Sort: "id"})
		applySnapshot(tb, chunks)
		if tb.Rows(t0) != 10_000 {
			b.Fatal("rows lost")
		}
		var sb strings.Builder
		tb.Render(&sb, 0, 50, t0)
	}
}

// BenchmarkResort10k is the first sort of 10,000 sessions on another
// column, which decodes every row.
func BenchmarkResort10k(b *testing.B) {
	chunks := snapshot10k()
	for b.Loop() {
		tb := newTable(sessionview.View{Sort: "id"})
		applySnapshot(tb, chunks)
		tb.Rows(t0)
		tb.SetView(sessionview.View{Sort: "user", Desc: true})
		if tb.Rows(t0) != 10_000 {
			b.Fatal("rows lost")
		}
	}
}
