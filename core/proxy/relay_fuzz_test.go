package proxy_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/portico-db/portico/core/proxy"
)

// FuzzRelay logs in through a real proxy to a scripted backend and then
// has the backend send server bytes and the client send client bytes,
// whatever they are. The proxy reads every packet on the way to follow
// commands and replies; whatever the bytes, it must not panic, must relay
// them unchanged in both directions, and must drop the session once the
// client hangs up.
func FuzzRelay(f *testing.F) {
	for _, name := range []string{"replies_eof_mariadb.bin", "replies_deprecate_eof_mariadb.bin",
		"replies_local_infile_mariadb.bin", "replies_progress_mariadb.bin"} {
		var client, server []byte
		for _, tn := range transcript(f, name)[3:] {
			if tn.fromClient {
				client = append(client, tn.wire...)
			} else {
				server = append(server, tn.wire...)
			}
		}
		f.Add(client, server)
	}
	f.Add(packet(0, []byte("\x03KILL 1")), packet(1, okPacket))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0}, []byte{0xFF, 0xFF, 0xFF, 1})
	f.Add([]byte{}, []byte{})

	// Thread id 0 in the greeting: a KILL naming the session is then
	// forwarded unchanged, so the backend must get exactly what was sent.
	greeting := bytes.Clone(captured(f, "greeting_mariadb_go_session.bin"))
	login := captured(f, "handshake_response_go_sql_driver.bin")
	binary.LittleEndian.PutUint32(greeting[bytes.IndexByte(greeting, 0)+1:], 0)
	type script struct {
		server []byte
		got    chan []byte
	}
	scripts := make(chan script, 1)
	be := startBackend(f, "fake1", func(c net.Conn) {
		sc := <-scripts
		defer close(sc.got)
		if _, err := c.Write(packet(0, greeting)); err != nil {
			return
		}
		if _, err := io.ReadFull(c, make([]byte, 4+len(login))); err != nil {
			return
		}
		if _, err := c.Write(append(packet(2, okPacket), sc.server...)); err != nil {
			return
		}
		got, _ := io.ReadAll(c)
		sc.got <- got
	})
	p := startProxy(f, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, be.srv)
	f.Fuzz(func(t *testing.T, client, server []byte) {
		sc := script{server: server, got: make(chan []byte, 1)}
		scripts <- sc
		c := dial(t, p)
		readGreeting(t, c)
		if _, err := c.Write(packet(1, login)); err != nil {
			t.Fatal(err)
		}
		if _, pkt := readPacket(t, c); !bytes.Equal(pkt, okPacket) {
			t.Fatalf("login answered %q", pkt)
		}
		got := make([]byte, len(server))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("client got %d bytes of %d: %v", len(got), len(server), err)
		}
		if !bytes.Equal(got, server) {
			t.Fatal("the server's bytes reached the client changed")
		}
		if _, err := c.Write(client); err != nil {
			t.Fatal(err)
		}
		_ = c.CloseWrite()
		select {
		case got := <-sc.got:
			if !bytes.Equal(got, client) {
				t.Fatalf("backend got %d bytes, want the client's %d unchanged", len(got), len(client))
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the backend never saw the client hang up")
		}
		waitSessions(t, p.reg, 0)
	})
}
