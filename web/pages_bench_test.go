package web_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/web"
)

// BenchmarkHomePage10k is the server's share of the first paint at 10,000
// sessions: listing, filtering, sorting and rendering the first rows.
func BenchmarkHomePage10k(b *testing.B) {
	reg := core.NewRegistry(nil)
	for i := range 10_000 {
		h := reg.Open(core.Session{Service: "RW-Split-Router", State: core.StateReady, User: "user" + strconv.Itoa(i%50),
			Remote: "10.0.0." + strconv.Itoa(i%250), Connected: time.Now()})
		h.Update(func(s *core.Session) { s.Backends = []core.BackendConn{{Server: "server1", ThreadID: uint32(i)}} })
		h.StatementReceived("COM_QUERY", "SELECT * FROM orders WHERE id = "+strconv.Itoa(i), time.Now())
		h.CountIn(i, 1)
	}
	pages := web.NewPages(reg, topo, nil, nil, nil, slog.New(slog.DiscardHandler))
	for _, q := range []string{"/", "/?sort=-in", "/?q=orders+where+id+%3D+99"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				pages.ServeHTTP(w, httptest.NewRequest(http.MethodGet, q, nil))
				if w.Code != http.StatusOK {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
