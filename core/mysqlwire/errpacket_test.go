package mysqlwire

import (
	"bytes"
	"errors"
	"testing"
)

func TestErrPacketMatchesServer(t *testing.T) {
	captured := readTestdata(t, "err_access_denied_mariadb.bin")
	got := ErrPacket(ERAccessDenied, SSAccessDenied, "Access denied for user 'maxuser'@'localhost' (using password: YES)")
	if !bytes.Equal(got, captured) {
		t.Fatalf("built  %x\nserver %x", got, captured)
	}
}

func TestErrPacket(t *testing.T) {
	tests := []struct {
		name    string
		errno   uint16
		state   string
		msg     string
		want    []byte
		parsed  ErrorPacket
		errText string
	}{
		{
			name: "handshake error", errno: ERHandshakeError, state: SSNetError, msg: "Bad handshake",
			want:    append([]byte{0xFF, 0x13, 0x04, '#', '0', '8', 'S', '0', '1'}, "Bad handshake"...),
			parsed:  ErrorPacket{Code: 1043, SQLState: "08S01", Message: "Bad handshake"},
			errText: "ERROR 1043 (08S01): Bad handshake",
		},
		{
			name: "bad state replaced", errno: CRConnHostError, state: "HY0", msg: "x",
			want:   []byte{0xFF, 0xD3, 0x07, '#', 'H', 'Y', '0', '0', '0', 'x'},
			parsed: ErrorPacket{Code: 2003, SQLState: "HY000", Message: "x"},
		},
		{
			name: "empty message", errno: ERConnectionKilled, state: SSQueryInterrupted,
			want:   []byte{0xFF, 0x87, 0x07, '#', '7', '0', '1', '0', '0'},
			parsed: ErrorPacket{Code: 1927, SQLState: "70100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := ErrPacket(tt.errno, tt.state, tt.msg)
			if !bytes.Equal(b, tt.want) {
				t.Fatalf("got %x want %x", b, tt.want)
			}
			p, err := ParseErrPacket(b)
			if err != nil || p != tt.parsed {
				t.Fatalf("parsed %+v, %v", p, err)
			}
			if tt.errText != "" && p.Error() != tt.errText {
				t.Fatalf("Error() = %q", p.Error())
			}
		})
	}
}

func TestParseErrPacket(t *testing.T) {
	tests := []struct {
		name    string
		payload []byte
		want    ErrorPacket
		wantErr bool
	}{
		{name: "empty", payload: nil, wantErr: true},
		{name: "not err", payload: []byte{0x00, 0x00, 0x00}, wantErr: true},
		{name: "code truncated", payload: []byte{0xFF, 0x15}, wantErr: true},
		{name: "state truncated", payload: []byte{0xFF, 0x15, 0x04, '#', '2', '8'}, wantErr: true},
		{name: "code only", payload: []byte{0xFF, 0x15, 0x04}, want: ErrorPacket{Code: 1045}},
		{
			// Sent before the client announced Protocol41, e.g. instead of
			// the greeting.
			name:    "no sqlstate marker",
			payload: append([]byte{0xFF, 0x69, 0x04}, "Host 'x' is blocked"...),
			want:    ErrorPacket{Code: 1129, Message: "Host 'x' is blocked"},
		},
		{name: "captured", payload: readTestdata(t, "err_access_denied_mariadb.bin"), want: ErrorPacket{
			Code: 1045, SQLState: "28000", Message: "Access denied for user 'maxuser'@'localhost' (using password: YES)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseErrPacket(tt.payload)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if s := (ErrorPacket{Code: 1129, Message: "m"}).Error(); s != "ERROR 1129: m" {
		t.Fatalf("Error() without state = %q", s)
	}
}
