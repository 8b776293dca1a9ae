package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

const capturedServerVersion = "5.5.5-10.11.19-MariaDB-0+deb12u1"

// Offsets of the rewritable fields in the captured MariaDB greetings, worked
// out by hand from the hex dump so the test does not trust the parser's own
// idea of the layout.
const (
	capturedConnIDOff  = 34
	capturedCapLowOff  = 47
	capturedCapHighOff = 52
)

func TestParseGreetingCaptured(t *testing.T) {
	tests := []struct {
		file   string
		connID uint32
		caps   uint32
		data   string
	}{
		{"greeting_mariadb.bin", 4, 0x81fff7fe, "0S/0C@Ws_bOB=KABhfFl"},
		{"greeting_mariadb_go_session.bin", 5, 0x81fff7fe, ""},
		{"greeting_mariadb_ssl.bin", 3, 0x81fffffe, ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			g, err := ParseGreeting(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if g.ProtocolVersion != 10 || g.ServerVersion != capturedServerVersion {
				t.Errorf("version = %d %q", g.ProtocolVersion, g.ServerVersion)
			}
			if g.ConnectionID != tt.connID {
				t.Errorf("ConnectionID = %d, want %d", g.ConnectionID, tt.connID)
			}
			if g.Capabilities != tt.caps {
				t.Errorf("Capabilities = %#x, want %#x", g.Capabilities, tt.caps)
			}
			if g.Capabilities&ClientMySQL != 0 {
				t.Error("MariaDB greeting has CLIENT_MYSQL set")
			}
			wantExt := MariaDBClientProgress | MariaDBClientStmtBulkOperations | MariaDBClientExtendedMetadata | MariaDBClientCacheMetadata
			if g.MariaDBCapabilities != wantExt {
				t.Errorf("MariaDBCapabilities = %#x, want %#x", g.MariaDBCapabilities, wantExt)
			}
			if g.Charset != 8 || g.StatusFlags != 0x0002 {
				t.Errorf("charset %d status %#x", g.Charset, g.StatusFlags)
			}
			if g.AuthPluginName != "mysql_native_password" {
				t.Errorf("AuthPluginName = %q", g.AuthPluginName)
			}
			if len(g.AuthPluginData) != 20 || bytes.IndexByte(g.AuthPluginData, 0) >= 0 {
				t.Errorf("AuthPluginData = %q, want 20 non-NUL bytes", g.AuthPluginData)
			}
			if tt.data != "" && string(g.AuthPluginData) != tt.data {
				t.Errorf("AuthPluginData = %q, want %q", g.AuthPluginData, tt.data)
			}
			if got := g.Capabilities&ClientSSL != 0; got != (tt.file == "greeting_mariadb_ssl.bin") {
				t.Errorf("ClientSSL = %v", got)
			}
		})
	}
}

