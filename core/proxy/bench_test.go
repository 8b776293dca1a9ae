package proxy_test

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"

	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

// benchBackend logs any client in, then answers every command with reply,
// reading commands without allocating so that the measurement is the
// proxy's.
func benchBackend(greeting, reply []byte) func(net.Conn) {
	return func(c net.Conn) {
		if mysqlwire.WritePacket(c, 0, greeting) != nil {
			return
		}
		r := bufio.NewReaderSize(c, 64<<10)
		if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
			return
		}
		if mysqlwire.WritePacket(c, 2, []byte{0, 0, 0, 2, 0, 0, 0}) != nil {
			return
		}
		var hdr [4]byte
		for {
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return
			}
			n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
			if _, err := r.Discard(n); err != nil {
				return
			}
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	}
}

// resultSet builds a text result set of one column, with CLIENT_DEPRECATE_EOF
// and MariaDB's metadata flag, as go-sql-driver negotiates with MariaDB.
func resultSet(rows, rowSize int) []byte {
	var b []byte
	seq := byte(1)
	add := func(p []byte) {
		b = append(b, byte(len(p)), byte(len(p)>>8), byte(len(p)>>16), seq)
		b = append(b, p...)
		seq++
	}
	add([]byte{1, 1})
	add([]byte("\x03def\x00\x00\x00\x01x\x00\x0c\x3f\x00\x01\x00\x00\x00\xfd\x81\x00\x00\x00\x00"))
	value := rowSize - 1
	if value >= 0xFB {
		value = rowSize - 3
	}
	row := mysqlwire.AppendLenEncInt(make([]byte, 0, rowSize), uint64(value))
	for len(row) < rowSize {
		row = append(row, 'x')
	}
	for range rows {
		add(row)
	}
	add([]byte{0xFE, 0, 0, 2, 0, 0, 0})
	return b
}

// BenchmarkRelay measures bytes through the proxy over loopback against a
// fake backend, and the same traffic straight to that backend, so the
// proxy's cost shows as the difference. "proxy" is the event-loop relay
// Linux uses, "proxy-goroutines" the one of other systems and of TLS.
//
// Client, proxy and backend share one process here, so round trips favour
// the goroutine relay: its goroutines and the test's wake each other within
// Go's scheduler, while a loop's thread sleeps in epoll_wait and the kernel
// must wake it. Between processes, as deployed, every hop is such a wake-up
// whichever relay runs; bench:proxy's latency section measures that.
func BenchmarkRelay(b *testing.B) {
	query := func(size int) []byte {
		p := make([]byte, 1+size)
		p[0] = mysqlwire.ComQuery
		for i := 1; i < len(p); i++ {
			p[i] = 'x'
		}
		return packet(0, p)
	}
	ok := packet(1, []byte{0, 0, 0, 2, 0, 0, 0})
	cases := []struct {
		name    string
		command []byte
		reply   []byte
	}{
		{name: "result set of 16 KiB rows", command: query(8), reply: resultSet(256, 16<<10)},
		{name: "result set of 100 B rows", command: query(8), reply: resultSet(40000, 100)},
		{name: "1 MiB statements", command: query(1 << 20), reply: ok},
		{name: "ping round trips", command: packet(0, []byte{mysqlwire.ComPing}), reply: ok},
	}
	greeting := captured(b, "greeting_mariadb_go_session.bin")
	goResp := captured(b, "handshake_response_go_sql_driver.bin")
	for _, bc := range cases {
		be := startBackend(b, "server1", benchBackend(greeting, bc.reply))
		loop := startProxy(b, proxy.Config{Logger: slog.New(slog.DiscardHandler)}, be.srv)
		goroutines := startProxy(b, proxy.Config{Logger: slog.New(slog.DiscardHandler), NoEventLoop: true}, be.srv)
		for _, via := range []struct{ name, addr string }{
			{"proxy", loop.addr},
			{"proxy-goroutines", goroutines.addr},
			{"direct", net.JoinHostPort(be.srv.Address, strconv.Itoa(be.srv.Port))},
		} {
			b.Run(bc.name+"/"+via.name, func(b *testing.B) {
				c, err := net.Dial("tcp", via.addr)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				r := bufio.NewReaderSize(c, 64<<10)
				if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(packet(1, goResp)); err != nil {
					b.Fatal(err)
				}
				if _, _, err := mysqlwire.ReadPacket(r, 0); err != nil {
					b.Fatal(err)
				}
				buf := make([]byte, len(bc.reply))
				b.SetBytes(int64(len(bc.command) + len(bc.reply)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.Write(bc.command); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(r, buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
