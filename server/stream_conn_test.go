package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// wsFrame builds a websocket frame with an n-byte payload.
func wsFrame(rng *rand.Rand, n int, masked bool) []byte {
	b := []byte{0x81, 0}
	switch {
	case n < 126:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if masked {
		b[1] |= 0x80
		b = append(b, 1, 2, 3, 4)
	}
	for range n {
		b = append(b, byte(rng.IntN(256)))
	}
	return b
}

type recordingConn struct {
	net.Conn
	out   bytes.Buffer
	calls int
}

func newTestFrameConn() (*frameConn, *recordingConn) {
	rec := &recordingConn{}
	fc := &frameConn{}
	fc.writev = func(b net.Buffers) (int64, error) {
		rec.calls++
		return b.WriteTo(&rec.out)
	}
	return fc, rec
}

// TestFrameConn checks that frames pass through unchanged however they are
// split, and that the websocket library's pattern (a 16-byte bufio.Writer,
// one Flush per frame) costs one write per frame.
func TestFrameConn(t *testing.T) {
	sizes := []int{0, 1, 13, 14, 125, 126, 300, 4096, 65535, 65536, 70000}
	t.Run("through a small bufio.Writer, one write per frame", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		fc, rec := newTestFrameConn()
		bw := bufio.NewWriterSize(fc, streamBufSize)
		var want bytes.Buffer
		for _, n := range sizes {
			for _, masked := range []bool{false, true} {
				f := wsFrame(rng, n, masked)
				want.Write(f)
				// The library writes the header, then the payload, then
				// flushes.
				hdr := len(f) - n
				if _, err := bw.Write(f[:hdr]); err != nil {
					t.Fatal(err)
				}
				if _, err := bw.Write(f[hdr:]); err != nil {
					t.Fatal(err)
				}
				if err := bw.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !bytes.Equal(rec.out.Bytes(), want.Bytes()) {
			t.Fatal("bytes changed on the way")
		}
		if want := 2 * len(sizes); rec.calls != want {
			t.Errorf("%d writes for %d frames", rec.calls, want)
		}
	})
	for seed := range uint64(20) {
		t.Run("random splits "+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 9))
			fc, rec := newTestFrameConn()
			var want bytes.Buffer
			for range 30 {
				want.Write(wsFrame(rng, sizes[rng.IntN(len(sizes))], rng.IntN(2) == 0))
			}
			in := want.Bytes()
			for len(in) > 0 {
				k := min(len(in), 1+rng.IntN(20_000))
				if rng.IntN(3) == 0 {
					k = min(len(in), 1+rng.IntN(3)) // tiny pieces, headers split
				}
				n, err := fc.Write(in[:k])
				if err != nil || n != k {
					t.Fatalf("Write = %d, %v; want %d", n, err, k)
				}
				in = in[k:]
			}
			if !bytes.Equal(rec.out.Bytes(), want.Bytes()) {
				t.Fatalf("bytes changed on the way: %d in, %d out", want.Len(), rec.out.Len())
			}
		})
	}
}

func TestFrameConnReadsEarlyBytesFirst(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	fc := &frameConn{Conn: a, early: []byte("early")}
	go func() { _, _ = b.Write([]byte("late")) }()
	got := make([]byte, 9)
	if _, err := bufio.NewReader(fc).Read(got[:5]); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Read(got[5:]); err != nil {
		t.Fatal(err)
	}
	if string(got) != "earlylate" {
		t.Fatalf("read %q, want earlylate", got)
	}
}
