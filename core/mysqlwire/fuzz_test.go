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
