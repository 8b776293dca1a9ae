package proxy

import (
	"bytes"
	"errors"
	"testing"
)

type failAfter struct {
	bytes.Buffer
	writes int
}

var errWrite = errors.New("write failed")

func (f *failAfter) Write(b []byte) (int, error) {
	if f.writes == 0 {
		return 0, errWrite
	}
	f.writes--
	return f.Buffer.Write(b)
}

func TestWriteEdited(t *testing.T) {
	chunk := []byte("aaaBBBccDDee")
	tests := []struct {
		name   string
		eds    []edit
		writes int
		want   string
		err    error
	}{
		{"none", nil, 10, "aaaBBBccDDee", nil},
		{"middle", []edit{{off: 3, n: 3, packet: []byte("xxxxx")}}, 10, "aaaxxxxxccDDee", nil},
		{"two, shorter and at the end", []edit{{off: 3, n: 3, packet: []byte("y")}, {off: 8, n: 4, packet: []byte("zz")}}, 10, "aaayccz" + "z", nil},
		{"whole chunk", []edit{{off: 0, n: 12, packet: []byte("w")}}, 10, "w", nil},
		{"write fails", []edit{{off: 3, n: 3, packet: []byte("x")}}, 1, "aaa", errWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &failAfter{writes: tt.writes}
			err := writeEdited(w, chunk, tt.eds)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if got := w.String(); got != tt.want {
				t.Errorf("wrote %q, want %q", got, tt.want)
			}
		})
	}
}
