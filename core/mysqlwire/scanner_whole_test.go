package mysqlwire

import (
	"bytes"
	"testing"
)

// TestScannerWholeOffsets checks that a packet lying whole in a chunk is
// reported with its offset there, which the proxy uses to replace it, and
// that one split across chunks is not.
func TestScannerWholeOffsets(t *testing.T) {
	a := []byte{1, 0, 0, 0, ComPing}
	b := []byte{6, 0, 0, 0, ComQuery, 'K', 'I', 'L', 'L', '1'}
	type got struct {
		whole bool
		off   int
	}
	tests := []struct {
		name   string
		chunks [][]byte
		want   []got
	}{
		{"one packet", [][]byte{a}, []got{{true, 0}}},
		{"two in one chunk", [][]byte{append(append([]byte{}, a...), b...)}, []got{{true, 0}, {true, 5}}},
		{"second split", [][]byte{append(append([]byte{}, a...), b[:7]...), b[7:]}, []got{{true, 0}, {false, 0}}},
		{"header split", [][]byte{b[:2], b[2:], a}, []got{{false, 0}, {true, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []got
			var chunk []byte
			s := NewScanner(64, func(p *PacketInfo) {
				g := got{p.Whole, 0}
				if p.Whole {
					g.off = p.Off
					if want := chunk[p.Off+packetHeaderSize : p.Off+packetHeaderSize+p.Len]; !bytes.Equal(p.Prefix, want) {
						t.Errorf("prefix %q is not the chunk's %q at offset %d", p.Prefix, want, p.Off)
					}
				}
				seen = append(seen, g)
			})
			for _, c := range tt.chunks {
				chunk = c
				s.Feed(c)
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("saw %v, want %v", seen, tt.want)
			}
			for i := range seen {
				if seen[i] != tt.want[i] {
					t.Errorf("packet %d: %+v, want %+v", i, seen[i], tt.want[i])
				}
			}
		})
	}
}
