package proxy_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/monitor"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// realAs is the test MariaDB under another server name, so that one real
// server can play several.
func realAs(tb testing.TB, name string) core.Server {
	srv := testMariaDB(tb)
	srv.Name = name
	return srv
}

// connect opens one session through the proxy and returns the connection,
// or the driver's error.
func connect(tb testing.TB, db *sql.DB) (*sql.Conn, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err == nil {
		// The driver's first round trip proves the login went through.
		err = conn.PingContext(ctx)
	}
	return conn, err
}

// perServer counts the registry's sessions by the server they are on.
func perServer(reg *core.Registry) map[string]int {
	n := map[string]int{}
	for _, s := range sessions(reg) {
		for _, b := range s.Backends {
			n[b.Server]++
		}
	}
	return n
}

// expectMySQLError checks err is the driver's *mysql.MySQLError number.
func expectMySQLError(tb testing.TB, err error, number uint16, msg string) {
	tb.Helper()
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != number {
		tb.Fatalf("connect: %v, want MySQL error %d", err, number)
	}
	if !strings.Contains(me.Message, msg) {
		tb.Errorf("message = %q, want it to contain %q", me.Message, msg)
	}
}

// TestFewestConnections opens sessions one after another on a service of
// two real servers and one that is down: they spread evenly over the two,
// the down one is passed over, and a session that ends frees its place.
func TestFewestConnections(t *testing.T) {
	states := core.NewServerStates()
	p := startProxy(t, proxy.Config{States: states}, realAs(t, "db1"), closedPort(t, "down"), realAs(t, "db2"))
	db := openDB(t, p.addr, "maxpwd", "")
	db.SetMaxIdleConns(0)
	const n = 7
	var conns []*sql.Conn
	for i := range n {
		c, err := connect(t, db)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	waitSessions(t, p.reg, n)
	got := perServer(p.reg)
	if got["down"] != 0 || got["db1"]+got["db2"] != n || abs(got["db1"]-got["db2"]) > 1 {
		t.Errorf("sessions per server = %v, want %d spread over db1 and db2 within one", got, n)
	}
	if st, ok := states.Get("down"); !ok || st.Up || st.Monitored {
		t.Errorf("state of the down server = %+v (known %v), want Down as the proxy saw it", st, ok)
	}
	// Close every session on db1: the next two go there, whatever the
	// order of the configuration.
	for _, c := range conns {
		var thread uint32
		if err := c.QueryRowContext(context.Background(), "SELECT CONNECTION_ID()").Scan(&thread); err != nil {
			t.Fatal(err)
		}
		for _, s := range sessions(p.reg) {
			if len(s.Backends) == 1 && s.Backends[0].ThreadID == thread && s.Backends[0].Server == "db1" {
				c.Close()
			}
		}
	}
	waitSessions(t, p.reg, n-got["db1"])
	for range 2 {
		if _, err := connect(t, db); err != nil {
			t.Fatal(err)
		}
	}
	waitSessions(t, p.reg, n-got["db1"]+2)
	if after := perServer(p.reg); after["db1"] != 2 || after["db2"] != got["db2"] {
		t.Errorf("after closing db1's sessions and opening two, sessions per server = %v, want db1:2 db2:%d", after, got["db2"])
	}
}

func abs(x int) int { return max(x, -x) }

// TestRoutingFollowsStates routes with states a monitor would have
// published. Both servers are the real MariaDB, so only the states decide.
func TestRoutingFollowsStates(t *testing.T) {
	master := core.ServerState{Up: true, Role: core.RoleMaster, Monitored: true}
	slave := core.ServerState{Up: true, Role: core.RoleSlave, Monitored: true}
	running := core.ServerState{Up: true, Monitored: true}
	down := core.ServerState{Monitored: true}
	tests := []struct {
		name       string
		options    []string
		db1, db2   core.ServerState
		wantServer string // "" expects the ERR
	}{
		{name: "running skips a server the monitor found down", db1: down, db2: master, wantServer: "db2"},
		{name: "running takes a server of no role", options: []string{"running"}, db1: down, db2: running, wantServer: "db2"},
		{name: "master", options: []string{"master"}, db1: slave, db2: master, wantServer: "db2"},
		{name: "slave", options: []string{"slave"}, db1: master, db2: slave, wantServer: "db2"},
		{name: "master or slave", options: []string{"master", "slave"}, db1: running, db2: slave, wantServer: "db2"},
		{name: "slave falls back to the master", options: []string{"slave"}, db1: down, db2: master, wantServer: "db2"},
		{name: "slave with neither slave nor master", options: []string{"slave"}, db1: running, db2: down},
		{name: "master with only slaves", options: []string{"master"}, db1: slave, db2: slave},
		{name: "every server down", db1: down, db2: down},
		{name: "synced, which no monitor publishes", options: []string{"synced"}, db1: master, db2: slave},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states := core.NewServerStates()
			states.Set("db1", tt.db1)
			states.Set("db2", tt.db2)
			p := startProxyService(t, proxy.Config{States: states},
				core.Service{User: "maxuser", Password: "maxpwd", RouterOptions: tt.options}, realAs(t, "db1"), realAs(t, "db2"))
			_, err := connect(t, openDB(t, p.addr, "maxpwd", ""))
			if tt.wantServer == "" {
				expectMySQLError(t, err, mysqlwire.CRConnHostError, "could not connect to any server of service 'svc'")
				waitSessions(t, p.reg, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			waitSessions(t, p.reg, 1)
			if got := perServer(p.reg); got[tt.wantServer] != 1 {
				t.Errorf("sessions per server = %v, want one on %s", got, tt.wantServer)
			}
		})
	}
}

// TestMovesPastFailingServers puts a failing server first: the session
// must land on the real one behind it, within the login's time, and the
// client hears of a failure only when every server fails.
func TestMovesPastFailingServers(t *testing.T) {
	tooMany := packet(0, []byte("\xff\x10\x04Too many connections"))
	tests := []struct {
		name    string
		first   func(t *testing.T) core.Server
		noReal  bool
		wantErr uint16
		wantMsg string
	}{
		{name: "refused", first: func(t *testing.T) core.Server { return closedPort(t, "bad") }},
		{name: "stalls without a greeting", first: func(t *testing.T) core.Server { return startBackend(t, "bad", silent).srv }},
		{name: "hangs up", first: func(t *testing.T) core.Server { return startBackend(t, "bad", sendAndClose(nil)).srv }},
		{name: "too many connections", first: func(t *testing.T) core.Server { return startBackend(t, "bad", sendAndClose(tooMany)).srv }},
		{name: "only a refused server", first: func(t *testing.T) core.Server { return closedPort(t, "bad") }, noReal: true,
			wantErr: mysqlwire.CRConnHostError, wantMsg: "could not connect to any server of service 'svc'"},
		{name: "only a stalled server", first: func(t *testing.T) core.Server { return startBackend(t, "bad", silent).srv }, noReal: true,
			wantErr: mysqlwire.ERHandshakeError, wantMsg: "Lost connection to server 'bad' during handshake"},
		{name: "only a full server", first: func(t *testing.T) core.Server { return startBackend(t, "bad", sendAndClose(tooMany)).srv }, noReal: true,
			wantErr: 1040, wantMsg: "Too many connections"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers := []core.Server{tt.first(t)}
			if !tt.noReal {
				servers = append(servers, realAs(t, "real"))
			}
			// A stalled server holds each try for the connect timeout; were
			// it not passed over, the login's time would run out on it.
			p := startProxy(t, proxy.Config{ConnectTimeout: 300 * time.Millisecond, AuthTimeout: 3 * time.Second}, servers...)
			_, err := connect(t, openDB(t, p.addr, "maxpwd", ""))
			if tt.wantErr != 0 {
				expectMySQLError(t, err, tt.wantErr, tt.wantMsg)
				waitSessions(t, p.reg, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			waitSessions(t, p.reg, 1)
			if got := perServer(p.reg); got["real"] != 1 {
				t.Errorf("sessions per server = %v, want one on real", got)
			}
		})
	}
}

// TestMonitoredRouting runs a real monitor beside the proxy: it marks the
// closed port Down and the real server "Master, Running", and sessions are
// routed by what it found.
func TestMonitoredRouting(t *testing.T) {
	real, gone := realAs(t, "real"), closedPort(t, "gone")
	tests := []struct {
		name       string
		options    []string
		wantServer string
	}{
		{name: "running", wantServer: "real"},
		{name: "master", options: []string{"master"}, wantServer: "real"},
		{name: "slave falls back to the master", options: []string{"slave"}, wantServer: "real"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states := core.NewServerStates()
			topo := &core.Topology{Servers: []core.Server{gone, real}}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				monitor.Run(ctx, monitor.Config{Topology: topo, States: states, Monitor: core.Monitor{
					Name: "mon", Servers: []string{"gone", "real"}, User: "maxuser", Password: "maxpwd",
					Interval: 50 * time.Millisecond, ConnectTimeout: 5 * time.Second}})
			}()
			t.Cleanup(func() {
				cancel()
				<-done
			})
			waitFor(t, 10*time.Second, "the monitor's first round", func() bool {
				a, aok := states.Get("real")
				b, bok := states.Get("gone")
				return aok && bok && a.String() == "Master, Running" && b.String() == "Down"
			})
			p := startProxyService(t, proxy.Config{States: states},
				core.Service{User: "maxuser", Password: "maxpwd", RouterOptions: tt.options}, gone, real)
			if _, err := connect(t, openDB(t, p.addr, "maxpwd", "")); err != nil {
				t.Fatal(err)
			}
			waitSessions(t, p.reg, 1)
			if got := perServer(p.reg); got[tt.wantServer] != 1 {
				t.Errorf("sessions per server = %v, want one on %s", got, tt.wantServer)
			}
		})
	}
}
