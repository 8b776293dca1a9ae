package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
)

func TestServicesAndServers(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	// Three live sessions and a closed one on RW-Split-Router, one on
	// Read-Connection-Router: the services report 3 and 1 connections.
	for range 3 {
		f.reg.Open(core.Session{Service: "RW-Split-Router"})
	}
	f.reg.Open(core.Session{Service: "RW-Split-Router"}).Close()
	f.reg.Open(core.Session{Service: "Read-Connection-Router"})

	tests := []struct {
		path   string
		golden string
	}{
		{"/v1/services", "services_list.golden.json"},
		{"/v1/services/", "services_list.golden.json"},
		{"/v1/services/RW-Split-Router", "service_get.golden.json"},
		{"/v1/servers", "servers_list.golden.json"},
		{"/v1/servers/", "servers_list.golden.json"},
		{"/v1/servers/server2", "server_get.golden.json"},
		{"/v1/servers/server1/relationships/monitors", "server_monitors.golden.json"},
		{"/v1/monitors", "monitors_list.golden.json"},
		{"/v1/monitors/MariaDB-Monitor", "monitor_get.golden.json"},
		{"/v1/monitors/MariaDB-Monitor/relationships/servers", "monitor_servers.golden.json"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := f.get(t, seedHost, tt.path, admin)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d: %s", res.status, res.body)
			}
			if ct := res.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden(t, tt.golden, res.body)
			if strings.Contains(string(res.body), "monpwd") {
				t.Errorf("the monitor's password is in %s", res.body)
			}
		})
	}
}

func TestUnknownMonitor(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	for _, path := range []string{"/v1/monitors/nope", "/v1/monitors/nope/relationships/servers", "/v1/monitors/MariaDB-Monitor/relationships/services"} {
		t.Run(path, func(t *testing.T) {
			res := f.get(t, seedHost, path, admin)
			if res.status != http.StatusNotFound {
				t.Fatalf("status = %d, want 404: %s", res.status, res.body)
			}
			var doc struct {
				Errors []struct {
					Detail string `json:"detail"`
				} `json:"errors"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil || len(doc.Errors) != 1 || doc.Errors[0].Detail == "" {
				t.Errorf("body %s is not one JSON:API error (%v)", res.body, err)
			}
		})
	}
}

func TestServiceConnections(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	hs := []*core.Handle{
		f.reg.Open(core.Session{Service: "RW-Split-Router"}),
		f.reg.Open(core.Session{Service: "RW-Split-Router"}),
		f.reg.Open(core.Session{Service: "Read-Connection-Router"}),
	}
	tests := []struct {
		name  string
		do    func()
		rw    int
		rconn int
	}{
		{"initial", func() {}, 2, 1},
		{"after a close", func() { hs[0].Close() }, 1, 1},
		{"after all closed", func() { hs[1].Close(); hs[2].Close() }, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			res := f.get(t, "", "/v1/services", admin)
			var doc struct {
				Data []struct {
					ID         string `json:"id"`
					Attributes struct {
						Connections int `json:"connections"`
					} `json:"attributes"`
				} `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil {
				t.Fatalf("%v: %s", err, res.body)
			}
			got := map[string]int{}
			for _, d := range doc.Data {
				got[d.ID] = d.Attributes.Connections
			}
			want := map[string]int{"RW-Split-Router": tt.rw, "Read-Connection-Router": tt.rconn}
			if len(got) != 2 || got["RW-Split-Router"] != tt.rw || got["Read-Connection-Router"] != tt.rconn {
				t.Errorf("connections = %v, want %v", got, want)
			}
		})
	}
}

func TestServicesAndServersNotFound(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		path   string
		detail string
	}{
		{"/v1/services/nope", "nope is not a service"},
		{"/v1/services/rw-split-router", "rw-split-router is not a service"},
		{"/v1/services/server1", "server1 is not a service"},
		{"/v1/servers/nope", "nope is not a server"},
		{"/v1/servers/RW-Split-Router", "RW-Split-Router is not a server"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := f.get(t, "", tt.path, admin)
			if res.status != http.StatusNotFound {
				t.Errorf("status = %d, want 404", res.status)
			}
			if want := errorBody(tt.detail); string(res.body) != want {
				t.Errorf("body = %s, want %s", res.body, want)
			}
		})
	}
}

func TestEmptyTopology(t *testing.T) {
	f := newFixture(t, fixtureOpts{topology: &core.Topology{}})
	for _, path := range []string{"/v1/services", "/v1/servers"} {
		t.Run(path, func(t *testing.T) {
			res := f.get(t, "", path, admin)
			var doc struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(res.body, &doc); err != nil || res.status != http.StatusOK {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if string(doc.Data) != "[]" {
				t.Errorf("data = %s, want []", doc.Data)
			}
		})
	}
}

func TestListenersAndRelationships(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	tests := []struct {
		path   string
		status int
		golden string
		detail string
	}{
		{path: "/v1/listeners", status: 200, golden: "listeners_list.golden.json"},
		{path: "/v1/listeners/RW-Split-Listener", status: 200, golden: "listener_get.golden.json"},
		{path: "/v1/services/RW-Split-Router/relationships/servers", status: 200, golden: "service_relationship_servers.golden.json"},
		{path: "/v1/services/RW-Split-Router/relationships/listeners/", status: 200, golden: "service_relationship_listeners.golden.json"},
		{path: "/v1/listeners/RW-Split-Listener/relationships/services", status: 200, golden: "listener_relationship_services.golden.json"},
		{path: "/v1/services/nope/relationships/servers", status: 404, detail: "nope is not a service"},
		{path: "/v1/listeners/nope", status: 404, detail: "nope is not a listener"},
		{path: "/v1/services/RW-Split-Router/relationships/filters", status: 404, detail: "RW-Split-Router has no filters relationship"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := f.get(t, seedHost, tt.path+"?pretty=false", admin)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.golden != "" {
				golden(t, tt.golden, res.body)
				return
			}
			if string(res.body) != errorBody(tt.detail) {
				t.Fatalf("body = %s, want %s", res.body, errorBody(tt.detail))
			}
		})
	}
}
