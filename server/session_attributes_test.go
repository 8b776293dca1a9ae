package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

// richSession opens a session with every attribute filled as the proxy
// fills it: login data, a backend, traffic, statements and memory.
func richSession(t *testing.T, f *fixture) *core.Handle {
	t.Helper()
	f.clock.Set(utc(9, 0, 0, 0))
	h := f.reg.Open(core.Session{
		Service: "RW-Split-Router", Remote: "127.0.0.1", Port: 51234,
		Memory: core.Memory{ClientBuffer: 32768, Capture: 4129},
	})
	h.Update(func(s *core.Session) {
		s.State = core.StateReady
		s.User, s.Database = "maxuser", "portico_demo"
		s.Attributes = map[string]string{"_client_name": "Go-MySQL-Driver", "_os": "linux"}
		s.Backends = []core.BackendConn{{Server: "server1", ThreadID: 77, Cipher: "TLS_AES_256_GCM_SHA384"}}
		s.ClientCipher = "TLS_AES_128_GCM_SHA256"
		s.Memory.BackendBuffer = 32768
	})
	h.RetainStatements(2)
	h.StatementReceived("COM_QUERY", "SELECT 1", utc(9, 0, 1, 0))
	second := h.StatementReceived("COM_STMT_PREPARE", "SELECT ?", utc(9, 0, 2, 0))
	h.StatementCompleted(second, "server1", utc(9, 0, 2, 12))
	h.StatementReceived("COM_QUERY", "SELECT SLEEP(1)", utc(9, 0, 3, 500))
	h.CountIn(300, 4)
	h.CountOut(900, 11)
	h.CountQuery()
	h.CountQuery()
	for _, at := range []time.Time{utc(8, 59, 0, 0), utc(9, 0, 3, 0), utc(9, 0, 3, 500)} {
		h.IO(at)
	}
	f.clock.Set(utc(9, 0, 10, 250))
	return h
}

func TestSessionAttributes(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture) *core.Handle
		// want maps attributes to their exact JSON; "-" means left out.
		want map[string]string
	}{
		{
			name:  "a session in use",
			setup: richSession,
			want: map[string]string{
				"user":          `"maxuser"`,
				"remote":        `"127.0.0.1"`,
				"port":          `51234`,
				"database":      `"portico_demo"`,
				"idle":          `6.7`,
				"seconds_alive": `10.25`,
				"io_activity":   `2`,
				"connections":   `[{"server":"server1","connection_id":77,"cipher":"TLS_AES_256_GCM_SHA384"}]`,
				"client":        `{"cipher":"TLS_AES_128_GCM_SHA256","connection_attributes":{"_client_name":"Go-MySQL-Driver","_os":"linux"}}`,
				"queries": `[{"command":"COM_STMT_PREPARE","statement":"SELECT ?","received":"2017-07-17T11:00:02.000","completed":"2017-07-17T11:00:02.012","responses":[{"server":"server1","duration":12}]},` +
					`{"command":"COM_QUERY","statement":"SELECT SLEEP(1)","received":"2017-07-17T11:00:03.500","responses":[]}]`,
				"log":            `[]`,
				"bytes_in":       `300`,
				"bytes_out":      `900`,
				"packets_in":     `4`,
				"packets_out":    `11`,
				"queries_total":  `2`,
				"last_activity":  `"2017-07-17T09:00:03.5Z"`,
				"last_statement": `{"command":"COM_QUERY","statement":"SELECT SLEEP(1)","received":"2017-07-17T09:00:03.5Z"}`,
			},
		},
		{
			name: "the last statement, answered, without retained statements",
			setup: func(t *testing.T, f *fixture) *core.Handle {
				h := f.reg.Open(core.Session{Service: "RW-Split-Router", Remote: "127.0.0.1", Port: 40001})
				ticket := h.StatementReceived("COM_QUERY", "SELECT 2", utc(9, 0, 1, 0))
				h.StatementCompleted(ticket, "server1", utc(9, 0, 1, 40))
				return h
			},
			want: map[string]string{
				"queries":        `[]`,
				"last_statement": `{"command":"COM_QUERY","statement":"SELECT 2","received":"2017-07-17T09:00:01Z","completed":"2017-07-17T09:00:01.04Z","server":"server1","duration":40}`,
			},
		},
		{
			name: "idle is 0 while a command runs",
			setup: func(t *testing.T, f *fixture) *core.Handle {
				h := richSession(t, f)
				h.InFlight(1)
				return h
			},
			want: map[string]string{"idle": `0`, "last_activity": `"2017-07-17T09:00:03.5Z"`},
		},
		{
			name: "unknown or absent values",
			setup: func(t *testing.T, f *fixture) *core.Handle {
				return f.reg.Open(core.Session{Service: "RW-Split-Router", Remote: "127.0.0.1", Port: 40000})
			},
			want: map[string]string{
				"state": `"Session Allocated"`, "user": "-", "database": `null`, "connections": `[]`,
				"client": `{"cipher":"","connection_attributes":null}`, "queries": `[]`, "io_activity": `0`, "last_statement": `null`,
				"memory": `{"client_buffer":0,"backend_buffer":0,"capture":0,"statements":0,"total":0}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{})
			h := tt.setup(t, f)
			res := f.get(t, "", "/v1/sessions/"+h.ID().String()+"?pretty=false", admin)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var doc struct {
				Data struct {
					Attributes map[string]json.RawMessage `json:"attributes"`
				} `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatal(err)
			}
			for attr, want := range tt.want {
				got, ok := doc.Data.Attributes[attr]
				switch {
				case want == "-" && ok:
					t.Errorf("%s = %s, want it left out", attr, got)
				case want != "-" && string(got) != want:
					t.Errorf("%s = %s, want %s", attr, got, want)
				}
			}
		})
	}
}

