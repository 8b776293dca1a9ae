package mysqlwire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadPacketCapturedStream(t *testing.T) {
	wire := readTestdata(t, "wire_mariadb_cli_server.bin")
	want := []struct {
		seq     byte
		payload []byte
	}{
		{0, readTestdata(t, "greeting_mariadb.bin")},
		{2, readTestdata(t, "ok_after_auth_mariadb.bin")},
		{1, []byte{0x01, 0x01}}, // SELECT 1: column count, then MariaDB's metadata-follows flag
	}
	r := bytes.NewReader(wire)
	for i, w := range want {
		seq, payload, err := ReadPacket(r, MaxPacketSize)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if seq != w.seq || !bytes.Equal(payload, w.payload) {
			t.Fatalf("packet %d: got seq %d payload %x, want seq %d payload %x", i, seq, payload, w.seq, w.payload)
		}
	}
	n := len(want)
	for {
		_, _, err := ReadPacket(r, MaxPacketSize)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		n++
	}
	if n != 6 {
		t.Fatalf("read %d packets, want 6", n)
	}
}

func TestReadPacketFreshSlice(t *testing.T) {
	wire := []byte{3, 0, 0, 7, 'a', 'b', 'c'}
	_, payload, err := ReadPacket(bytes.NewReader(wire), 0)
	if err != nil {
		t.Fatal(err)
	}
	payload[0] = 'X'
	if wire[4] != 'a' {
		t.Fatal("payload aliases the reader's buffer")
	}
}

func TestReadPacketErrors(t *testing.T) {
	tests := []struct {
		name    string
		wire    []byte
		limit   int
		wantErr error
		seq     byte
		payload []byte
	}{
		{name: "clean eof", wire: nil, wantErr: io.EOF},
		{name: "partial header", wire: []byte{1, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "header only", wire: []byte{1, 0, 0, 0}, wantErr: io.ErrUnexpectedEOF},
		{name: "short payload", wire: []byte{3, 0, 0, 0, 'a'}, wantErr: io.ErrUnexpectedEOF},
		{name: "large declared, short body", wire: []byte{0xFF, 0xFF, 0xFF, 0, 1, 2, 3}, wantErr: io.ErrUnexpectedEOF},
		{name: "over limit", wire: []byte{5, 0, 0, 9, 1, 2, 3, 4, 5}, limit: 4, wantErr: ErrPacketTooLarge, seq: 9},
		{name: "max declared over limit", wire: []byte{0xFF, 0xFF, 0xFF, 0}, limit: 1024, wantErr: ErrPacketTooLarge},
		{name: "at limit", wire: []byte{4, 0, 0, 1, 1, 2, 3, 4}, limit: 4, seq: 1, payload: []byte{1, 2, 3, 4}},
		{name: "no limit", wire: []byte{2, 0, 0, 3, 1, 2}, limit: 0, seq: 3, payload: []byte{1, 2}},
		{name: "negative limit", wire: []byte{2, 0, 0, 3, 1, 2}, limit: -5, seq: 3, payload: []byte{1, 2}},
		{name: "empty payload", wire: []byte{0, 0, 0, 4}, limit: 10, seq: 4, payload: []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, payload, err := ReadPacket(bytes.NewReader(tt.wire), tt.limit)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantErr == io.EOF && err != io.EOF {
					t.Fatalf("clean EOF must be returned unwrapped, got %v", err)
				}
				if payload != nil {
					t.Fatalf("payload = %x on error", payload)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if seq != tt.seq || !bytes.Equal(payload, tt.payload) {
				t.Fatalf("got seq %d payload %x, want %d %x", seq, payload, tt.seq, tt.payload)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWritePacket(t *testing.T) {
	t.Run("round trip", func(t *testing.T) {
		for _, size := range []int{0, 1, 250, 65536, MaxPacketSize} {
			payload := bytes.Repeat([]byte{0xAB}, size)
			var buf bytes.Buffer
			if err := WritePacket(&buf, 42, payload); err != nil {
				t.Fatalf("size %d: %v", size, err)
			}
			seq, got, err := ReadPacket(&buf, MaxPacketSize)
			if err != nil || seq != 42 || !bytes.Equal(got, payload) {
				t.Fatalf("size %d: seq %d err %v equal %v", size, seq, err, bytes.Equal(got, payload))
			}
		}
	})
	t.Run("header bytes", func(t *testing.T) {
		var buf bytes.Buffer
		if err := WritePacket(&buf, 3, []byte("xyz")); err != nil {
			t.Fatal(err)
		}
		if want := []byte{3, 0, 0, 3, 'x', 'y', 'z'}; !bytes.Equal(buf.Bytes(), want) {
			t.Fatalf("got %x want %x", buf.Bytes(), want)
		}
	})
	t.Run("too large", func(t *testing.T) {
		err := WritePacket(io.Discard, 0, make([]byte, MaxPacketSize+1))
		if !errors.Is(err, ErrPacketTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("writer error", func(t *testing.T) {
		err := WritePacket(failingWriter{}, 0, []byte{1})
		if !errors.Is(err, io.ErrClosedPipe) || !strings.HasPrefix(err.Error(), "mysqlwire: ") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLenEncInt(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		v    uint64
		n    int
		ok   bool
	}{
		{"empty", nil, 0, 0, false},
		{"one byte", []byte{0xFA, 9}, 0xFA, 1, true},
		{"null marker", []byte{0xFB}, 0, 0, false},
		{"err marker", []byte{0xFF, 1, 2}, 0, 0, false},
		{"two bytes", []byte{0xFC, 0x34, 0x12}, 0x1234, 3, true},
		{"two bytes short", []byte{0xFC, 0x34}, 0, 0, false},
		{"three bytes", []byte{0xFD, 0x56, 0x34, 0x12}, 0x123456, 4, true},
		{"three bytes short", []byte{0xFD, 0x56, 0x34}, 0, 0, false},
		{"eight bytes", []byte{0xFE, 8, 7, 6, 5, 4, 3, 2, 1}, 0x0102030405060708, 9, true},
		{"eight bytes short", []byte{0xFE, 8, 7, 6, 5, 4, 3, 2}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, n, ok := ReadLenEncInt(tt.in)
			if v != tt.v || n != tt.n || ok != tt.ok {
				t.Fatalf("got (%d, %d, %v), want (%d, %d, %v)", v, n, ok, tt.v, tt.n, tt.ok)
			}
		})
	}
	for _, v := range []uint64{0, 0xFA, 0xFB, 0xFFFF, 0x10000, 0xFFFFFF, 0x1000000, 1<<64 - 1} {
		b := AppendLenEncInt(nil, v)
		got, n, ok := ReadLenEncInt(b)
		if !ok || got != v || n != len(b) {
			t.Errorf("round trip %d: got (%d, %d, %v) from %x", v, got, n, ok, b)
		}
	}
}

func TestLenEncString(t *testing.T) {
	b := AppendLenEncString(nil, "hello")
	s, n, ok := ReadLenEncString(append(b, "tail"...))
	if !ok || string(s) != "hello" || n != 6 {
		t.Fatalf("got (%q, %d, %v)", s, n, ok)
	}
	huge := []byte{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 'x'}
	if _, _, ok := ReadLenEncString(huge); ok {
		t.Fatal("accepted a length beyond the buffer")
	}
	if _, _, ok := ReadLenEncString([]byte{5, 'a', 'b'}); ok {
		t.Fatal("accepted a truncated string")
	}
}
