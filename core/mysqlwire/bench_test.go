package mysqlwire

import (
	"bytes"
	"testing"
)

func BenchmarkReadPacket(b *testing.B) {
	wire := readTestdata(b, "wire_mariadb_cli_server.bin")
	r := bytes.NewReader(wire)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(wire)
		for r.Len() > 0 {
			if _, _, err := ReadPacket(r, MaxPacketSize); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseHandshakeResponse(b *testing.B) {
	for _, name := range handshakeResponseFiles {
		payload := readTestdata(b, name)
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseHandshakeResponse(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRewriteGreeting(b *testing.B) {
	payload := readTestdata(b, "greeting_mariadb.bin")
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := RewriteGreeting(payload, 12345, ClientSSL|ClientCompress); err != nil {
			b.Fatal(err)
		}
	}
}
