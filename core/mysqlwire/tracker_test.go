package mysqlwire

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

var transcriptFiles = []string{
	"replies_eof_mariadb.bin",
	"replies_deprecate_eof_mariadb.bin",
	"replies_local_infile_mariadb.bin",
	"replies_progress_mariadb.bin",
}

// replayer drives a Scanner and a Tracker as the proxy does: commands queue
// up as the client sends them, and a reply's first packet takes the oldest.
type replayer struct {
	tb      testing.TB
	tracker *Tracker
	scanner *Scanner
	queue   []Command
	// replies has one entry per physical packet fed since the last reset;
	// packets the tracker skipped as rows count as ReplyMore.
	replies []Reply
	unasked int // packets that arrived with no command to answer
}

func newReplayer(tb testing.TB, caps, mariadbCaps uint32, skip bool) *replayer {
	r := &replayer{tb: tb, tracker: NewTracker(caps, mariadbCaps)}
	r.scanner = NewScanner(TrackerPrefix, r.packet)
	if skip {
		r.scanner.SetSkip(r.tracker.SkipRows)
	}
	return r
}

// catchUp accounts for packets the scanner saw without a callback.
func (r *replayer) catchUp(callback bool) {
	n := r.scanner.Packets()
	if callback {
		n-- // the packet being called back for
	}
	for range n {
		r.replies = append(r.replies, ReplyMore)
	}
}

func (r *replayer) packet(p *PacketInfo) {
	r.catchUp(true)
	if !r.tracker.Busy() && !r.tracker.Lost() {
		if len(r.queue) == 0 {
			r.unasked++
			r.tracker.Lose()
		} else {
			cmd := r.queue[0]
			r.queue = r.queue[1:]
			r.tracker.Begin(cmd)
		}
	}
	r.replies = append(r.replies, r.tracker.Packet(p))
}

// client queues the commands in a client turn, as the proxy's client side
// does: a logical packet with sequence id 0 is a command.
func (r *replayer) client(wire []byte) (commands int) {
	for _, p := range splitPackets(r.tb, wire) {
		if p.seq != 0 || len(p.payload) == 0 {
			continue
		}
		commands++
		if ExpectsReply(p.payload[0]) {
			r.queue = append(r.queue, Command{Code: p.payload[0], Seq: p.seq})
		}
	}
	return commands
}

// server feeds a server turn in chunks of the given size.
func (r *replayer) server(wire []byte, chunk int) []Reply {
	r.replies = r.replies[:0]
	for len(wire) > 0 {
		n := min(chunk, len(wire))
		r.scanner.Feed(wire[:n])
		wire = wire[n:]
	}
	r.catchUp(false)
	return r.replies
}

// TestTrackerTranscripts replays conversations captured from MariaDB 10.11
// and checks that the tracker ends every reply exactly at its last packet.
// A server turn ends a reply unless the client's next turn continues the
// same command (a LOAD DATA LOCAL file, a COM_CHANGE_USER auth switch).
func TestTrackerTranscripts(t *testing.T) {
	tests := []struct {
		file                                 string
		wantCommands, wantReplies, wantFails int
		wantInfile                           int
	}{
		{file: "replies_eof_mariadb.bin", wantCommands: 45, wantReplies: 42, wantFails: 5},
		{file: "replies_deprecate_eof_mariadb.bin", wantCommands: 45, wantReplies: 42, wantFails: 5},
		{file: "replies_local_infile_mariadb.bin", wantCommands: 4, wantReplies: 4, wantInfile: 3},
		{file: "replies_progress_mariadb.bin", wantCommands: 4, wantReplies: 4},
	}
	for _, tt := range tests {
		recs := readTranscript(t, tt.file)
		caps, mcaps := negotiated(t, recs)
		for _, skip := range []bool{false, true} {
			for _, chunk := range []int{1, 2, 3, 5, 7, 64, 1 << 20} {
				t.Run(fmt.Sprintf("%s/chunks of %d/skipping rows %v", tt.file, chunk, skip), func(t *testing.T) {
					r := newReplayer(t, caps, mcaps, skip)
					var commands, replies, fails, infile int
					for i := 3; i < len(recs); i++ {
						rec := recs[i]
						if rec.fromClient {
							commands += r.client(rec.wire)
							continue
						}
						pkts := splitPackets(t, rec.wire)
						continued := i+1 < len(recs) && splitPackets(t, recs[i+1].wire)[0].seq != 0
						got := r.server(rec.wire, chunk)
						if len(got) != len(pkts) {
							t.Fatalf("record %d: %d replies for %d packets", i, len(got), len(pkts))
						}
						for j, reply := range got {
							last := j == len(pkts)-1
							want := ReplyMore
							switch {
							case last && continued && pkts[j].payload[0] == LocalInfileHeader:
								want = ReplyLocalInfile
							case last && !continued:
								want = ReplyDone
							}
							if reply != want {
								t.Fatalf("record %d packet %d (seq %d, %q): reply %d, want %d",
									i, j, pkts[j].seq, head(pkts[j].payload), reply, want)
							}
							switch reply {
							case ReplyDone:
								replies++
								if r.tracker.Failed() {
									fails++
								}
							case ReplyLocalInfile:
								infile++
							}
						}
					}
					if r.unasked != 0 || len(r.queue) != 0 || r.tracker.Busy() || r.tracker.Lost() {
						t.Errorf("after the transcript: %d unasked packets, %d commands unanswered, busy %v, lost %v",
							r.unasked, len(r.queue), r.tracker.Busy(), r.tracker.Lost())
					}
					if commands != tt.wantCommands || replies != tt.wantReplies || fails != tt.wantFails || infile != tt.wantInfile {
						t.Errorf("commands %d, replies %d, ERR replies %d, infile requests %d; want %d, %d, %d, %d",
							commands, replies, fails, infile, tt.wantCommands, tt.wantReplies, tt.wantFails, tt.wantInfile)
					}
				})
			}
		}
	}
}

