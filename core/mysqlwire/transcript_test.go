package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// A transcript is a conversation captured from a real MariaDB (see
// testdata/README.md): records of raw wire bytes, each one side's turn.
type transcriptRecord struct {
	fromClient bool
	wire       []byte
}

func readTranscript(tb testing.TB, name string) []transcriptRecord {
	tb.Helper()
	b := readTestdata(tb, name)
	var recs []transcriptRecord
	for len(b) > 0 {
		if len(b) < 5 || (b[0] != 'C' && b[0] != 'S') {
			tb.Fatalf("%s: bad record header at %d bytes from the end", name, len(b))
		}
		n := int(binary.LittleEndian.Uint32(b[1:5]))
		if len(b) < 5+n {
			tb.Fatalf("%s: record of %d bytes is cut short", name, n)
		}
		recs = append(recs, transcriptRecord{fromClient: b[0] == 'C', wire: b[5 : 5+n]})
		b = b[5+n:]
	}
	if len(recs) < 3 || recs[0].fromClient || !recs[1].fromClient || recs[2].fromClient {
		tb.Fatalf("%s: want greeting, handshake response and OK first", name)
	}
	return recs
}

type wirePacket struct {
	seq     byte
	payload []byte
}

func splitPackets(tb testing.TB, wire []byte) []wirePacket {
	tb.Helper()
	var out []wirePacket
	r := bytes.NewReader(wire)
	for r.Len() > 0 {
		seq, p, err := ReadPacket(r, 0)
		if err != nil {
			tb.Fatalf("captured bytes are not packets: %v", err)
		}
		out = append(out, wirePacket{seq, p})
	}
	return out
}

// negotiated returns the capabilities a transcript's connection uses: what
// both the greeting and the handshake response offer.
func negotiated(tb testing.TB, recs []transcriptRecord) (caps, mariadbCaps uint32) {
	tb.Helper()
	g, err := ParseGreeting(splitPackets(tb, recs[0].wire)[0].payload)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := ParseHandshakeResponse(splitPackets(tb, recs[1].wire)[0].payload)
	if err != nil {
		tb.Fatal(err)
	}
	caps = g.Capabilities & h.Capabilities
	if g.Capabilities&ClientMySQL == 0 && h.Capabilities&ClientMySQL == 0 {
		mariadbCaps = g.MariaDBCapabilities & h.MariaDBCapabilities
	}
	return caps, mariadbCaps
}
