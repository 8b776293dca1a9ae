package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestParseHandshakeResponseCaptured(t *testing.T) {
	tests := []struct {
		file     string
		greeting string
		want     HandshakeResponse
	}{
		{
			file:     "handshake_response_mariadb_cli.bin",
			greeting: "greeting_mariadb.bin",
			want: HandshakeResponse{
				Capabilities:        0x00bfa28c,
				MaxPacketSize:       1 << 20,
				Charset:             33, // utf8mb3_general_ci
				MariaDBCapabilities: 0x1d,
				User:                "maxuser",
				Database:            "somedb",
				AuthPluginName:      "mysql_native_password",
				Attributes: map[string]string{
					"_os":             "Linux",
					"_client_name":    "libmariadb",
					"_pid":            "5814",
					"_client_version": "3.3.20",
					"_platform":       "x86_64",
					"program_name":    "mysql",
					"_server_host":    "127.0.0.1",
				},
			},
		},
		{
			file:     "handshake_response_go_sql_driver.bin",
			greeting: "greeting_mariadb_go_session.bin",
			want: HandshakeResponse{
				Capabilities:        0x013aa28c,
				MaxPacketSize:       0,
				Charset:             45, // utf8mb4_general_ci
				MariaDBCapabilities: MariaDBClientCacheMetadata,
				User:                "maxuser",
				Database:            "somedb",
				AuthPluginName:      "mysql_native_password",
				Attributes: map[string]string{
					"_client_name": "Go-MySQL-Driver",
					"_os":          "linux",
					"_platform":    "amd64",
					"_pid":         "6958",
					"_server_host": "127.0.0.1",
					"program_name": "gocap",
					"env":          "test",
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			h, err := ParseHandshakeResponse(readTestdata(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			g, err := ParseGreeting(readTestdata(t, tt.greeting))
			if err != nil {
				t.Fatal(err)
			}
			// The proof only matches if both the greeting's scramble and
			// the response's auth data were cut at the right places.
			if want := nativePasswordScramble(g.AuthPluginData, "maxpwd"); !bytes.Equal(h.AuthResponse, want) {
				t.Errorf("AuthResponse = %x, want %x", h.AuthResponse, want)
			}
			h.AuthResponse = nil
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("got  %+v\nwant %+v", h, tt.want)
			}
			if h.Capabilities&ClientProtocol41 == 0 || h.Capabilities&ClientSSL != 0 {
				t.Errorf("unexpected capabilities %#x", h.Capabilities)
			}
		})
	}
}

func TestParseHandshakeResponseDoesNotAlias(t *testing.T) {
	payload := readTestdata(t, "handshake_response_go_sql_driver.bin")
	h, err := ParseHandshakeResponse(payload)
	if err != nil {
		t.Fatal(err)
	}
	before := bytes.Clone(h.AuthResponse)
	for i := range payload {
		payload[i] = 0
	}
	if !bytes.Equal(h.AuthResponse, before) {
		t.Fatal("AuthResponse aliases the payload")
	}
}

func TestParseHandshakeResponseEncodings(t *testing.T) {
	base := HandshakeResponse{
		Capabilities:   ClientLongPassword | ClientProtocol41,
		MaxPacketSize:  1 << 24,
		Charset:        45,
		User:           "app",
		AuthResponse:   []byte("secret-ish"),
		AuthPluginName: "",
	}
	with := func(caps uint32, f func(*HandshakeResponse)) HandshakeResponse {
		h := base
		h.Capabilities |= caps
		if f != nil {
			f(&h)
		}
		return h
	}
	tests := []struct {
		name string
		h    HandshakeResponse
	}{
		{"nul-terminated auth", with(0, nil)},
		{"one-byte length auth", with(ClientSecureConnection, nil)},
		{"lenenc auth", with(ClientSecureConnection|ClientPluginAuthLenencClientData, func(h *HandshakeResponse) {
			h.AuthResponse = bytes.Repeat([]byte{0x5A}, 300)
		})},
		{"empty auth", with(ClientSecureConnection, func(h *HandshakeResponse) { h.AuthResponse = []byte{} })},
		{"db and plugin", with(ClientSecureConnection|ClientConnectWithDB|ClientPluginAuth, func(h *HandshakeResponse) {
			h.Database = "shop"
			h.AuthPluginName = "client_ed25519"
		})},
		{"empty attributes", with(ClientSecureConnection|ClientPluginAuth|ClientConnectAttrs, func(h *HandshakeResponse) {
			h.AuthPluginName = "mysql_native_password"
			h.Attributes = map[string]string{}
		})},
		{"attributes", with(ClientSecureConnection|ClientPluginAuth|ClientConnectAttrs, func(h *HandshakeResponse) {
			h.AuthPluginName = "mysql_native_password"
			h.Attributes = map[string]string{"_client_name": "x", "long": string(bytes.Repeat([]byte("v"), 260))}
		})},
		{"mariadb extended caps", with(0, func(h *HandshakeResponse) {
			h.Capabilities &^= ClientMySQL
			h.MariaDBCapabilities = MariaDBClientProgress | MariaDBClientCacheMetadata
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHandshakeResponse(buildHandshakeResponse(tt.h))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.h) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.h)
			}
		})
	}
}