func head(b []byte) []byte { return b[:min(len(b), 16)] }

// wire frames packets with consecutive sequence ids from seq.
func wire(seq byte, payloads ...[]byte) []byte {
	var b bytes.Buffer
	for _, p := range payloads {
		for {
			n := min(len(p), MaxPacketSize)
			hdr := []byte{byte(n), byte(n >> 8), byte(n >> 16), seq}
			b.Write(hdr)
			b.Write(p[:n])
			seq++
			p = p[n:]
			if n < MaxPacketSize {
				break
			}
		}
	}
	return b.Bytes()
}

var (
	colDef      = []byte("\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x03\x81\x00\x00\x00\x00")
	eof         = []byte{0xFE, 0, 0, 0x02, 0}
	eofMore     = []byte{0xFE, 0, 0, 0x0A, 0}
	okPkt       = []byte{0, 0, 0, 0x02, 0, 0, 0}
	okMore      = []byte{0, 0, 0, 0x0A, 0, 0, 0}
	okFE        = []byte{0xFE, 0, 0, 0x02, 0, 0, 0}
	errPkt      = ErrPacket(1146, "42S02", "Table 'x' doesn't exist")
	progressPkt = []byte{0xFF, 0xFF, 0xFF, 1, 1, 2, 0x4D, 0x01, 0, 3, 'c', 'p', 'y'}
)

// bigRow is a text row whose single value fills more than one packet.
func bigRow(n int, first byte) []byte {
	row := make([]byte, n)
	row[0] = first
	return row
}

