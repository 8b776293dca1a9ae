package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

func FuzzReadPacket(f *testing.F) {
	f.Add(readTestdata(f, "wire_mariadb_cli_server.bin"), 0)
	f.Add(readTestdata(f, "wire_mariadb_cli_server.bin"), 64)
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0x00}, 0)
	f.Add([]byte{3, 0, 0, 1, 'a', 'b'}, 10)
	f.Fuzz(func(t *testing.T, wire []byte, limit int) {
		r := bytes.NewReader(wire)
		off := 0
		for {
			seq, payload, err := ReadPacket(r, limit)
			if err != nil {
				if err == io.EOF && off != len(wire) {
					t.Fatalf("bare EOF at offset %d of %d", off, len(wire))
				}
				if payload != nil {
					t.Fatal("payload returned with an error")
				}
				return
			}
			if limit > 0 && len(payload) > limit {
				t.Fatalf("payload %d exceeds limit %d", len(payload), limit)
			}
			// Re-encoding must reproduce exactly the bytes consumed.
			var buf bytes.Buffer
			if err := WritePacket(&buf, seq, payload); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), wire[off:off+buf.Len()]) {
				t.Fatalf("re-encoded packet differs at offset %d", off)
			}
			off += buf.Len()
		}
	})
}

func FuzzParseGreeting(f *testing.F) {
	for _, name := range greetingFiles {
		f.Add(readTestdata(f, name))
	}
	f.Add(readTestdata(f, "err_access_denied_mariadb.bin"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		g, err := ParseGreeting(payload)
		if err != nil {
			return
		}
		if g.ProtocolVersion != protocolVersion10 {
			t.Fatalf("accepted protocol version %d", g.ProtocolVersion)
		}
		if g.Capabilities&ClientMySQL != 0 && g.MariaDBCapabilities != 0 {
			t.Fatal("MariaDB capabilities reported for a MySQL greeting")
		}
		// Anything that parses must be rewritable without change.
		out, id, err := RewriteGreeting(payload, g.ConnectionID, 0)
		if err != nil || id != g.ConnectionID || !bytes.Equal(out, payload) {
			t.Fatalf("identity rewrite: err %v, id %d, equal %v", err, id, bytes.Equal(out, payload))
		}
	})
}

func FuzzRewriteGreeting(f *testing.F) {
	for _, name := range greetingFiles {
		f.Add(readTestdata(f, name), uint32(0xDEADBEEF), ClientSSL|ClientCompress)
		f.Add(readTestdata(f, name), uint32(1), ClientDeprecateEOF)
	}
	f.Add(buildGreeting(Greeting{
		ProtocolVersion: 10, ServerVersion: "8.0.36", ConnectionID: 3,
		Capabilities:   0xdfffffff,
		AuthPluginData: []byte("abcdefghijklmnopqrst"), AuthPluginName: "caching_sha2_password",
	}, 0), uint32(9), uint32(ClientSSL))
	f.Fuzz(func(t *testing.T, payload []byte, connID uint32, clearCaps uint32) {
		pristine := bytes.Clone(payload)
		before, parseErr := ParseGreeting(payload)
		out, backendID, err := RewriteGreeting(payload, connID, clearCaps)
		if !bytes.Equal(payload, pristine) {
			t.Fatal("input modified")
		}
		if clearCaps&greetingLayoutCaps != 0 || parseErr != nil {
			if err == nil {
				t.Fatal("rewrite succeeded on input it must refuse")
			}
			return
		}
		if err != nil {
			t.Fatalf("rewrite failed on a parseable greeting: %v", err)
		}
		if backendID != before.ConnectionID || len(out) != len(payload) {
			t.Fatalf("backendID %d (want %d), len %d (want %d)", backendID, before.ConnectionID, len(out), len(payload))
		}
		after, err := ParseGreeting(out)
		if err != nil {
			t.Fatalf("rewritten greeting does not parse: %v", err)
		}
		wantCaps := before.Capabilities &^ clearCaps
		if len(out) == pre41Len(before) {
			wantCaps = before.Capabilities &^ (clearCaps & 0xFFFF)
		}
		if after.ConnectionID != connID || after.Capabilities != wantCaps {
			t.Fatalf("id %d caps %#x, want %d %#x", after.ConnectionID, after.Capabilities, connID, wantCaps)
		}
		after.ConnectionID, after.Capabilities = before.ConnectionID, before.Capabilities
		if !reflect.DeepEqual(after, before) {
			t.Fatalf("other fields changed:\n got %+v\nwant %+v", after, before)
		}
		// Only the id and capability bytes may differ.
		diff := 0
		for i := range out {
			if out[i] != payload[i] {
				diff++
			}
		}
		if diff > 8 {
			t.Fatalf("%d bytes changed, at most 8 (id + 2x caps) may", diff)
		}
	})
}