func TestParseGreetingSynthetic(t *testing.T) {
	mysql8 := Greeting{
		ProtocolVersion: 10,
		ServerVersion:   "8.0.36",
		ConnectionID:    0x01020304,
		Capabilities:    0xdfffffff,
		Charset:         255,
		StatusFlags:     2,
		AuthPluginData:  []byte("abcdefghijklmnopqrst"),
		AuthPluginName:  "caching_sha2_password",
	}
	tests := []struct {
		name     string
		payload  []byte
		want     Greeting
		reserved uint32
	}{
		{
			// CLIENT_MYSQL is set, so the reserved bytes must not be
			// mistaken for MariaDB capabilities even if non-zero.
			name:    "mysql 8 with junk in reserved bytes",
			payload: buildGreeting(mysql8, 0xffffffff),
			want:    mysql8,
		},
		{
			name: "no plugin auth",
			payload: buildGreeting(Greeting{
				ProtocolVersion: 10, ServerVersion: "5.0.96", ConnectionID: 7,
				Capabilities:   ClientLongPassword | ClientProtocol41 | ClientSecureConnection,
				AuthPluginData: []byte("12345678ABCDEFGHIJKL"),
			}, 0),
			want: Greeting{
				ProtocolVersion: 10, ServerVersion: "5.0.96", ConnectionID: 7,
				Capabilities:   ClientLongPassword | ClientProtocol41 | ClientSecureConnection,
				AuthPluginData: []byte("12345678ABCDEFGHIJKL"),
			},
		},
		{
			name:    "pre-4.1 server stops after lower capabilities",
			payload: append([]byte{10, '4', '.', '0', 0, 9, 0, 0, 0, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 0}, 0x2c, 0x02),
			want: Greeting{
				ProtocolVersion: 10, ServerVersion: "4.0", ConnectionID: 9,
				Capabilities: 0x022c, AuthPluginData: []byte("abcdefgh"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := ParseGreeting(tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", g, tt.want)
			}
		})
	}
}

func TestParseGreetingMalformed(t *testing.T) {
	valid := readTestdata(t, "greeting_mariadb.bin")
	withAuthLen := func(n byte) []byte {
		b := bytes.Clone(valid)
		b[capturedCapHighOff+2] = n
		return b
	}
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"protocol 9", append([]byte{9}, valid[1:]...)},
		{"unterminated version", []byte{10, '1', '0', '.', '1'}},
		{"auth data length past end", withAuthLen(255)},
		{"plugin name without NUL", valid[:len(valid)-1]},
		{"err packet without body", []byte{0xFF, 0x10}},
		{"bare err marker", []byte{0xFF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseGreeting(tt.payload); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestParseGreetingServerError(t *testing.T) {
	payload := ErrPacket(ERTooManyConnections, SSConCount, "Too many connections")
	_, err := ParseGreeting(payload)
	var ep ErrorPacket
	if !errors.As(err, &ep) {
		t.Fatalf("err = %v, want an ErrorPacket", err)
	}
	if ep.Code != ERTooManyConnections || ep.Message != "Too many connections" {
		t.Fatalf("got %+v", ep)
	}
	if errors.Is(err, ErrMalformed) {
		t.Fatal("a well-formed server error must not be reported as malformed")
	}
}

// Every strict prefix of a captured greeting must fail to parse, except the
// pre-4.1 cut right after the lower capability flags, which is a complete
// greeting in its own right.
func TestParseGreetingTruncated(t *testing.T) {
	for _, file := range greetingFiles {
		full := readTestdata(t, file)
		t.Run(file, func(t *testing.T) {
			for i := 0; i < len(full); i++ {
				// Copy so the parser cannot read past the cut through
				// spare capacity.
				prefix := bytes.Clone(full[:i])
				g, err := ParseGreeting(prefix)
				if i == capturedCapLowOff+2 {
					if err != nil {
						t.Fatalf("pre-4.1 prefix: %v", err)
					}
					if g.Capabilities != uint32(binary.LittleEndian.Uint16(full[capturedCapLowOff:])) {
						t.Fatalf("pre-4.1 prefix caps %#x", g.Capabilities)
					}
					continue
				}
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix of %d bytes: err = %v", i, err)
				}
			}
		})
	}
}

func TestRewriteGreeting(t *testing.T) {
	clears := []struct {
		name string
		caps uint32
	}{
		{"nothing", 0},
		{"ssl and compress", ClientSSL | ClientCompress},
		{"upper half only", ClientDeprecateEOF | ClientSessionTrack | ClientConnectAttrs},
		{"everything allowed", ^greetingLayoutCaps},
	}
	for _, file := range greetingFiles {
		orig := readTestdata(t, file)
		before, err := ParseGreeting(orig)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range clears {
			t.Run(file+"/"+c.name, func(t *testing.T) {
				const newID = 0xDEADBEEF
				pristine := bytes.Clone(orig)
				out, backendID, err := RewriteGreeting(orig, newID, c.caps)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(orig, pristine) {
					t.Fatal("RewriteGreeting modified its input")
				}
				if backendID != before.ConnectionID {
					t.Errorf("backendID = %d, want %d", backendID, before.ConnectionID)
				}

				// Build the expected bytes from the hand-derived offsets.
				want := bytes.Clone(orig)
				binary.LittleEndian.PutUint32(want[capturedConnIDOff:], newID)
				lo := binary.LittleEndian.Uint16(want[capturedCapLowOff:])
				binary.LittleEndian.PutUint16(want[capturedCapLowOff:], lo&^uint16(c.caps))
				hi := binary.LittleEndian.Uint16(want[capturedCapHighOff:])
				binary.LittleEndian.PutUint16(want[capturedCapHighOff:], hi&^uint16(c.caps>>16))
				if len(out) != len(orig) {
					t.Fatalf("length changed: %d -> %d", len(orig), len(out))
				}
				for i := range out {
					if out[i] != want[i] {
						t.Errorf("byte %d = %#02x, want %#02x (original %#02x)", i, out[i], want[i], orig[i])
					}
				}
				for i := range out {
					inID := i >= capturedConnIDOff && i < capturedConnIDOff+4
					inCaps := (i >= capturedCapLowOff && i < capturedCapLowOff+2) || (i >= capturedCapHighOff && i < capturedCapHighOff+2)
					if !inID && !inCaps && out[i] != orig[i] {
						t.Errorf("byte %d outside id/caps changed", i)
					}
				}

				after, err := ParseGreeting(out)
				if err != nil {
					t.Fatalf("rewritten greeting does not parse: %v", err)
				}
				if after.ConnectionID != newID {
					t.Errorf("ConnectionID = %#x", after.ConnectionID)
				}
				if after.Capabilities != before.Capabilities&^c.caps {
					t.Errorf("Capabilities = %#x, want %#x", after.Capabilities, before.Capabilities&^c.caps)
				}
				after.ConnectionID, after.Capabilities = before.ConnectionID, before.Capabilities
				if !reflect.DeepEqual(after, before) {
					t.Errorf("other fields changed:\n got %+v\nwant %+v", after, before)
				}
			})
		}
	}
}

func TestRewriteGreetingErrors(t *testing.T) {
	valid := readTestdata(t, "greeting_mariadb.bin")
	t.Run("layout caps", func(t *testing.T) {
		for _, c := range []uint32{ClientLongPassword, ClientSecureConnection, ClientPluginAuth} {
			if out, _, err := RewriteGreeting(valid, 1, c|ClientSSL); err == nil || out != nil {
				t.Errorf("clearing %#x: err = %v", c, err)
			}
		}
	})
	t.Run("malformed", func(t *testing.T) {
		if _, _, err := RewriteGreeting(valid[:20], 1, 0); !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("server error", func(t *testing.T) {
		_, _, err := RewriteGreeting(readTestdata(t, "err_access_denied_mariadb.bin"), 1, 0)
		var ep ErrorPacket
		if !errors.As(err, &ep) || ep.Code != ERAccessDenied {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("pre-4.1 greeting clears lower half only", func(t *testing.T) {
		short := bytes.Clone(valid[:capturedCapLowOff+2])
		out, id, err := RewriteGreeting(short, 99, ClientSSL|ClientDeprecateEOF)
		if err != nil {
			t.Fatal(err)
		}
		g, err := ParseGreeting(out)
		if err != nil || id != 4 || g.ConnectionID != 99 || g.Capabilities != 0xf7fe&^ClientSSL {
			t.Fatalf("got %+v, id %d, err %v", g, id, err)
		}
	})
}

// TestRewriteGreetingCaps covers the bits a proxy offers itself, such as
// TLS it terminates in front of a server that has none.
func TestRewriteGreetingCaps(t *testing.T) {
	valid := readTestdata(t, "greeting_mariadb.bin")
	before, err := ParseGreeting(valid)
	if err != nil {
		t.Fatal(err)
	}
	if before.Capabilities&ClientSSL != 0 {
		t.Fatal("greeting_mariadb.bin offers TLS; the test needs one that does not")
	}
	tests := []struct {
		name       string
		in         []byte
		clear, set uint32
		wantCaps   uint32 // when wantErr is false
		wantErr    bool
	}{
		{name: "offer TLS", in: valid, set: ClientSSL, wantCaps: before.Capabilities | ClientSSL},
		{name: "offer TLS, hide compression", in: valid, clear: ClientCompress, set: ClientSSL,
			wantCaps: before.Capabilities&^ClientCompress | ClientSSL},
		{name: "set an upper bit", in: valid, set: ClientQueryAttributes, wantCaps: before.Capabilities | ClientQueryAttributes},
		{name: "set wins over clear", in: valid, clear: ClientSSL, set: ClientSSL, wantCaps: before.Capabilities | ClientSSL},
		{name: "set a layout bit", in: valid, set: ClientPluginAuth, wantErr: true},
		{name: "set an upper bit in a pre-4.1 greeting", in: bytes.Clone(valid[:capturedCapLowOff+2]), set: ClientDeprecateEOF, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, id, err := RewriteGreetingCaps(tt.in, 7, tt.clear, tt.set)
			if tt.wantErr {
				if err == nil || out != nil {
					t.Fatalf("got %q, %v; want an error", out, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g, err := ParseGreeting(out)
			if err != nil {
				t.Fatal(err)
			}
			if id != before.ConnectionID || g.ConnectionID != 7 || g.Capabilities != tt.wantCaps {
				t.Errorf("id %d, connection id %d, capabilities %#x; want %d, 7, %#x", id, g.ConnectionID, g.Capabilities, before.ConnectionID, tt.wantCaps)
			}
		})
	}
}
