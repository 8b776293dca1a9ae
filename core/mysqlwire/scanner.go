package mysqlwire

// PacketInfo describes one physical packet found by a Scanner.
type PacketInfo struct {
	Seq byte
	// Len is this physical packet's payload length. MaxPacketSize means the
	// logical packet goes on in the next physical packet.
	Len int
	// Cont is set when this physical packet continues the logical packet of
	// the one before it.
	Cont bool
	// FirstSeq is the sequence id of the logical packet's first physical
	// packet, the one that says whether it starts a command.
	FirstSeq byte
	// Prefix is the start of the logical packet's payload, up to the
	// scanner's limit. It may alias the chunk being scanned and is only
	// valid during the callback.
	Prefix []byte
	// Whole is set when the whole physical packet, header and payload, lies
	// in the chunk being scanned, at offset Off, so that a proxy can forward
	// something else in its place.
	Whole bool
	Off   int
}

// Ends reports whether this physical packet is the last of its logical
// packet.
func (p *PacketInfo) Ends() bool { return p.Len < MaxPacketSize }

// Scanner follows packet boundaries through a byte stream that arrives in
// arbitrary chunks. A proxy hands it each chunk before forwarding that same
// chunk unchanged, so it sees every packet without reassembling or copying
// payloads: only a bounded prefix of each packet is kept.
type Scanner struct {
	hdr       [packetHeaderSize]byte
	hdrN      int
	inPayload bool
	left      int  // payload bytes of the current packet not yet seen
	cont      bool // the next packet continues a logical packet
	info      PacketInfo
	prefix    []byte // backing array of info.Prefix; its capacity is the limit
	onPacket  func(*PacketInfo)
	skip      func([]byte) (n, packets int)
	packets   int // seen since the last call to Packets
}

// NewScanner returns a scanner that keeps up to prefixLimit bytes of each
// logical packet and calls onPacket at the end of every physical packet.
// The *PacketInfo is only valid during the call.
func NewScanner(prefixLimit int, onPacket func(*PacketInfo)) *Scanner {
	s := &Scanner{prefix: make([]byte, 0, prefixLimit), onPacket: onPacket}
	s.info.Prefix = s.prefix
	return s
}

// PrefixLimit is how many bytes of each packet the scanner keeps.
func (s *Scanner) PrefixLimit() int { return cap(s.prefix) }

// SetSkip installs fn, which the scanner offers the stream at packet
// boundaries. fn may consume whole packets that need no callback (the rows
// of a result set) and reports how many bytes and packets it took. It lets
// bulk traffic pass at a few instructions a packet.
func (s *Scanner) SetSkip(fn func(b []byte) (n, packets int)) { s.skip = fn }

// Packets returns how many physical packets the scanner has seen since the
// last call.
func (s *Scanner) Packets() int {
	n := s.packets
	s.packets = 0
	return n
}

// Feed scans the next chunk of the stream.
func (s *Scanner) Feed(b []byte) {
	total := len(b)
	for len(b) > 0 {
		if !s.inPayload && s.hdrN == 0 && !s.cont && s.skip != nil {
			if n, k := s.skip(b); n > 0 {
				s.packets += k
				b = b[n:]
				continue
			}
		}
		if !s.inPayload && s.hdrN == 0 && !s.cont && len(b) >= packetHeaderSize {
			// Fast path, for most packets: the whole packet is in this
			// chunk and ends its logical packet, so its prefix can be shown
			// in place instead of copied.
			n := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
			if n < MaxPacketSize && n <= len(b)-packetHeaderSize {
				s.packets++
				k := packetHeaderSize + min(n, cap(s.prefix))
				info := &s.info
				info.Seq, info.FirstSeq, info.Len, info.Cont = b[3], b[3], n, false
				info.Prefix = b[packetHeaderSize:k:k]
				info.Whole, info.Off = true, total-len(b)
				s.onPacket(&s.info)
				info.Whole = false
				b = b[packetHeaderSize+n:]
				continue
			}
		}
		if !s.inPayload {
			n := copy(s.hdr[s.hdrN:], b)
			s.hdrN += n
			b = b[n:]
			if s.hdrN < packetHeaderSize {
				return
			}
			s.hdrN = 0
			s.inPayload = true
			s.left = int(s.hdr[0]) | int(s.hdr[1])<<8 | int(s.hdr[2])<<16
			s.info.Seq = s.hdr[3]
			s.info.Len = s.left
			s.info.Cont = s.cont
			if !s.cont {
				s.info.FirstSeq = s.hdr[3]
				s.info.Prefix = s.prefix[:0]
			}
		}
		if s.left > 0 {
			n := min(s.left, len(b))
			if room := cap(s.info.Prefix) - len(s.info.Prefix); room > 0 {
				s.info.Prefix = append(s.info.Prefix, b[:min(n, room)]...)
			}
			s.left -= n
			b = b[n:]
			if s.left > 0 {
				return
			}
		}
		s.inPayload = false
		s.cont = s.info.Len == MaxPacketSize
		s.packets++
		s.onPacket(&s.info)
	}
}