// pre41Len is the length a greeting has when it stops after the
// lower capability flags.
func pre41Len(g Greeting) int {
	return 1 + len(g.ServerVersion) + 1 + 4 + 8 + 1 + 2
}

func FuzzParseHandshakeResponse(f *testing.F) {
	for _, name := range handshakeResponseFiles {
		f.Add(readTestdata(f, name))
	}
	f.Add(readTestdata(f, "ssl_request_mariadb_cli.bin"))
	f.Add(buildHandshakeResponse(HandshakeResponse{
		Capabilities: ClientProtocol41 | ClientPluginAuthLenencClientData | ClientConnectWithDB,
		User:         "u", AuthResponse: []byte{1, 2}, Database: "d",
	}))
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, err := ParseHandshakeResponse(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if h.Capabilities&ClientProtocol41 == 0 {
			t.Fatal("accepted a pre-4.1 response")
		}
		if IsSSLRequest(payload) {
			t.Fatal("accepted an SSLRequest as a handshake response")
		}
		if h.Capabilities&ClientMySQL != 0 && h.MariaDBCapabilities != 0 {
			t.Fatal("MariaDB capabilities reported with CLIENT_MYSQL set")
		}
		if h.Capabilities&ClientConnectAttrs == 0 && h.Attributes != nil {
			t.Fatal("attributes without CLIENT_CONNECT_ATTRS")
		}
		// Re-encoding what was understood must yield the same values.
		again, err := ParseHandshakeResponse(buildHandshakeResponse(h))
		if err != nil {
			t.Fatalf("re-encoded response does not parse: %v", err)
		}
		if !reflect.DeepEqual(normalizeResponse(again), normalizeResponse(h)) {
			t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", again, h)
		}
	})
}

// normalizeResponse hides differences the encoding cannot express: nil and
// empty auth data are the same bytes on the wire.
func normalizeResponse(h HandshakeResponse) HandshakeResponse {
	if len(h.AuthResponse) == 0 {
		h.AuthResponse = nil
	}
	return h
}

// The 1-byte auth length of ClientSecureConnection limits what
// buildHandshakeResponse can re-encode; make sure the parser never produces
// more than that so the fuzz round trip stays meaningful.
func TestSecureConnectionAuthFitsOneByte(t *testing.T) {
	b := binary.LittleEndian.AppendUint32(nil, ClientProtocol41|ClientSecureConnection)
	b = append(b, make([]byte, 28)...)
	b = append(b, 'u', 0, 255)
	b = append(b, bytes.Repeat([]byte{7}, 255)...)
	h, err := ParseHandshakeResponse(b)
	if err != nil || len(h.AuthResponse) != 255 {
		t.Fatalf("len %d, err %v", len(h.AuthResponse), err)
	}
}