func TestTrackerSynthetic(t *testing.T) {
	const deprecateEOF = ClientDeprecateEOF
	big := bigRow(MaxPacketSize+10, 0xFE) // 0xFE: an 8-byte length prefix
	exact := bigRow(MaxPacketSize, 0xFE)  // followed by an empty packet
	tests := []struct {
		name        string
		caps, mcaps uint32
		cmd         Command
		reply       []byte
		// want is the expected reply per physical packet, as a string of
		// m(ore), d(one), i(nfile), l(ost).
		want       string
		wantFailed bool
	}{
		{name: "OK", cmd: Command{Code: ComPing}, reply: wire(1, okPkt), want: "d"},
		{name: "ERR", cmd: Command{Code: ComQuery}, reply: wire(1, errPkt), want: "d", wantFailed: true},
		{name: "progress reports then OK", cmd: Command{Code: ComQuery}, reply: wire(1, progressPkt, progressPkt, okPkt), want: "mmd"},
		{name: "result set", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, colDef, eof, []byte{1, '1'}, eof), want: "mmmmd"},
		{name: "ERR in the middle of rows", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, colDef, eof, []byte{1, '1'}, errPkt), want: "mmmmd", wantFailed: true},
		{name: "ERR in the middle of column definitions", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{2}, colDef, errPkt), want: "mmd", wantFailed: true},
		{name: "more results then ERR", cmd: Command{Code: ComQuery}, reply: wire(1, okMore, []byte{1}, colDef, eofMore, eofMore, errPkt), want: "mmmmmd", wantFailed: true},
		{name: "row over 16 MiB", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, colDef, eof, big, eof), want: "mmmmmd"},
		{name: "row of exactly 16 MiB", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, colDef, eof, exact, eof), want: "mmmmmd"},
		{name: "0xFE row over 16 MiB with DEPRECATE_EOF", caps: deprecateEOF, cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, colDef, big, okFE), want: "mmmmd"},
		{name: "metadata skipped, EOF kept", mcaps: MariaDBClientCacheMetadata, cmd: Command{Code: ComStmtExecute}, reply: wire(1, []byte{1, 0}, eof, []byte{0, 0, 1}, eof), want: "mmmd"},
		{name: "metadata skipped with DEPRECATE_EOF", caps: deprecateEOF, mcaps: MariaDBClientCacheMetadata, cmd: Command{Code: ComStmtExecute}, reply: wire(1, []byte{1, 0}, []byte{0, 0, 1}, okFE), want: "mmd"},
		{name: "command of two packets", cmd: Command{Code: ComQuery, Seq: 1}, reply: wire(2, okPkt), want: "d"},
		{name: "LOCAL INFILE then OK at any sequence id", cmd: Command{Code: ComQuery}, reply: append(wire(1, []byte("\xfbf.csv")), wire(9, okPkt)...), want: "id"},
		{name: "COM_CHANGE_USER auth switch", cmd: Command{Code: ComChangeUser}, reply: append(wire(1, []byte("\xfemysql_native_password\x00salt")), wire(3, okPkt)...), want: "md"},
		{name: "COM_STATISTICS string", cmd: Command{Code: ComStatistics}, reply: wire(1, []byte("Uptime: 1")), want: "d"},
		{name: "prepare with EOFs", cmd: Command{Code: ComStmtPrepare}, reply: wire(1, []byte{0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0}, colDef, colDef, eof, colDef, eof), want: "mmmmmd"},
		{name: "prepare with DEPRECATE_EOF", caps: deprecateEOF, cmd: Command{Code: ComStmtPrepare}, reply: wire(1, []byte{0, 1, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0}, colDef, colDef, colDef), want: "mmmd"},
		{name: "prepare ERR", cmd: Command{Code: ComStmtPrepare}, reply: wire(1, errPkt), want: "d", wantFailed: true},

		{name: "lost: wrong sequence id", cmd: Command{Code: ComQuery}, reply: wire(2, okPkt), want: "l"},
		{name: "lost: sequence id skips", cmd: Command{Code: ComQuery}, reply: append(wire(1, []byte{1}), wire(3, colDef)...), want: "ml"},
		{name: "lost: not a column definition", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, []byte("garbage")), want: "ml"},
		{name: "lost: EOF as a first packet", cmd: Command{Code: ComQuery}, reply: wire(1, eof), want: "l"},
		{name: "lost: no EOF after definitions", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{1}, colDef, []byte{1, '1'}), want: "mml"},
		{name: "lost: empty packet", cmd: Command{Code: ComQuery}, reply: wire(1, nil), want: "l"},
		{name: "lost: truncated OK", cmd: Command{Code: ComQuery}, reply: wire(1, []byte{0, 0xFC}), want: "l"},
		{name: "lost stays lost", cmd: Command{Code: ComQuery}, reply: wire(2, okPkt, okPkt), want: "ll"},
		{name: "binlog dump is not followed", cmd: Command{Code: ComBinlogDump}, reply: wire(1, okPkt), want: "l"},
	}
	for _, tt := range tests {
		for _, skip := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/skipping rows %v", tt.name, skip), func(t *testing.T) {
				tr := NewTracker(tt.caps, tt.mcaps)
				tr.Begin(tt.cmd)
				var got []byte
				var sc *Scanner
				sc = NewScanner(TrackerPrefix, func(p *PacketInfo) {
					got = append(got, bytes.Repeat([]byte{'m'}, sc.Packets()-1)...)
					got = append(got, "mdil"[tr.Packet(p)])
				})
				if skip {
					sc.SetSkip(tr.SkipRows)
				}
				sc.Feed(tt.reply)
				got = append(got, bytes.Repeat([]byte{'m'}, sc.Packets())...)
				if string(got) != tt.want {
					t.Errorf("replies %q, want %q", got, tt.want)
				}
				if tr.Failed() != tt.wantFailed {
					t.Errorf("Failed() = %v, want %v", tr.Failed(), tt.wantFailed)
				}
				if tt.want[len(tt.want)-1] == 'd' && tr.Busy() {
					t.Error("still busy after the reply ended")
				}
			})
		}
	}
}

