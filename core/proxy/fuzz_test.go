package proxy_test

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// FuzzClientHandshake sends arbitrary bytes as a client's first packets
// through a real proxy in front of a replay backend, which answers whatever
// first packet reaches it with the captured access-denied ERR. Whatever the
// bytes, the proxy must not panic, must answer with at most one ERR, must
// hang up, and must drop the session.
func FuzzClientHandshake(f *testing.F) {
	goResp := captured(f, "handshake_response_go_sql_driver.bin")
	cliResp := captured(f, "handshake_response_mariadb_cli.bin")
	sslReq := captured(f, "ssl_request_mariadb_cli.bin")
	f.Add(packet(1, goResp))
	f.Add(packet(1, cliResp))
	f.Add(packet(1, sslReq))
	f.Add(append(packet(1, sslReq), packet(2, cliResp)...))
	f.Add(append(packet(1, goResp), 0x01, 0x00, 0x00, 0x00, 0x0e)) // then COM_PING
	f.Add(packet(1, goResp[:45]))
	f.Add(packet(1, handshakeResponse320))
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0x01})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})

	be := startBackend(f, "fake1", replay(captured(f, "greeting_mariadb.bin"), captured(f, "err_access_denied_mariadb.bin")))
	p := startProxy(f, proxy.Config{AuthTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)}, be.srv)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := dial(t, p)
		readGreeting(t, c)
		// The proxy may hang up before reading everything; that is fine.
		_, _ = c.Write(in)
		_ = c.CloseWrite()
		pkts := readUntilClosed(t, c, 5*time.Second)
		if len(pkts) > 1 {
			t.Errorf("proxy sent %d packets after the greeting, want at most one ERR", len(pkts))
		}
		for _, pkt := range pkts {
			if len(pkt) == 0 || pkt[0] != mysqlwire.ErrHeader {
				t.Errorf("proxy sent %q, want only an ERR", pkt)
			} else if _, err := mysqlwire.ParseErrPacket(pkt); err != nil {
				t.Errorf("proxy sent a malformed ERR %q: %v", pkt, err)
			} else if bytes.Contains(pkt, []byte("Lost connection to server")) {
				t.Errorf("proxy blamed the backend for the client's bytes: %q", pkt)
			}
		}
		waitSessions(t, p.reg, 0)
	})
}