// FuzzParseChangeUser checks that any COM_CHANGE_USER either parses or is
// refused as malformed, that what parses survives re-encoding, and that the
// user and database a caller reads from the start of a cut packet (without
// the optional fields) are those of the whole one.
func FuzzParseChangeUser(f *testing.F) {
	const full = ClientSecureConnection | ClientPluginAuth | ClientConnectAttrs
	recs := readTranscript(f, "replies_eof_mariadb.bin")
	caps, _ := negotiated(f, recs)
	for _, rec := range recs {
		if !rec.fromClient || len(rec.wire) == 0 {
			continue
		}
		if p := splitPackets(f, rec.wire)[0]; p.seq == 0 && len(p.payload) > 0 && p.payload[0] == ComChangeUser {
			f.Add(p.payload, caps)
		}
	}
	f.Add(buildChangeUser(ChangeUser{User: "bob", Database: "shop", AuthPluginName: NativePasswordPlugin,
		Attributes: map[string]string{"_client_name": "libmariadb", "program_name": "mysql"}}, bytes.Repeat([]byte{7}, 20), full), uint32(full))
	f.Add(append([]byte{ComChangeUser}, "bob\x00secret\x00shop\x00"...), uint32(0))
	f.Fuzz(func(t *testing.T, payload []byte, caps uint32) {
		cu, err := ParseChangeUser(payload, caps)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error does not wrap ErrMalformed: %v", err)
			}
			if !reflect.DeepEqual(cu, ChangeUser{}) {
				t.Fatalf("fields %+v returned with an error", cu)
			}
			return
		}
		if caps&ClientConnectAttrs == 0 && cu.Attributes != nil {
			t.Fatal("attributes without CLIENT_CONNECT_ATTRS")
		}
		head, err := ParseChangeUser(payload, caps&^(ClientPluginAuth|ClientConnectAttrs))
		if err != nil || head.User != cu.User || head.Database != cu.Database {
			t.Fatalf("start of the packet: %+v, %v; want user %q database %q", head, err, cu.User, cu.Database)
		}
		if caps&ClientSecureConnection == 0 {
			// A NUL-terminated auth response cannot be re-encoded from
			// what the parser keeps; the round trip below needs its length.
			return
		}
		again, err := ParseChangeUser(buildChangeUser(cu, nil, caps), caps)
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v", err)
		}
		if !reflect.DeepEqual(again, cu) {
			t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", again, cu)
		}
	})
}

// FuzzParseErrPacket checks that an ERR packet either parses into fields
// that re-encode to the same bytes or is refused as malformed.
func FuzzParseErrPacket(f *testing.F) {
	f.Add(readTestdata(f, "err_access_denied_mariadb.bin"))
	for _, rec := range readTranscript(f, "replies_progress_mariadb.bin") {
		for _, p := range splitPackets(f, rec.wire) {
			if !rec.fromClient && len(p.payload) > 0 && p.payload[0] == ErrHeader {
				f.Add(p.payload)
			}
		}
	}
	f.Add(ErrPacket(ERTooManyConnections, "", "Too many connections"))
	f.Add([]byte{ErrHeader, 0x10, 0x04, 'T', 'o', 'o'})
	f.Add([]byte{ErrHeader, 0x10, 0x04, '#', '0', '8'})
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := ParseErrPacket(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("parse error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		if e.SQLState == "" {
			if len(e.Message) > 0 && e.Message[0] == '#' {
				t.Fatalf("a message starting with '#' and no SQLSTATE: %q", e.Message)
			}
			if e.Message != string(payload[3:]) {
				t.Fatalf("message %q, want the rest of the packet %q", e.Message, payload[3:])
			}
			return
		}
		if again := ErrPacket(e.Code, e.SQLState, e.Message); !bytes.Equal(again, payload) {
			t.Fatalf("re-encoded %q, want %q", again, payload)
		}
	})
}