func TestScanner(t *testing.T) {
	big := bigRow(MaxPacketSize+3, 'x')
	tests := []struct {
		name  string
		wire  []byte
		limit int
		// want lists the packets as seq/len/cont/firstSeq/prefix.
		want []string
	}{
		{name: "empty packet", wire: wire(0, nil), limit: 4, want: []string{"0/0/false/0/"}},
		{name: "prefix is bounded", wire: wire(0, []byte("\x03SELECT 1")), limit: 4, want: []string{"0/9/false/0/\x03SEL"}},
		{name: "prefix limit zero", wire: wire(7, []byte("abc"), []byte("de")), limit: 0, want: []string{"7/3/false/7/", "8/2/false/8/"}},
		{name: "continuation keeps the first packet's prefix", wire: wire(0, big), limit: 2,
			want: []string{"0/16777215/false/0/x\x00", "1/3/true/0/x\x00"}},
		{name: "exactly 16 MiB ends with an empty packet", wire: wire(3, bigRow(MaxPacketSize, 'y')), limit: 2,
			want: []string{"3/16777215/false/3/y\x00", "4/0/true/3/y\x00"}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 3, 4096, len(tt.wire)} {
			t.Run(fmt.Sprintf("%s/chunks of %d", tt.name, chunk), func(t *testing.T) {
				var got []string
				sc := NewScanner(tt.limit, func(p *PacketInfo) {
					got = append(got, fmt.Sprintf("%d/%d/%v/%d/%s", p.Seq, p.Len, p.Cont, p.FirstSeq, p.Prefix))
				})
				for b := tt.wire; len(b) > 0; {
					n := min(chunk, len(b))
					sc.Feed(b[:n])
					b = b[n:]
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("packets %q, want %q", got, tt.want)
				}
			})
		}
	}
}

