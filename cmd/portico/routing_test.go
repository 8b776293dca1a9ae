package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
)

// apiServer is a servers resource as a JSON:API client reads it.
type apiServer struct {
	ID         string `json:"id"`
	Attributes struct {
		State      string `json:"state"`
		Statistics struct {
			Connections int `json:"connections"`
		} `json:"statistics"`
	} `json:"attributes"`
}

// apiGet returns the body of an authenticated GET on the admin interface.
func apiGet(tb testing.TB, a *app, path string) []byte {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.adminAddr.String()+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", adminAuth())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %s %v: %s", path, resp.Status, err, body)
	}
	return body
}

func getServers(tb testing.TB, a *app) map[string]apiServer {
	tb.Helper()
	var doc struct {
		Data []apiServer `json:"data"`
	}
	if err := json.Unmarshal(apiGet(tb, a, "/v1/servers"), &doc); err != nil {
		tb.Fatal(err)
	}
	out := map[string]apiServer{}
	for _, s := range doc.Data {
		out[s.ID] = s
	}
	return out
}

// TestMonitoredService runs a whole Portico whose service has two entries
// for the real MariaDB and one for a closed port, watched by a mariadbmon
// monitor: the servers resource and /metrics show what the monitor found,
// and sessions spread over the two servers that are up.
func TestMonitoredService(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gonePort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	a := startApp(t, func(cfg *config.Config) {
		topo := &cfg.Topology
		real := topo.Servers[0]
		topo.Servers = append(topo.Servers,
			core.Server{Name: "gone", Address: "127.0.0.1", Port: gonePort},
			core.Server{Name: "mariadb2", Address: real.Address, Port: real.Port})
		topo.Services[0].Servers = []string{"mariadb1", "gone", "mariadb2"}
		topo.Services[0].RouterOptions = []string{"master"}
		topo.Monitors = []core.Monitor{{Name: "MariaDB-Monitor", Module: "mariadbmon", Servers: []string{"mariadb1", "gone", "mariadb2"},
			User: "maxuser", Password: "maxpwd", Interval: 100 * time.Millisecond, ConnectTimeout: 5 * time.Second}}
	})
	want := map[string]string{"mariadb1": "Master, Running", "mariadb2": "Master, Running", "gone": "Down"}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := getServers(t, a)
		ok := true
		for name, state := range want {
			ok = ok && got[name].Attributes.State == state
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("servers = %+v, want states %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	metrics := string(apiGet(t, a, "/metrics"))
	for _, line := range []string{`portico_server_up{server="gone"} 0`, `portico_server_up{server="mariadb1"} 1`, `portico_server_up{server="mariadb2"} 1`} {
		if !strings.Contains(metrics, "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	db := openDB(t, a.listenerAddr(), "maxpwd", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 4
	var conns []*sql.Conn
	for range n {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	servers := getServers(t, a)
	c1, c2, cg := servers["mariadb1"].Attributes.Statistics.Connections, servers["mariadb2"].Attributes.Statistics.Connections,
		servers["gone"].Attributes.Statistics.Connections
	if c1 != n/2 || c2 != n/2 || cg != 0 {
		t.Errorf("connections: mariadb1 %d, mariadb2 %d, gone %d; want %d, %d, 0", c1, c2, cg, n/2, n/2)
	}
	for _, c := range conns {
		c.Close()
	}
}