// FuzzScanner feeds a stream to two scanners, one whole and one in chunks
// of a fuzzed size, and checks that they report the same packets, that
// every packet they report is accounted for by the stream's bytes, and that
// a packet reported as whole is found at its offset in its chunk.
func FuzzScanner(f *testing.F) {
	f.Add(readTestdata(f, "wire_mariadb_cli_server.bin"), byte(7), byte(32))
	for _, name := range transcriptFiles {
		for _, rec := range readTranscript(f, name)[:8] {
			f.Add(rec.wire, byte(3), byte(TrackerPrefix))
		}
	}
	// A full-sized packet's header, its continuation and an empty packet.
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0, 'a', 'b', 0, 0, 0, 1}, byte(1), byte(4))
	f.Fuzz(func(t *testing.T, in []byte, chunk, limit byte) {
		type seen struct {
			seq, firstSeq byte
			n             int
			cont          bool
			prefix        string
		}
		record := func(into *[]seen, chunk *[]byte) func(*PacketInfo) {
			return func(p *PacketInfo) {
				if len(p.Prefix) > int(limit) {
					t.Fatalf("prefix of %d bytes, limit %d", len(p.Prefix), limit)
				}
				if p.Whole {
					c := *chunk
					if p.Off < 0 || p.Off+packetHeaderSize+p.Len > len(c) {
						t.Fatalf("whole packet of %d bytes at %d outside a chunk of %d", p.Len, p.Off, len(c))
					}
					h := c[p.Off:]
					if n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16; n != p.Len || h[3] != p.Seq {
						t.Fatalf("whole packet at %d has header len %d seq %d, reported %d %d", p.Off, n, h[3], p.Len, p.Seq)
					}
				}
				*into = append(*into, seen{p.Seq, p.FirstSeq, p.Len, p.Cont, string(p.Prefix)})
			}
		}
		var whole, chunked []seen
		var cur []byte
		a := NewScanner(int(limit), record(&whole, &cur))
		cur = in
		a.Feed(in)
		b := NewScanner(int(limit), record(&chunked, &cur))
		size := int(chunk%64) + 1
		for r := in; len(r) > 0; {
			cur = r[:min(size, len(r))]
			b.Feed(cur)
			r = r[len(cur):]
		}
		if !reflect.DeepEqual(whole, chunked) {
			t.Fatalf("whole stream: %d packets %+v\nin chunks of %d: %d packets %+v", len(whole), whole, size, len(chunked), chunked)
		}
		if a.Packets() != len(whole) || b.Packets() != len(chunked) {
			t.Fatal("Packets() does not count the packets reported")
		}
		total := 0
		for _, p := range whole {
			total += packetHeaderSize + p.n
		}
		if total > len(in) {
			t.Fatalf("packets of %d bytes in a stream of %d", total, len(in))
		}
	})
}

// FuzzLenEnc checks that length-encoded integers and strings are read
// within their input and that every integer read encodes back to itself.
func FuzzLenEnc(f *testing.F) {
	for _, b := range [][]byte{{0}, {0xFA}, {0xFB}, {0xFC, 1, 0}, {0xFD, 1, 2, 3}, {0xFE, 1, 2, 3, 4, 5, 6, 7, 8}, {0xFF},
		{3, 'a', 'b', 'c'}, {0xFC, 0xFF, 0xFF}, {0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, ok := ReadLenEncInt(b)
		if ok {
			if n > len(b) || (n != 1 && n != 3 && n != 4 && n != 9) {
				t.Fatalf("read %d bytes of %d", n, len(b))
			}
			enc := AppendLenEncInt(nil, v)
			if w, m, ok := ReadLenEncInt(enc); !ok || w != v || m != len(enc) {
				t.Fatalf("%d encodes as %x, which reads back as %d, %d, %v", v, enc, w, m, ok)
			}
			if len(enc) > n {
				t.Fatalf("%d took %d bytes to read but %d to write", v, n, len(enc))
			}
		}
		s, m, sok := ReadLenEncString(b)
		if !sok {
			if ok && n <= len(b) && v <= uint64(len(b)-n) {
				t.Fatalf("string of %d bytes after %d of %d refused", v, n, len(b))
			}
			return
		}
		if !ok || m > len(b) || m != n+len(s) || uint64(len(s)) != v || !bytes.Equal(s, b[n:m]) {
			t.Fatalf("string %q ending at %d of %d, length %d", s, m, len(b), v)
		}
	})
}
