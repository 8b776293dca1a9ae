package proxy_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// TestServiceStatsFromRealSessions drives the real MariaDB through the proxy
// and checks what the service's statistics count once the sessions have
// closed: statements are counted and timed, and only a login the backend
// refuses is an authentication failure.
func TestServiceStatsFromRealSessions(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		name    string
		servers func(t *testing.T) []core.Server
		run     func(t *testing.T, p *testProxy)
		// wantQueries is both the statements counted and those timed.
		wantQueries, wantAuthFailures uint64
	}{
		{
			name: "text and prepared statements",
			run: func(t *testing.T, p *testProxy) {
				db := openDB(t, p.addr, "maxpwd", "")
				db.SetMaxOpenConns(1)
				ctx := t.Context()
				var n int
				if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, "DO SLEEP(0.01)"); err != nil {
					t.Fatal(err)
				}
				// A statement with arguments is prepared, executed
				// (COM_STMT_EXECUTE) and closed: one statement.
				if err := db.QueryRowContext(ctx, "SELECT ? + 1", 41).Scan(&n); err != nil || n != 42 {
					t.Fatalf("SELECT ? + 1: %d, %v", n, err)
				}
				db.Close()
			},
			wantQueries: 3,
		},
		{
			name: "wrong password",
			run: func(t *testing.T, p *testProxy) {
				if err := openDB(t, p.addr, "wrong", "").PingContext(t.Context()); err == nil {
					t.Fatal("login with a wrong password succeeded")
				}
			},
			wantAuthFailures: 1,
		},
		{
			name: "unknown database",
			run: func(t *testing.T, p *testProxy) {
				if err := openDB(t, p.addr, "maxpwd", "portico_no_such_db").PingContext(t.Context()); err == nil {
					t.Fatal("login to an unknown database succeeded")
				}
			},
			wantAuthFailures: 1,
		},
		{
			name: "COM_CHANGE_USER refused",
			run: func(t *testing.T, p *testProxy) {
				c := rawLogin(t, p)
				cu := append([]byte{mysqlwire.ComChangeUser}, "maxuser\x00\x14"...)
				cu = append(cu, bytes.Repeat([]byte{7}, 20)...)
				cu = append(cu, "\x00\x2d\x00mysql_native_password\x00"...)
				if err := mysqlwire.WritePacket(c, 0, cu); err != nil {
					t.Fatal(err)
				}
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var reply []byte
				for {
					seq, pkt, err := mysqlwire.ReadPacket(c, 0)
					if err != nil {
						t.Fatal(err)
					}
					if len(pkt) == 0 || pkt[0] != 0xfe {
						reply = pkt
						break
					}
					// The server asks for the user's own plugin: answer
					// with a scramble no password produces.
					if err := mysqlwire.WritePacket(c, seq+1, bytes.Repeat([]byte{9}, 20)); err != nil {
						t.Fatal(err)
					}
				}
				if e, err := mysqlwire.ParseErrPacket(reply); err != nil || e.Code != mysqlwire.ERAccessDenied {
					t.Fatalf("reply %q, want ERR %d", reply, mysqlwire.ERAccessDenied)
				}
				c.Close()
			},
			wantAuthFailures: 1,
		},
		{
			name:    "no server reachable is no authentication failure",
			servers: func(t *testing.T) []core.Server { return []core.Server{closedPort(t, "gone")} },
			run: func(t *testing.T, p *testProxy) {
				if err := openDB(t, p.addr, "maxpwd", "").PingContext(t.Context()); err == nil {
					t.Fatal("connected through a proxy with no server")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers := []core.Server{srv}
			if tt.servers != nil {
				servers = tt.servers(t)
			}
			p := startProxy(t, proxy.Config{}, servers...)
			tt.run(t, p)
			waitSessions(t, p.reg, 0)
			st := p.reg.ServiceStats()[serviceName]
			if st.Connects == 0 {
				t.Errorf("connects = 0, want the sessions opened")
			}
			if st.Traffic.Queries != tt.wantQueries || st.QueryDuration.Count != tt.wantQueries {
				t.Errorf("queries %d, timed %d; want %d each", st.Traffic.Queries, st.QueryDuration.Count, tt.wantQueries)
			}
			if st.AuthFailures != tt.wantAuthFailures {
				t.Errorf("auth failures = %d, want %d", st.AuthFailures, tt.wantAuthFailures)
			}
			if st.Traffic.BytesOut == 0 || st.Traffic.PacketsOut == 0 {
				// Every case sent the client something, if only an ERR.
				t.Errorf("traffic %+v: the closed sessions' client bytes are not counted", st.Traffic)
			}
			if tt.wantQueries > 0 && st.QueryDuration.Sum < 10*time.Millisecond {
				// DO SLEEP(0.01) alone took that long.
				t.Errorf("statements took %v in all, less than the SLEEP in them", st.QueryDuration.Sum)
			}
		})
	}
}

// TestKillCountsOnce kills a real session through the registry twice; the
// service counts one kill.
func TestKillCountsOnce(t *testing.T) {
	p := startProxy(t, proxy.Config{}, testMariaDB(t))
	db := openDB(t, p.addr, "maxpwd", "")
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	list := waitSessions(t, p.reg, 1)
	if err := p.reg.Kill(list[0].ID); err != nil {
		t.Fatal(err)
	}
	// The session may be gone already; if not, it is stopping, and this is
	// the same kill.
	_ = p.reg.Kill(list[0].ID)
	waitSessions(t, p.reg, 0)
	if err := conn.PingContext(context.Background()); err == nil {
		t.Error("the killed session still answers")
	}
	if k := p.reg.ServiceStats()[serviceName].Kills; k != 1 {
		t.Errorf("kills = %d, want 1", k)
	}
}
