package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// serversJSON is shaped like MaxScale's /v1/servers collection so the tests
// exercise the same paths MaxCtrl and the GUI filter on.
const serversJSON = `[
{"id":"server1","type":"servers",
 "attributes":{"state":"Master, Running","parameters":{"address":"127.0.0.1","port":3306},
   "statistics":{"connections":5,"max_connections":10},
   "tags":["a","b"],"weight":1.5,"maintenance":false,"gtid":null},
 "relationships":{"services":{"data":[{"id":"RW-Split-Router","type":"services"},{"id":"Read-Only","type":"services"}],
   "links":{"self":"http://localhost:8989/v1/servers/server1/relationships/services/"}},
   "monitors":{"data":[{"id":"MariaDB-Monitor","type":"monitors"}]}},
 "links":{"self":"http://localhost:8989/v1/servers/server1/"}},
{"id":"server2","type":"servers",
 "attributes":{"state":"Slave, Running","parameters":{"address":"127.0.0.1","port":3307},
   "statistics":{"connections":0,"max_connections":3},
   "tags":[],"weight":2,"maintenance":true},
 "relationships":{"services":{"data":[{"id":"Read-Only","type":"services"}]}},
 "links":{"self":"http://localhost:8989/v1/servers/server2/"}},
{"id":"server3","type":"servers",
 "attributes":{"state":"Down","parameters":{"address":"db3","port":"3306"}},
 "links":{"self":"http://localhost:8989/v1/servers/server3/"}}
]`

func servers(t testing.TB) []map[string]any {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(serversJSON), &rows); err != nil {
		t.Fatal(err)
	}
	return rows
}

func decode(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func canon(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantError checks that err is an *Error for param whose message contains
// every fragment, the contract the HTTP layer builds its 400s on.
func wantError(t *testing.T, err error, param string, fragments ...string) {
	t.Helper()
	var qe *Error
	if !errors.As(err, &qe) {
		t.Fatalf("error = %v (%T), want *Error", err, err)
	}
	if qe.Param != param {
		t.Errorf("Param = %q, want %q", qe.Param, param)
	}
	for _, f := range fragments {
		if !strings.Contains(qe.Error(), f) {
			t.Errorf("error %q does not contain %q", qe.Error(), f)
		}
	}
	if qe.Error() != qe.Param+": "+qe.Detail {
		t.Errorf("Error() = %q, want Param: Detail", qe.Error())
	}
}
