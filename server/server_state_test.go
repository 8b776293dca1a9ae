package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
)

// TestServerStateAttribute shows each state a monitor or the proxy can
// publish in the servers resource, spelled as MaxScale spells it.
func TestServerStateAttribute(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		name string
		st   *core.ServerState // nil leaves server2 unknown
		want string
	}{
		{name: "unknown", want: "Down"},
		{name: "master", st: &core.ServerState{Up: true, Role: core.RoleMaster, Monitored: true}, want: "Master, Running"},
		{name: "slave", st: &core.ServerState{Up: true, Role: core.RoleSlave, Monitored: true}, want: "Slave, Running"},
		{name: "running, as the proxy saw it", st: &core.ServerState{Up: true}, want: "Running"},
		{name: "down", st: &core.ServerState{Monitored: true}, want: "Down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.st != nil {
				f.states.Set("server2", *tt.st)
			}
			res := f.get(t, "", "/v1/servers/server2", admin)
			if res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			var doc struct {
				Data struct {
					Attributes struct {
						State string `json:"state"`
					} `json:"attributes"`
				} `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatal(err)
			}
			if got := doc.Data.Attributes.State; got != tt.want {
				t.Errorf("state = %q, want %q", got, tt.want)
			}
			// The collection agrees, and filters on the state as MaxCtrl
			// scripts do.
			list := decodeCollection(t, f.get(t, "", "/v1/servers?filter="+url.QueryEscape(`/attributes/state="`+tt.want+`"`), admin))
			if !slices.Contains(list.ids(), "server2") {
				t.Errorf("filtering on state %q does not find server2: %v", tt.want, list.ids())
			}
		})
	}
}

func TestMetricsServerUp(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		name string
		st   *core.ServerState // of server2; nil leaves it unknown
		want []string
		// absent must not appear.
		absent string
	}{
		{name: "unknown server has no series", want: []string{`portico_server_up{server="server1"} 1`}, absent: `server="server2"`},
		{name: "down", st: &core.ServerState{Monitored: true}, want: []string{`portico_server_up{server="server1"} 1`, `portico_server_up{server="server2"} 0`}},
		{name: "up again", st: &core.ServerState{Up: true}, want: []string{`portico_server_up{server="server2"} 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.st != nil {
				f.states.Set("server2", *tt.st)
			}
			res := f.get(t, "", "/metrics", admin)
			if res.status != http.StatusOK {
				t.Fatalf("status %d", res.status)
			}
			lines := strings.Split(string(res.body), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || l == w
				}
				if !found {
					t.Errorf("missing %q in:\n%s", w, metricLines(res.body, "portico_server"))
				}
			}
			if tt.absent != "" && strings.Contains(metricLines(res.body, "portico_server_up"), tt.absent) {
				t.Errorf("%q should have no series:\n%s", tt.absent, metricLines(res.body, "portico_server"))
			}
		})
	}
}

// TestServerLastModified: a server resource changes with its state too, so
// a client that asks whether it changed since the sessions last did is not
// told it has not after a monitor published a state.
func TestServerLastModified(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.openSeed(t)
	sessionsChanged := f.get(t, "", "/v1/sessions", admin).header.Get("Last-Modified")
	if sessionsChanged == "" {
		t.Fatal("sessions have no Last-Modified")
	}
	f.states.Set("server1", core.ServerState{Monitored: true})
	res := f.get(t, "", "/v1/servers/server1", headers("If-Modified-Since", sessionsChanged))
	if res.status != http.StatusOK {
		t.Errorf("status %d after the state changed, want 200 with the new state", res.status)
	}
	if !strings.Contains(string(res.body), `"state": "Down"`) {
		t.Errorf("body lacks the new state:\n%s", res.body)
	}
}
