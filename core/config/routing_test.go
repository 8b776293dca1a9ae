package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
)

// routingBase has two servers, a listener for service svc and room for the
// service's and a monitor's lines: svc starts on line 7.
const routingBase = "[db1]\ntype=server\naddress=h1\n" +
	"[db2]\ntype=server\naddress=h2\n" +
	"[svc]\ntype=service\nrouter=readconnroute\nservers=db1,db2\n"

const routingListener = "[l]\ntype=listener\nservice=svc\nport=4006\n"

func TestRouterOptions(t *testing.T) {
	tests := []struct {
		name     string
		line     string // added to [svc] on line 11
		want     []string
		wantErr  string
		wantWarn string
	}{
		{name: "default is empty, read as running"},
		{name: "one role", line: "router_options=slave\n", want: []string{"slave"}},
		{name: "several roles, spaced and upper case", line: "router_options= Master , SLAVE\n", want: []string{"master", "slave"}},
		{name: "running", line: "router_options=running\n", want: []string{"running"}},
		{name: "synced warns", line: "router_options=synced\n", want: []string{"synced"},
			wantWarn: "my.cnf:11: [svc]: router_options=synced needs a Galera monitor"},
		{name: "unknown role", line: "router_options=master,primary\n",
			wantErr: `my.cnf:11: [svc]: router_options=master,primary: unknown server role "primary"`},
		{name: "empty", line: "router_options= , \n", wantErr: "my.cnf:11: [svc]: router_options is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := parse(t, strings.NewReader(routingBase+tt.line+routingListener), tt.wantErr)
			if !ok {
				return
			}
			if got := cfg.Topology.Services[0].RouterOptions; !slices.Equal(got, tt.want) {
				t.Errorf("router options = %q, want %q", got, tt.want)
			}
			joined := strings.Join(cfg.Warnings, "\n")
			if tt.wantWarn != "" && !strings.Contains(joined, tt.wantWarn) {
				t.Errorf("warnings lack %q:\n%s", tt.wantWarn, joined)
			}
			if tt.wantWarn == "" && strings.Contains(joined, "router_options") {
				t.Errorf("warned about router_options:\n%s", joined)
			}
		})
	}
}

func TestMonitors(t *testing.T) {
	// The monitor section starts on line 15, its parameters on 17.
	const head = "[mon]\ntype=monitor\n"
	tests := []struct {
		name     string
		lines    string
		want     []core.Monitor
		wantErr  string
		wantWarn string
	}{
		{name: "defaults", lines: "module=mariadbmon\nservers=db1,db2\nuser=mon\npassword=pw\n",
			want: []core.Monitor{{Name: "mon", Module: "mariadbmon", Servers: []string{"db1", "db2"}, User: "mon", Password: "pw",
				Interval: 2 * time.Second, ConnectTimeout: 3 * time.Second}}},
		{name: "units", lines: "module=mariadbmon\nservers=db2\nuser=mon\nmonitor_interval=500ms\nbackend_connect_timeout=2s\n",
			want: []core.Monitor{{Name: "mon", Module: "mariadbmon", Servers: []string{"db2"}, User: "mon",
				Interval: 500 * time.Millisecond, ConnectTimeout: 2 * time.Second}}},
		{name: "bare numbers as MaxScale reads them", lines: "module=mariadbmon\nservers=db1\nuser=mon\nmonitor_interval=1500\nbackend_connect_timeout=4\n",
			want: []core.Monitor{{Name: "mon", Module: "mariadbmon", Servers: []string{"db1"}, User: "mon",
				Interval: 1500 * time.Millisecond, ConnectTimeout: 4 * time.Second}}},
		{name: "another module is ignored with a warning", lines: "module=galeramon\nservers=db1\n",
			wantWarn: "my.cnf:17: [mon]: module=galeramon is not supported yet and the monitor is ignored"},
		{name: "unknown parameter warns", lines: "module=mariadbmon\nservers=db1\nuser=mon\nauto_failover=true\n",
			want: []core.Monitor{{Name: "mon", Module: "mariadbmon", Servers: []string{"db1"}, User: "mon",
				Interval: 2 * time.Second, ConnectTimeout: 3 * time.Second}},
			wantWarn: `my.cnf:20: [mon]: parameter "auto_failover" is not supported yet`},
		{name: "no module", lines: "servers=db1\nuser=mon\n", wantErr: "my.cnf:15: [mon] needs module"},
		{name: "no servers", lines: "module=mariadbmon\nuser=mon\n", wantErr: "my.cnf:15: [mon] needs servers"},
		{name: "no user", lines: "module=mariadbmon\nservers=db1\n", wantErr: "my.cnf:15: [mon] needs user"},
		{name: "unknown server", lines: "module=mariadbmon\nservers=db1,db9\nuser=mon\n",
			wantErr: `my.cnf:18: [mon] refers to server "db9", which is not defined`},
		{name: "lists no servers", lines: "module=mariadbmon\nservers= ,\nuser=mon\n", wantErr: "my.cnf:18: [mon] lists no servers"},
		{name: "bad interval", lines: "module=mariadbmon\nservers=db1\nuser=mon\nmonitor_interval=soon\n",
			wantErr: `my.cnf:20: monitor_interval="soon": not a duration`},
		{name: "zero timeout", lines: "module=mariadbmon\nservers=db1\nuser=mon\nbackend_connect_timeout=0s\n",
			wantErr: `my.cnf:20: backend_connect_timeout="0s": must be more than zero`},
		{name: "a server in two monitors", lines: "module=mariadbmon\nservers=db1\nuser=mon\n[mon2]\ntype=monitor\nmodule=mariadbmon\nservers=db2,db1\nuser=mon\n",
			wantErr: `my.cnf:23: [mon2]: server "db1" is already monitored by [mon]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := parse(t, strings.NewReader(routingBase+routingListener+head+tt.lines), tt.wantErr)
			if !ok {
				return
			}
			got := cfg.Topology.Monitors
			if len(got) != len(tt.want) {
				t.Fatalf("monitors = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.Name != w.Name || g.Module != w.Module || !slices.Equal(g.Servers, w.Servers) || g.User != w.User ||
					g.Password != w.Password || g.Interval != w.Interval || g.ConnectTimeout != w.ConnectTimeout {
					t.Errorf("monitor = %+v, want %+v", g, w)
				}
			}
			joined := strings.Join(cfg.Warnings, "\n")
			if tt.wantWarn != "" && !strings.Contains(joined, tt.wantWarn) {
				t.Errorf("warnings lack %q:\n%s", tt.wantWarn, joined)
			}
			if tt.wantWarn == "" && len(cfg.Warnings) > 0 {
				t.Errorf("unexpected warnings:\n%s", joined)
			}
		})
	}
}