// TestSessionMemory checks the memory attribute adds up, statements
// included.
func TestSessionMemory(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	h := richSession(t, f)
	s, err := f.reg.Get(h.ID())
	if err != nil {
		t.Fatal(err)
	}
	res := f.get(t, "", "/v1/sessions/"+h.ID().String(), admin)
	var doc struct {
		Data struct {
			Attributes struct {
				Memory struct {
					ClientBuffer  int `json:"client_buffer"`
					BackendBuffer int `json:"backend_buffer"`
					Capture       int `json:"capture"`
					Statements    int `json:"statements"`
					Total         int `json:"total"`
				} `json:"memory"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	m := doc.Data.Attributes.Memory
	if m.ClientBuffer != 32768 || m.BackendBuffer != 32768 || m.Capture != 4129 {
		t.Errorf("memory = %+v", m)
	}
	if m.Statements < len("SELECT ?")+len("SELECT SLEEP(1)") || m.Statements != s.Memory.Statements {
		t.Errorf("statements = %d, want at least the retained text and %d", m.Statements, s.Memory.Statements)
	}
	if m.Total != m.ClientBuffer+m.BackendBuffer+m.Capture+m.Statements {
		t.Errorf("total %d is not the sum of %+v", m.Total, m)
	}
}

// TestFilterNewAttributes filters the collection on each new scalar
// attribute. The collection reads them through a fast path that must agree
// with the JSON it serves.
func TestFilterNewAttributes(t *testing.T) {
	tests := []struct {
		filter string
		want   int // sessions matched, of the rich one and a bare one
	}{
		{`/attributes/port=51234`, 1},
		{`/attributes/port=gt(0)`, 1},
		{`/attributes/database="portico_demo"`, 1},
		{`/attributes/database=null`, 1},
		{`/attributes/seconds_alive=gt(10)`, 1},
		{`/attributes/io_activity=2`, 1},
		{`/attributes/bytes_in=300`, 1},
		{`/attributes/bytes_out=ge(900)`, 1},
		{`/attributes/packets_in=4`, 1},
		{`/attributes/packets_out=lt(11)`, 1},
		{`/attributes/queries_total=0`, 1},
		{`/attributes/last_activity="2017-07-17T09:00:03.5Z"`, 1},
		{`/attributes/user="maxuser"`, 1},
		{`/attributes/user=ne("maxuser")`, 0},
		{`/attributes/memory/total=gt(0)`, 1},
	}
	f := newFixture(t, fixtureOpts{})
	richSession(t, f)
	f.reg.Open(core.Session{Service: "RW-Split-Router"})
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			res := f.get(t, "", "/v1/sessions?filter="+url.QueryEscape(tt.filter), admin)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var doc struct {
				Data []json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Data) != tt.want {
				t.Errorf("%d sessions match, want %d", len(doc.Data), tt.want)
			}
		})
	}
}