func TestCommandName(t *testing.T) {
	tests := []struct {
		code byte
		want string
	}{
		{ComQuery, "COM_QUERY"},
		{ComStmtPrepare, "COM_STMT_PREPARE"},
		{ComResetConnection, "COM_RESET_CONNECTION"},
		{ComStmtBulkExecute, "COM_STMT_BULK_EXECUTE"},
		{0x20, "COM_UNKNOWN"},
		{0xFF, "COM_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := CommandName(tt.code); got != tt.want {
				t.Errorf("CommandName(%#x) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
}

func TestParseChangeUser(t *testing.T) {
	recs := readTranscript(t, "replies_eof_mariadb.bin")
	caps, _ := negotiated(t, recs)
	var captured []byte
	for _, rec := range recs {
		if rec.fromClient {
			if p := splitPackets(t, rec.wire)[0]; p.seq == 0 && p.payload[0] == ComChangeUser {
				captured = p.payload
			}
		}
	}
	if captured == nil {
		t.Fatal("the transcript has no COM_CHANGE_USER")
	}
	const full = ClientSecureConnection | ClientPluginAuth | ClientConnectAttrs
	attrs := map[string]string{"_client_name": "libmariadb", "program_name": "mysql"}
	withAttrs := buildChangeUser(ChangeUser{User: "bob", Database: "shop", AuthPluginName: NativePasswordPlugin, Attributes: attrs},
		bytes.Repeat([]byte{7}, 20), full)
	insecure := append([]byte{ComChangeUser}, "bob\x00secret\x00shop\x00"...)
	tests := []struct {
		name    string
		payload []byte
		caps    uint32
		want    ChangeUser
		wantErr bool
	}{
		{name: "captured from the CLI session", payload: captured, caps: caps,
			want: ChangeUser{User: "maxuser", Database: "portico_demo", AuthPluginName: "mysql_native_password"}},
		{name: "NUL-terminated auth response", payload: insecure, want: ChangeUser{User: "bob", Database: "shop"}},
		{name: "with attributes", payload: withAttrs, caps: full,
			want: ChangeUser{User: "bob", Database: "shop", AuthPluginName: NativePasswordPlugin, Attributes: attrs}},
		{name: "attributes the client did not announce are not read", payload: withAttrs, caps: full &^ ClientConnectAttrs,
			want: ChangeUser{User: "bob", Database: "shop", AuthPluginName: NativePasswordPlugin}},
		{name: "nothing after the database", payload: withAttrs[:bytes.Index(withAttrs, []byte("shop"))+5], caps: full,
			want: ChangeUser{User: "bob", Database: "shop"}},
		{name: "start of a cut packet, read without its optional fields", payload: withAttrs[:len(withAttrs)-3],
			caps: ClientSecureConnection, want: ChangeUser{User: "bob", Database: "shop"}},
		{name: "cut in the attributes", payload: withAttrs[:len(withAttrs)-3], caps: full, wantErr: true},
		{name: "cut in the character set", payload: withAttrs[:bytes.Index(withAttrs, []byte("shop"))+6], caps: full, wantErr: true},
		{name: "cut in the plugin name", payload: withAttrs[:bytes.Index(withAttrs, []byte("mysql_"))+3], caps: full, wantErr: true},
		{name: "cut in the database", payload: insecure[:len(insecure)-1], wantErr: true},
		{name: "cut in the auth response", payload: captured[:12], caps: caps, wantErr: true},
		{name: "not COM_CHANGE_USER", payload: []byte{ComQuery, 'x'}, wantErr: true},
		{name: "empty", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChangeUser(tt.payload, tt.caps)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// FuzzTracker feeds arbitrary server bytes, in arbitrary chunks, to a
// scanner and a tracker that answer a stream of commands. Whatever the
// bytes, nothing may panic, a lost tracker must stay lost, and the scanner
// must account for every byte of every packet it reports.
func FuzzTracker(f *testing.F) {
	for _, name := range transcriptFiles {
		recs := readTranscript(f, name)
		caps, mcaps := negotiated(f, recs)
		for i := 3; i+1 < len(recs); i++ {
			if recs[i].fromClient && !recs[i+1].fromClient {
				p := splitPackets(f, recs[i].wire)[0]
				if p.seq != 0 || len(p.payload) == 0 {
					continue
				}
				flags := byte(caps>>24&1) | byte(mcaps>>3&2)
				f.Add(flags, p.payload[0], byte(7), recs[i+1].wire)
				f.Add(flags|4, p.payload[0], byte(63), recs[i+1].wire)
			}
		}
	}
	f.Fuzz(func(t *testing.T, flags, code, chunk byte, in []byte) {
		tr := NewTracker(uint32(flags&1)<<24, uint32(flags&2)<<3)
		var seen, lostAt int
		lost := false
		var sc *Scanner
		sc = NewScanner(TrackerPrefix, func(p *PacketInfo) {
			seen += 4 + p.Len
			if len(p.Prefix) > TrackerPrefix {
				t.Fatalf("prefix of %d bytes", len(p.Prefix))
			}
			if !tr.Busy() && !tr.Lost() {
				tr.Begin(Command{Code: code})
			}
			r := tr.Packet(p)
			if lost && r != ReplyLost {
				t.Fatalf("packet %d: reply %d after the tracker was lost at %d", seen, r, lostAt)
			}
			if r == ReplyLost && !lost {
				lost, lostAt = true, seen
			}
			if lost != tr.Lost() {
				t.Fatalf("Lost() = %v after reply %d", tr.Lost(), r)
			}
		})
		if flags&4 != 0 {
			sc.SetSkip(func(b []byte) (int, int) {
				n, k := tr.SkipRows(b)
				if lost && n > 0 {
					t.Fatalf("a lost tracker skipped %d bytes", n)
				}
				seen += n
				return n, k
			})
		}
		size := int(chunk%64) + 1
		for b := in; len(b) > 0; {
			n := min(size, len(b))
			sc.Feed(b[:n])
			b = b[n:]
		}
		if seen > len(in) {
			t.Fatalf("scanner reported %d bytes of packets in %d bytes", seen, len(in))
		}
	})
}

// BenchmarkTracker measures the per-packet cost the proxy adds to the
// backend-to-client direction: scanning and tracking a result set of many
// small rows.
func BenchmarkTracker(b *testing.B) {
	payloads := [][]byte{{1}, colDef, eof}
	for range 1000 {
		payloads = append(payloads, []byte{3, 'a', 'b', 'c'})
	}
	payloads = append(payloads, eof)
	reply := wire(1, payloads...)
	tr := NewTracker(0, 0)
	sc := NewScanner(TrackerPrefix, func(p *PacketInfo) {
		if tr.Packet(p) == ReplyLost {
			b.Fatal("lost")
		}
	})
	sc.SetSkip(tr.SkipRows)
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		tr.Begin(Command{Code: ComQuery})
		for r := reply; len(r) > 0; {
			n := min(32<<10, len(r))
			sc.Feed(r[:n])
			r = r[n:]
		}
	}
}
