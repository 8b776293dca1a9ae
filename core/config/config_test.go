package config_test

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
)

const good = `# a MaxScale-style file
[maxscale]
admin_host=0.0.0.0
admin_port=9999
query_retries=2

[db1]
type=server
address=127.0.0.1
port=3307

[db2]
type=server
address=10.0.0.2

[Read-Connection-Router]
type=service
router=readconnroute
servers=db1, db2
user=maxuser
password=maxpwd

[Read-Connection-Listener]
type=listener
service=Read-Connection-Router
address=127.0.0.1
port=4008

[MariaDB-Monitor]
type=monitor
module=mariadbmon
servers=db1,db2
user=monuser
password=monpwd

[Galera-Monitor]
type=monitor
module=galeramon
servers=db1
`

func TestParseGood(t *testing.T) {
	cfg, err := config.Parse("maxscale.cnf", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminHost != "0.0.0.0" || cfg.AdminPort != 9999 {
		t.Errorf("admin = %s:%d", cfg.AdminHost, cfg.AdminPort)
	}
	want := core.Topology{
		Servers: []core.Server{{Name: "db1", Address: "127.0.0.1", Port: 3307}, {Name: "db2", Address: "10.0.0.2", Port: 3306}},
		Services: []core.Service{{Name: "Read-Connection-Router", Router: "readconnroute",
			Servers: []string{"db1", "db2"}, User: "maxuser", Password: "maxpwd"}},
		Listeners: []core.Listener{{Name: "Read-Connection-Listener", Service: "Read-Connection-Router", Address: "127.0.0.1", Port: 4008}},
		Monitors: []core.Monitor{{Name: "MariaDB-Monitor", Module: "mariadbmon", Servers: []string{"db1", "db2"}, User: "monuser", Password: "monpwd",
			Interval: config.DefaultMonitorInterval, ConnectTimeout: config.DefaultMonitorConnectTimeout}},
	}
	if got := cfg.Topology; !equalTopology(got, want) {
		t.Errorf("topology = %+v\nwant %+v", got, want)
	}
	joined := strings.Join(cfg.Warnings, "\n")
	for _, w := range []string{`maxscale.cnf:5: [maxscale]: parameter "query_retries"`, "maxscale.cnf:38: [Galera-Monitor]: module=galeramon is not supported yet"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
}

func equalTopology(a, b core.Topology) bool {
	if len(a.Servers) != len(b.Servers) || len(a.Services) != len(b.Services) || len(a.Listeners) != len(b.Listeners) ||
		len(a.Monitors) != len(b.Monitors) {
		return false
	}
	for i := range a.Monitors {
		x, y := a.Monitors[i], b.Monitors[i]
		if x.Name != y.Name || x.Module != y.Module || x.User != y.User || x.Password != y.Password ||
			x.Interval != y.Interval || x.ConnectTimeout != y.ConnectTimeout || strings.Join(x.Servers, ",") != strings.Join(y.Servers, ",") {
			return false
		}
	}
	for i := range a.Servers {
		if !reflect.DeepEqual(a.Servers[i], b.Servers[i]) {
			return false
		}
	}
	for i := range a.Services {
		x, y := a.Services[i], b.Services[i]
		if x.Name != y.Name || x.Router != y.Router || x.User != y.User || x.Password != y.Password || strings.Join(x.Servers, ",") != strings.Join(y.Servers, ",") ||
			strings.Join(x.RouterOptions, ",") != strings.Join(y.RouterOptions, ",") {
			return false
		}
	}
	for i := range a.Listeners {
		if !reflect.DeepEqual(a.Listeners[i], b.Listeners[i]) {
			return false
		}
	}
	return true
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	const base = "[db1]\ntype=server\naddress=127.0.0.1\n[svc]\ntype=service\nrouter=readconnroute\nservers=db1\n"
	tests := []struct {
		name, in, want string
	}{
		{"no equals", "[db1]\ntype=server\naddress 127.0.0.1\n", `my.cnf:3: expected 'key=value' or '[section]', got "address 127.0.0.1"`},
		{"unclosed header", "[db1\n", `my.cnf:1: section header "[db1" is missing its closing ']'`},
		{"key before section", "type=server\n", `my.cnf:1: parameter "type" appears before any [section]`},
		{"duplicate section", base + "[db1]\ntype=server\n", "my.cnf:8: section [db1] is already defined on line 1"},
		{"duplicate key", "[db1]\ntype=server\ntype=server\n", `my.cnf:3: parameter "type" is already set on line 2`},
		{"missing type", "[x]\naddress=1\n", "my.cnf:1: [x] has no type parameter"},
		{"unknown type", "[x]\n\ntype=router\n", `my.cnf:3: [x] has unknown type "router"`},
		{"bad port", "[db1]\ntype=server\naddress=h\nport=99999\n", `my.cnf:4: port="99999" is not a port number`},
		{"unknown server", "[db1]\ntype=server\naddress=h\n[svc]\ntype=service\nrouter=readconnroute\nservers=db1,db9\n", `my.cnf:7: [svc] refers to server "db9", which is not defined`},
		{"unknown service", base + "[l]\ntype=listener\nservice=nope\nport=4006\n", `my.cnf:10: [l] refers to service "nope", which is not defined`},
		{"listener without port", base + "[l]\ntype=listener\nservice=svc\n", "my.cnf:8: [l] needs port"},
		{"service without router", "[db1]\ntype=server\naddress=h\n[svc]\ntype=service\nservers=db1\n", "my.cnf:4: [svc] needs router"},
		{"no listener", base, "my.cnf: no listener is defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("my.cnf", strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRetainLastStatements(t *testing.T) {
	const rest = "[db1]\ntype=server\naddress=h\n" +
		"[a]\ntype=service\nrouter=readconnroute\nservers=db1\n%s" +
		"[b]\ntype=service\nrouter=readconnroute\nservers=db1\n" +
		"[l]\ntype=listener\nservice=a\nport=4006\n"
	tests := []struct {
		name         string
		global, svcA string // lines to add, or ""
		wantA, wantB int
		wantErr      string
	}{
		{name: "default keeps none"},
		{name: "global applies to every service", global: "retain_last_statements=5\n", wantA: 5, wantB: 5},
		{name: "a service overrides the global", global: "retain_last_statements=5\n", svcA: "retain_last_statements=2\n", wantA: 2, wantB: 5},
		{name: "a service can turn it off", global: "retain_last_statements=5\n", svcA: "retain_last_statements=0\n", wantA: 0, wantB: 5},
		{name: "negative", svcA: "retain_last_statements=-1\n", wantErr: `my.cnf:9: retain_last_statements="-1" is not a count`},
		{name: "not a number", global: "retain_last_statements=lots\n", wantErr: `my.cnf:2: retain_last_statements="lots" is not a count`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := "[maxscale]\n" + tt.global + fmt.Sprintf(rest, tt.svcA)
			cfg, ok := parse(t, strings.NewReader(in), tt.wantErr)
			if !ok {
				return
			}
			if a, b := cfg.Topology.Services[0].RetainLastStatements, cfg.Topology.Services[1].RetainLastStatements; a != tt.wantA || b != tt.wantB {
				t.Errorf("retain a=%d b=%d, want %d %d", a, b, tt.wantA, tt.wantB)
			}
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "retain_last_statements") {
					t.Errorf("warned about a supported parameter: %s", w)
				}
			}
		})
	}
}

func TestThreads(t *testing.T) {
	const rest = "[db1]\ntype=server\naddress=h\n" +
		"[a]\ntype=service\nrouter=readconnroute\nservers=db1\n" +
		"[l]\ntype=listener\nservice=a\nport=4006\n"
	tests := []struct {
		name    string
		line    string // in [maxscale], or ""
		want    int
		wantErr string
	}{
		{name: "unset is auto"},
		{name: "auto", line: "threads=auto\n"},
		{name: "a number", line: "threads=3\n", want: 3},
		{name: "zero", line: "threads=0\n", wantErr: `my.cnf:2: threads="0" is neither auto nor a number`},
		{name: "words", line: "threads=many\n", wantErr: `my.cnf:2: threads="many" is neither auto nor a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := parse(t, strings.NewReader("[maxscale]\n"+tt.line+rest), tt.wantErr)
			if !ok {
				return
			}
			if cfg.Threads != tt.want {
				t.Errorf("Threads = %d, want %d", cfg.Threads, tt.want)
			}
			if len(cfg.Warnings) > 0 {
				t.Errorf("warnings for a supported parameter: %q", cfg.Warnings)
			}
		})
	}
}

func TestTLSSettings(t *testing.T) {
	const layout = "[db1]\ntype=server\naddress=h\n%s" +
		"[svc]\ntype=service\nrouter=readconnroute\nservers=db1\n" +
		"[l]\ntype=listener\nservice=svc\nport=4006\n%s"
	tests := []struct {
		name             string
		server, listener string // lines to add
		wantServer       core.Server
		wantListener     core.Listener
		wantErr          string
	}{
		{name: "plain by default",
			wantServer:   core.Server{Name: "db1", Address: "h", Port: 3306},
			wantListener: core.Listener{Name: "l", Service: "svc", Address: "::", Port: 4006}},
		{name: "everything set",
			server:       "ssl=true\nssl_ca=/ca.pem\nssl_cert=/c.pem\nssl_key=/k.pem\nssl_verify_peer_certificate=yes\nssl_verify_peer_host=true\n",
			listener:     "ssl=on\nssl_cert=/lc.pem\nssl_key=/lk.pem\nssl_ca=/lca.pem\nssl_verify_peer_certificate=true\n",
			wantServer:   core.Server{Name: "db1", Address: "h", Port: 3306, SSL: true, SSLCA: "/ca.pem", SSLCert: "/c.pem", SSLKey: "/k.pem", SSLVerifyPeerCertificate: true, SSLVerifyPeerHost: true},
			wantListener: core.Listener{Name: "l", Service: "svc", Address: "::", Port: 4006, SSL: true, SSLCert: "/lc.pem", SSLKey: "/lk.pem", SSLCA: "/lca.pem", SSLVerifyPeerCertificate: true}},
		{name: "server ssl without a client certificate", server: "ssl=1\n",
			wantServer:   core.Server{Name: "db1", Address: "h", Port: 3306, SSL: true},
			wantListener: core.Listener{Name: "l", Service: "svc", Address: "::", Port: 4006}},
		{name: "listener ssl without cert and key", listener: "ssl=true\n",
			wantErr: "my.cnf:12: [l] sets ssl=true but not ssl_cert and ssl_key"},
		{name: "listener ssl without key", listener: "ssl=true\nssl_cert=/c.pem\n",
			wantErr: "my.cnf:12: [l] sets ssl=true but not ssl_key"},
		{name: "listener ssl without cert", listener: "ssl_key=/k.pem\nssl=true\n",
			wantErr: "my.cnf:13: [l] sets ssl=true but not ssl_cert"},
		{name: "not a boolean", listener: "ssl=required\n",
			wantErr: `my.cnf:12: ssl="required": not a boolean`},
		{name: "verify not a boolean", server: "ssl_verify_peer_certificate=maybe\n",
			wantErr: `my.cnf:4: ssl_verify_peer_certificate="maybe": not a boolean`},
		{name: "host check not a boolean", server: "ssl_verify_peer_host=2\n",
			wantErr: `my.cnf:4: ssl_verify_peer_host="2": not a boolean`},
		{name: "server client cert without key", server: "ssl=true\nssl_cert=/c.pem\n",
			wantErr: "my.cnf:5: [db1] sets only one of ssl_cert and ssl_key"},
		{name: "ssl_version lists",
			server:       "ssl=true\nssl_version=tlsv13\n",
			listener:     "ssl=true\nssl_cert=/c.pem\nssl_key=/k.pem\nssl_version=TLSv12, TLSv13\n",
			wantServer:   core.Server{Name: "db1", Address: "h", Port: 3306, SSL: true, SSLVersions: []string{"TLSv13"}},
			wantListener: core.Listener{Name: "l", Service: "svc", Address: "::", Port: 4006, SSL: true, SSLCert: "/c.pem", SSLKey: "/k.pem", SSLVersions: []string{"TLSv12", "TLSv13"}}},
		{name: "ssl_version MAX is the default", server: "ssl=true\nssl_version=MAX\n",
			wantServer:   core.Server{Name: "db1", Address: "h", Port: 3306, SSL: true},
			wantListener: core.Listener{Name: "l", Service: "svc", Address: "::", Port: 4006}},
		{name: "unknown ssl_version", listener: "ssl_version=SSLv3\n",
			wantErr: `my.cnf:12: ssl_version="SSLv3": unknown version "SSLv3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, ok := parse(t, strings.NewReader(fmt.Sprintf(layout, tt.server, tt.listener)), tt.wantErr)
			if !ok {
				return
			}
			if got := cfg.Topology.Servers[0]; !reflect.DeepEqual(got, tt.wantServer) {
				t.Errorf("server = %+v\nwant %+v", got, tt.wantServer)
			}
			if got := cfg.Topology.Listeners[0]; !reflect.DeepEqual(got, tt.wantListener) {
				t.Errorf("listener = %+v\nwant %+v", got, tt.wantListener)
			}
			for _, w := range cfg.Warnings {
				if strings.Contains(w, "ssl") {
					t.Errorf("warned about a supported parameter: %s", w)
				}
			}
		})
	}
}

// parse parses r as my.cnf. If wantErr is set, parsing must fail with an
// error containing it, and ok is false; otherwise it must succeed.
func parse(t *testing.T, r io.Reader, wantErr string) (cfg *config.Config, ok bool) {
	t.Helper()
	cfg, err := config.Parse("my.cnf", r)
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want %q", err, wantErr)
		}
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg, true
}