func TestParseHandshakeResponseOptionalTail(t *testing.T) {
	// Servers accept a packet that ends where the plugin name or the
	// attributes would begin; so must a proxy sitting in front of them.
	h := HandshakeResponse{
		Capabilities: ClientProtocol41 | ClientSecureConnection | ClientPluginAuth | ClientConnectAttrs,
		User:         "u",
		AuthResponse: []byte{1, 2, 3},
	}
	full := buildHandshakeResponse(h)
	noPlugin := full[:len(full)-1] // drop the plugin name's NUL
	got, err := ParseHandshakeResponse(noPlugin)
	if err != nil {
		t.Fatal(err)
	}
	if got.AuthPluginName != "" || got.Attributes != nil || got.User != "u" {
		t.Fatalf("got %+v", got)
	}
	// MySQL 8 may append a zstd compression level after the attributes.
	h.Attributes = map[string]string{"a": "b"}
	withTrailer := append(buildHandshakeResponse(h), 3)
	got, err = ParseHandshakeResponse(withTrailer)
	if err != nil || got.Attributes["a"] != "b" {
		t.Fatalf("trailing byte: %+v, %v", got, err)
	}
}

func TestParseHandshakeResponseMalformed(t *testing.T) {
	caps := func(c uint32) []byte {
		b := binary.LittleEndian.AppendUint32(nil, c)
		return append(b, make([]byte, 28)...)
	}
	p41 := ClientProtocol41 | ClientSecureConnection
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"one byte", []byte{0x00}},
		{"handshake response 320", []byte{0x85, 0x00, 0xff, 0xff, 0xff, 'r', 'o', 'o', 't', 0}},
		{"ssl request", readTestdata(t, "ssl_request_mariadb_cli.bin")},
		{"fixed header only", caps(p41)},
		{"user not terminated", append(caps(p41), 'r', 'o', 'o', 't')},
		{"auth length past end", append(caps(p41), 'u', 0, 20, 1, 2, 3)},
		{"lenenc auth huge", append(caps(p41|ClientPluginAuthLenencClientData), 'u', 0, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1)},
		{"lenenc auth null marker", append(caps(p41|ClientPluginAuthLenencClientData), 'u', 0, 0xFB)},
		{"nul auth not terminated", append(caps(ClientProtocol41), 'u', 0, 'x', 'y')},
		{"db missing", append(caps(p41|ClientConnectWithDB), 'u', 0, 0)},
		{"db not terminated", append(caps(p41|ClientConnectWithDB), 'u', 0, 0, 'd', 'b')},
		{"plugin not terminated", append(caps(p41|ClientPluginAuth), 'u', 0, 0, 'm', 'y')},
		{"attrs block past end", append(caps(p41|ClientConnectAttrs), 'u', 0, 0, 10, 1, 'a')},
		{"attrs dangling key", append(caps(p41|ClientConnectAttrs), 'u', 0, 0, 2, 1, 'k')},
		{"attrs value past block", append(caps(p41|ClientConnectAttrs), 'u', 0, 0, 3, 1, 'k', 5, 'v', 'v', 'v', 'v', 'v')},
		{"attrs bad lenenc", append(caps(p41|ClientConnectAttrs), 'u', 0, 0, 0xFF)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHandshakeResponse(tt.payload)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !reflect.DeepEqual(h, HandshakeResponse{}) {
				t.Fatalf("partial result leaked: %+v", h)
			}
		})
	}
}

// Every strict prefix of a captured response must fail, except the two
// boundaries servers also accept (see TestParseHandshakeResponseOptionalTail).
func TestParseHandshakeResponseTruncated(t *testing.T) {
	for _, file := range handshakeResponseFiles {
		full := readTestdata(t, file)
		plugin := bytes.Index(full, []byte("mysql_native_password\x00"))
		if plugin < 0 {
			t.Fatalf("%s: plugin name not found", file)
		}
		attrs := plugin + len("mysql_native_password\x00")
		t.Run(file, func(t *testing.T) {
			for i := 0; i < len(full); i++ {
				h, err := ParseHandshakeResponse(bytes.Clone(full[:i]))
				switch i {
				case plugin:
					if err != nil || h.AuthPluginName != "" || h.Attributes != nil || h.Database != "somedb" {
						t.Fatalf("prefix ending before plugin name: %+v, %v", h, err)
					}
				case attrs:
					if err != nil || h.AuthPluginName != "mysql_native_password" || h.Attributes != nil {
						t.Fatalf("prefix ending before attributes: %+v, %v", h, err)
					}
				default:
					if !errors.Is(err, ErrMalformed) {
						t.Fatalf("prefix of %d bytes: err = %v", i, err)
					}
				}
			}
		})
	}
}

func TestIsSSLRequest(t *testing.T) {
	ssl := readTestdata(t, "ssl_request_mariadb_cli.bin")
	noSSL := bytes.Clone(ssl)
	noSSL[1] &^= byte(ClientSSL >> 8)
	no41 := bytes.Clone(ssl)
	no41[1] &^= byte(ClientProtocol41 >> 8)
	tests := []struct {
		name    string
		payload []byte
		want    bool
	}{
		{"captured", ssl, true},
		{"ssl bit clear", noSSL, false},
		{"protocol41 clear", no41, false},
		{"too short", ssl[:31], false},
		{"full response", readTestdata(t, "handshake_response_mariadb_cli.bin"), false},
		{"too long", append(bytes.Clone(ssl), 0), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsSSLRequest(tt.payload); got != tt.want {
				t.Fatalf("IsSSLRequest = %v, want %v", got, tt.want)
			}
		})
	}
}
