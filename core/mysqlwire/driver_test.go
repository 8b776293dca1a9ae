package mysqlwire

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// okPacket is the smallest OK payload: no rows, no insert id, autocommit.
var okPacket = []byte{OKHeader, 0, 0, 0x02, 0x00, 0, 0}

// TestGoSQLDriverAcceptsRewrittenGreeting plays a fake server that sends a
// captured MariaDB greeting after RewriteGreeting, to check that a real
// connector accepts the rewritten bytes and that its reply parses as
// expected.
func TestGoSQLDriverAcceptsRewrittenGreeting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	greeting, _, err := RewriteGreeting(readTestdata(t, "greeting_mariadb.bin"), 7777, ClientSSL|ClientCompress)
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGreeting(greeting)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		h   HandshakeResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		h, err := serveOneClient(ln, greeting)
		done <- result{h, err}
	}()

	cfg := mysql.NewConfig()
	cfg.User = "maxuser"
	cfg.Passwd = "maxpwd"
	cfg.Net = "tcp"
	cfg.Addr = ln.Addr().String()
	cfg.DBName = "appdb"
	cfg.Timeout = 5 * time.Second
	cfg.ConnectionAttributes = "program_name:portico-test"
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("ping through fake server: %v", err)
	}
	db.Close()

	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	h := res.h
	if h.User != "maxuser" || h.Database != "appdb" || h.AuthPluginName != "mysql_native_password" {
		t.Errorf("got %+v", h)
	}
	if h.Attributes["_client_name"] != "Go-MySQL-Driver" || h.Attributes["program_name"] != "portico-test" {
		t.Errorf("attributes = %v", h.Attributes)
	}
	if h.Capabilities&(ClientSSL|ClientCompress) != 0 {
		t.Errorf("client asked for a capability the greeting hid: %#x", h.Capabilities)
	}
	if want := nativePasswordScramble(g.AuthPluginData, "maxpwd"); !bytes.Equal(h.AuthResponse, want) {
		t.Errorf("driver scrambled with different auth data than ParseGreeting reports")
	}
}

// serveOneClient accepts a single connection, authenticates anything, and
// answers OK to every command until COM_QUIT.
func serveOneClient(ln net.Listener, greeting []byte) (HandshakeResponse, error) {
	var h HandshakeResponse
	conn, err := ln.Accept()
	if err != nil {
		return h, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := WritePacket(conn, 0, greeting); err != nil {
		return h, err
	}
	seq, payload, err := ReadPacket(conn, 1<<16)
	if err != nil {
		return h, err
	}
	if h, err = ParseHandshakeResponse(payload); err != nil {
		return h, err
	}
	if err := WritePacket(conn, seq+1, okPacket); err != nil {
		return h, err
	}
	for {
		seq, payload, err := ReadPacket(conn, 1<<16)
		if errors.Is(err, io.EOF) {
			return h, nil
		}
		if err != nil {
			return h, err
		}
		if len(payload) > 0 && payload[0] == 0x01 { // COM_QUIT
			return h, nil
		}
		if err := WritePacket(conn, seq+1, okPacket); err != nil {
			return h, err
		}
	}
}
