package proxy_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// sleeper is a session running SELECT SLEEP(20) through the proxy.
type sleeper struct {
	portico core.SessionID
	thread  uint32
	done    chan error // the sleep's outcome: nil if SLEEP returned 1
}

// startSleeper opens a session through p whose Portico id differs from its
// backend thread id, so that a KILL only reaches it if the proxy rewrote
// the id, and starts SELECT SLEEP(20) on it.
func startSleeper(t *testing.T, p *testProxy, db *sql.DB) *sleeper {
	t.Helper()
	ctx := t.Context()
	for range 5 {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		var thread uint32
		if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&thread); err != nil {
			t.Fatal(err)
		}
		var id core.SessionID
		for _, s := range sessions(p.reg) {
			if len(s.Backends) > 0 && s.Backends[0].ThreadID == thread {
				id = s.ID
			}
		}
		if id == 0 {
			t.Fatalf("no session has backend thread %d", thread)
		}
		if uint64(id) == uint64(thread) {
			// Keep it open so the next session gets other ids.
			continue
		}
		sl := &sleeper{portico: id, thread: thread, done: make(chan error, 1)}
		go func() {
			var r int
			err := conn.QueryRowContext(ctx, "SELECT SLEEP(20)").Scan(&r)
			if err == nil && r != 1 {
				err = fmt.Errorf("SLEEP returned %d, not interrupted", r)
			}
			sl.done <- err
		}()
		// Wait until the backend runs it, so a KILL QUERY has a query to kill.
		waitFor(t, 5*time.Second, "the sleep to start", func() bool {
			for _, s := range sessions(p.reg) {
				if s.ID == id {
					return s.Busy
				}
			}
			return false
		})
		time.Sleep(200 * time.Millisecond)
		return sl
	}
	t.Fatal("every session's Portico id equalled its backend thread id")
	return nil
}

// killedPromptly waits for the sleep to end and checks it ended as killed.
func (sl *sleeper) killedPromptly(t *testing.T, connection bool) {
	t.Helper()
	select {
	case err := <-sl.done:
		var me *mysql.MySQLError
		switch {
		case err == nil && !connection:
			// SLEEP returns 1 when its query is killed.
		case errors.As(err, &me) && me.Number == 1317:
		case err != nil && connection:
			// The connection went away; the driver says so in its own words.
		default:
			t.Errorf("sleep ended with %v, want it killed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the sleep was not interrupted within 10s of the KILL")
	}
}

// rawLogin opens a protocol-level connection through p, for commands
// go-sql-driver cannot send.
func rawLogin(t *testing.T, p *testProxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := mysqlwire.ClientHandshake(ctx, c, "maxuser", "maxpwd"); err != nil {
		t.Fatal(err)
	}
	return c
}

func expectOK(t *testing.T, c net.Conn) {
	t.Helper()
	_, reply, err := mysqlwire.ReadPacket(c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(reply) == 0 || reply[0] != mysqlwire.OKHeader {
		t.Fatalf("reply %q, want OK", reply)
	}
}

// TestKillRewritesPorticoIDs kills a session's query or connection from
// another session by the Portico id clients see, through a real proxy in
// front of the real MariaDB, as the mariadb CLI does on Ctrl-C.
func TestKillRewritesPorticoIDs(t *testing.T) {
	srv := testMariaDB(t)
	tests := []struct {
		name       string
		connection bool
		kill       func(t *testing.T, p *testProxy, db *sql.DB, id core.SessionID)
	}{
		{"KILL QUERY", false, func(t *testing.T, _ *testProxy, db *sql.DB, id core.SessionID) {
			if _, err := db.ExecContext(t.Context(), "KILL QUERY "+id.String()); err != nil {
				t.Fatal(err)
			}
		}},
		{"kill hard connection with comments", true, func(t *testing.T, _ *testProxy, db *sql.DB, id core.SessionID) {
			if _, err := db.ExecContext(t.Context(), "kill hard /* Ctrl-C */ connection "+id.String()+";"); err != nil {
				t.Fatal(err)
			}
		}},
		{"COM_PROCESS_KILL", true, func(t *testing.T, p *testProxy, _ *sql.DB, id core.SessionID) {
			c := rawLogin(t, p)
			if err := mysqlwire.WritePacket(c, 0, binary.LittleEndian.AppendUint32([]byte{mysqlwire.ComProcessKill}, uint32(id))); err != nil {
				t.Fatal(err)
			}
			expectOK(t, c)
		}},
		{"KILL QUERY pipelined between other commands", false, func(t *testing.T, p *testProxy, _ *sql.DB, id core.SessionID) {
			// Three commands in one write, so the rewritten packet is
			// replaced in the middle of a chunk.
			c := rawLogin(t, p)
			var wire []byte
			for _, payload := range [][]byte{
				{mysqlwire.ComPing},
				append([]byte{mysqlwire.ComQuery}, "KILL QUERY "+id.String()...),
				{mysqlwire.ComPing},
			} {
				wire = append(wire, byte(len(payload)), byte(len(payload)>>8), byte(len(payload)>>16), 0)
				wire = append(wire, payload...)
			}
			if _, err := c.Write(wire); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				expectOK(t, c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startProxy(t, proxy.Config{}, srv)
			db := openDB(t, p.addr, "maxpwd", "")
			sl := startSleeper(t, p, db)
			tt.kill(t, p, db, sl.portico)
			sl.killedPromptly(t, tt.connection)
			if tt.connection {
				waitFor(t, 5*time.Second, "the killed session to end", func() bool {
					_, err := p.reg.Get(sl.portico)
					return err != nil
				})
			}
		})
	}
}

// TestKillOfUnknownIDGoesThrough checks that an id no Portico session has
// reaches the backend unchanged: it may be a backend thread id from SHOW
// PROCESSLIST.
func TestKillOfUnknownIDGoesThrough(t *testing.T) {
	srv := testMariaDB(t)
	p := startProxy(t, proxy.Config{}, srv)
	db := openDB(t, p.addr, "maxpwd", "")
	const unknown = 987654321
	tests := []struct {
		name string
		run  func() error
	}{
		{"KILL QUERY", func() error {
			_, err := db.ExecContext(t.Context(), "KILL QUERY "+strconv.Itoa(unknown))
			return err
		}},
		{"COM_PROCESS_KILL", func() error {
			c := rawLogin(t, p)
			if err := mysqlwire.WritePacket(c, 0, binary.LittleEndian.AppendUint32([]byte{mysqlwire.ComProcessKill}, unknown)); err != nil {
				t.Fatal(err)
			}
			_, reply, err := mysqlwire.ReadPacket(c, 0)
			if err != nil {
				t.Fatal(err)
			}
			ep, err := mysqlwire.ParseErrPacket(reply)
			if err != nil {
				return fmt.Errorf("reply %q: %w", reply, err)
			}
			return &mysql.MySQLError{Number: ep.Code, Message: ep.Message}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			var me *mysql.MySQLError
			// 1094: Unknown thread id, naming the id as sent.
			if !errors.As(err, &me) || me.Number != 1094 || !strings.Contains(me.Message, strconv.Itoa(unknown)) {
				t.Errorf("got %v, want the backend's unknown thread %d", err, unknown)
			}
		})
	}
}
