package mysqlwire

import (
	"bytes"
	"encoding/binary"
)

// TrackerPrefix is how many bytes of each packet a Tracker needs to see: an
// OK packet's status flags sit after two length-encoded integers.
const TrackerPrefix = 32

// Command is a client command whose reply a Tracker is to follow.
type Command struct {
	Code byte
	// Seq is the sequence id of the command's last physical packet; the
	// reply's first packet carries the next one.
	Seq byte
}

// ExpectsReply reports whether the server answers the command at all.
// Waiting for a reply to one of these would stall the tracker for good.
func ExpectsReply(code byte) bool {
	switch code {
	case ComQuit, ComStmtSendLongData, ComStmtClose:
		return false
	}
	return true
}

var commandNames = [...]string{
	ComSleep: "COM_SLEEP", ComQuit: "COM_QUIT", ComInitDB: "COM_INIT_DB", ComQuery: "COM_QUERY",
	ComFieldList: "COM_FIELD_LIST", ComCreateDB: "COM_CREATE_DB", ComDropDB: "COM_DROP_DB",
	ComRefresh: "COM_REFRESH", ComShutdown: "COM_SHUTDOWN", ComStatistics: "COM_STATISTICS",
	ComProcessInfo: "COM_PROCESS_INFO", ComConnect: "COM_CONNECT", ComProcessKill: "COM_PROCESS_KILL",
	ComDebug: "COM_DEBUG", ComPing: "COM_PING", ComTime: "COM_TIME", ComDelayedInsert: "COM_DELAYED_INSERT",
	ComChangeUser: "COM_CHANGE_USER", ComBinlogDump: "COM_BINLOG_DUMP", ComTableDump: "COM_TABLE_DUMP",
	ComConnectOut: "COM_CONNECT_OUT", ComRegisterSlave: "COM_REGISTER_SLAVE", ComStmtPrepare: "COM_STMT_PREPARE",
	ComStmtExecute: "COM_STMT_EXECUTE", ComStmtSendLongData: "COM_STMT_SEND_LONG_DATA",
	ComStmtClose: "COM_STMT_CLOSE", ComStmtReset: "COM_STMT_RESET", ComSetOption: "COM_SET_OPTION",
	ComStmtFetch: "COM_STMT_FETCH", ComDaemon: "COM_DAEMON", ComBinlogDumpGTID: "COM_BINLOG_DUMP_GTID",
	ComResetConnection: "COM_RESET_CONNECTION",
}

// CommandName returns the command's name as MaxScale spells it.
func CommandName(code byte) string {
	switch code {
	case ComStmtBulkExecute:
		return "COM_STMT_BULK_EXECUTE"
	case ComMulti:
		return "COM_MULTI"
	}
	if int(code) < len(commandNames) {
		return commandNames[code]
	}
	return "COM_UNKNOWN"
}

// Reply says how a server packet bears on the reply a Tracker follows.
type Reply uint8

const (
	// ReplyMore: the reply goes on.
	ReplyMore Reply = iota
	// ReplyDone: the packet was the reply's last.
	ReplyDone
	// ReplyLocalInfile: the server asked for a LOAD DATA LOCAL INFILE file.
	// The client sends it, then an empty packet, and the reply goes on.
	ReplyLocalInfile
	// ReplyLost: the packet does not fit the reply as the tracker reads the
	// protocol. The tracker has stopped for good; the bytes are still fine
	// to relay, the tracker just no longer knows where replies end.
	ReplyLost
)

type trackState uint8

const (
	tIdle        trackState = iota
	tFirst                  // a result's first packet: OK, ERR, local infile or a column count
	tColumnDefs             // a result set's column definitions
	tColumnsEOF             // the EOF after them
	tRows                   // rows up to the EOF, OK or ERR that ends them
	tPrepare                // COM_STMT_PREPARE's first packet
	tParamDefs              // its parameter definitions
	tParamsEOF              // and the EOF after them
	tPrepColDefs            // its column definitions
	tPrepColsEOF            // and the EOF after them
	tFieldList              // COM_FIELD_LIST: column definitions up to an EOF
	tInfileDone             // after the client's file: OK or ERR
	tAuth                   // COM_CHANGE_USER: auth exchange up to OK or ERR
	tOne                    // any one packet
)

// Tracker follows a server's replies packet by packet and says where each
// one ends. It understands OK and ERR, result sets (with or without
// CLIENT_DEPRECATE_EOF, metadata skipping, cursors and multiple results),
// COM_STMT_PREPARE replies, LOAD DATA LOCAL INFILE and MariaDB progress
// reports. Anything else makes it give up rather than guess.
//
// A Tracker is used by one goroutine.
type Tracker struct {
	deprecateEOF bool
	metadataFlag bool

	state     trackState
	lost      bool
	failed    bool
	doneAtEnd bool   // the reply ends with the current logical packet
	next      byte   // sequence id the next packet must carry
	resync    bool   // accept any sequence id on the next packet
	remaining uint64 // column or parameter definitions still to come
	prepCols  uint16 // a prepared statement's columns, after its parameters
}

// NewTracker returns a tracker for a connection with the given negotiated
// capabilities: the client's and the server's, intersected. mariadbCaps is
// MariaDB's extended field, zero unless both sides cleared ClientMySQL.
func NewTracker(caps, mariadbCaps uint32) *Tracker {
	return &Tracker{
		deprecateEOF: caps&ClientDeprecateEOF != 0,
		// MariaDB's CACHE_METADATA and MySQL's OPTIONAL_RESULTSET_METADATA
		// both add a "metadata follows" byte to the column count.
		metadataFlag: mariadbCaps&MariaDBClientCacheMetadata != 0 || caps&ClientOptionalResultsetMetadata != 0,
	}
}

// Busy reports whether a reply is being followed.
func (t *Tracker) Busy() bool { return t.state != tIdle }

// Lost reports whether the tracker has given up.
func (t *Tracker) Lost() bool { return t.lost }

// Failed reports whether the last finished reply ended with an ERR packet.
func (t *Tracker) Failed() bool { return t.failed }

// Begin starts following the reply to cmd, which must have been sent after
// the previous reply ended. It returns false, and gives up, for commands
// whose replies never end (a binlog dump) or that it cannot follow.
func (t *Tracker) Begin(cmd Command) bool {
	if t.lost {
		return false
	}
	t.next, t.resync, t.failed, t.doneAtEnd = cmd.Seq+1, false, false, false
	switch cmd.Code {
	case ComQuery, ComStmtExecute, ComStmtBulkExecute, ComProcessInfo:
		t.state = tFirst
	case ComStmtFetch:
		t.state = tRows
	case ComStmtPrepare:
		t.state = tPrepare
	case ComFieldList:
		t.state = tFieldList
	case ComChangeUser:
		t.state = tAuth
	case ComBinlogDump, ComBinlogDumpGTID, ComTableDump, ComConnectOut, ComMulti:
		t.Lose()
		return false
	default:
		if !ExpectsReply(cmd.Code) {
			t.Lose()
			return false
		}
		t.state = tOne
	}
	return true
}

// Lose makes the tracker give up, for when the caller sees the stream go
// out of step (a reply with no command to answer).
func (t *Tracker) Lose() {
	t.lost = true
	t.state = tIdle
}

func (t *Tracker) lose() Reply {
	t.Lose()
	return ReplyLost
}

// Packet reads the next physical packet of the reply. p.Prefix must hold at
// least TrackerPrefix bytes of the packet, or all of a shorter one.
func (t *Tracker) Packet(p *PacketInfo) Reply {
	if t.lost || t.state == tIdle {
		return t.lose()
	}
	if !t.resync && p.Seq != t.next {
		return t.lose()
	}
	t.resync = false
	t.next = p.Seq + 1
	if p.Cont {
		if p.Ends() && t.doneAtEnd {
			return t.finish(t.failed)
		}
		return ReplyMore
	}
	pkt := p.Prefix
	if len(pkt) == 0 {
		// No reply packet is empty, except a row of nothing, which
		// cannot exist: every row has at least one column.
		if t.state == tOne {
			return t.done(p, false)
		}
		return t.lose()
	}
	if pkt[0] == ErrHeader && len(pkt) >= 3 && binary.LittleEndian.Uint16(pkt[1:3]) == ProgressReportCode {
		// A MariaDB progress report travels as an ERR but ends nothing.
		return ReplyMore
	}
	switch t.state {
	case tOne:
		return t.done(p, pkt[0] == ErrHeader)
	case tFirst:
		return t.first(p, pkt)
	case tColumnDefs, tParamDefs, tPrepColDefs:
		if pkt[0] == ErrHeader {
			return t.done(p, true)
		}
		if !isColumnDef(pkt) {
			return t.lose()
		}
		t.remaining--
		if t.remaining == 0 {
			return t.afterDefs(p)
		}
		return ReplyMore
	case tColumnsEOF, tParamsEOF, tPrepColsEOF:
		if pkt[0] == ErrHeader {
			return t.done(p, true)
		}
		if !t.isEOF(p) {
			return t.lose()
		}
		status := eofStatus(pkt)
		switch t.state {
		case tParamsEOF:
			return t.prepColumns(p)
		case tPrepColsEOF:
			return t.done(p, false)
		}
		if status&ServerStatusCursorExists != 0 {
			// The rows will come by COM_STMT_FETCH.
			return t.done(p, false)
		}
		t.state = tRows
		return ReplyMore
	case tRows:
		if pkt[0] == ErrHeader {
			return t.done(p, true)
		}
		if t.isTerminator(p) {
			return t.endOfResult(p, pkt)
		}
		return ReplyMore
	case tFieldList:
		if pkt[0] == ErrHeader {
			return t.done(p, true)
		}
		if t.isTerminator(p) {
			return t.done(p, false)
		}
		if !isColumnDef(pkt) {
			return t.lose()
		}
		return ReplyMore
	case tPrepare:
		return t.prepare(p, pkt)
	case tInfileDone:
		switch pkt[0] {
		case ErrHeader:
			return t.done(p, true)
		case OKHeader:
			return t.endOfResult(p, pkt)
		}
		return t.lose()
	case tAuth:
		// Auth switch and more-data packets pass; the client's answers
		// to them take sequence ids the tracker does not see.
		t.resync = true
		switch pkt[0] {
		case OKHeader:
			return t.done(p, false)
		case ErrHeader:
			return t.done(p, true)
		}
		return ReplyMore
	}
	return t.lose()
}

// SkipRows consumes the complete row packets at the start of b while the
// tracker is in the rows of a result set, checking only what could end
// them: their sequence ids and first bytes. It returns the bytes and
// packets consumed, stopping at anything else for Packet to read. It is
// meant for Scanner.SetSkip.
func (t *Tracker) SkipRows(b []byte) (n, packets int) {
	if t.state != tRows || t.resync || t.doneAtEnd {
		return 0, 0
	}
	next := t.next
	for len(b)-n > packetHeaderSize {
		l := int(b[n]) | int(b[n+1])<<8 | int(b[n+2])<<16
		// An ERR, EOF or OK ends the rows; an empty or full-sized packet
		// needs the careful path.
		if l == 0 || l >= MaxPacketSize || b[n+3] != next || l > len(b)-n-packetHeaderSize {
			break
		}
		if first := b[n+packetHeaderSize]; first == ErrHeader || first == EOFHeader {
			break
		}
		n += packetHeaderSize + l
		next++
		packets++
	}
	t.next = next
	return n, packets
}

// first reads a result's first packet.
func (t *Tracker) first(p *PacketInfo, pkt []byte) Reply {
	switch pkt[0] {
	case OKHeader:
		return t.endOfResult(p, pkt)
	case ErrHeader:
		return t.done(p, true)
	case LocalInfileHeader:
		if !p.Ends() {
			return t.lose()
		}
		t.state = tInfileDone
		// The client's file packets advance the sequence unseen.
		t.resync = true
		return ReplyLocalInfile
	case EOFHeader:
		return t.lose()
	}
	n, used, ok := ReadLenEncInt(pkt)
	if !ok || n == 0 || !p.Ends() {
		return t.lose()
	}
	t.remaining = n
	if t.metadataFlag {
		if len(pkt) <= used {
			return t.lose()
		}
		if pkt[used] == 0 {
			t.remaining = 0
		}
	}
	t.state = tColumnDefs
	if t.remaining == 0 {
		return t.afterDefs(p)
	}
	return ReplyMore
}

// afterDefs moves past the last of a run of column or parameter
// definitions.
func (t *Tracker) afterDefs(p *PacketInfo) Reply {
	switch t.state {
	case tColumnDefs:
		if t.deprecateEOF {
			t.state = tRows
		} else {
			t.state = tColumnsEOF
		}
	case tParamDefs:
		if t.deprecateEOF {
			return t.prepColumns(p)
		}
		t.state = tParamsEOF
	case tPrepColDefs:
		if t.deprecateEOF {
			return t.done(p, false)
		}
		t.state = tPrepColsEOF
	}
	return ReplyMore
}

func (t *Tracker) prepare(p *PacketInfo, pkt []byte) Reply {
	switch pkt[0] {
	case ErrHeader:
		return t.done(p, true)
	case OKHeader:
	default:
		return t.lose()
	}
	// 0x00, statement id (4), columns (2), parameters (2), ...
	if len(pkt) < 9 || !p.Ends() {
		return t.lose()
	}
	cols := binary.LittleEndian.Uint16(pkt[5:7])
	params := binary.LittleEndian.Uint16(pkt[7:9])
	t.prepCols = cols
	if params > 0 {
		t.state, t.remaining = tParamDefs, uint64(params)
		return ReplyMore
	}
	return t.prepColumns(p)
}

func (t *Tracker) prepColumns(p *PacketInfo) Reply {
	if t.prepCols == 0 {
		return t.done(p, false)
	}
	t.state, t.remaining = tPrepColDefs, uint64(t.prepCols)
	return ReplyMore
}

// endOfResult reads the OK or EOF that ends one result: the reply goes on
// if the server says more results follow.
func (t *Tracker) endOfResult(p *PacketInfo, pkt []byte) Reply {
	var status uint16
	var ok bool
	if pkt[0] == EOFHeader && !t.deprecateEOF {
		status, ok = eofStatus(pkt), true
	} else {
		status, ok = okStatus(pkt)
	}
	if !ok {
		return t.lose()
	}
	if status&ServerMoreResultsExists != 0 {
		if !p.Ends() {
			return t.lose()
		}
		t.state = tFirst
		return ReplyMore
	}
	return t.done(p, false)
}

// done ends the reply with the logical packet p belongs to.
func (t *Tracker) done(p *PacketInfo, failed bool) Reply {
	t.failed = failed
	if !p.Ends() {
		t.doneAtEnd = true
		return ReplyMore
	}
	return t.finish(failed)
}

func (t *Tracker) finish(failed bool) Reply {
	t.state, t.failed, t.doneAtEnd = tIdle, failed, false
	return ReplyDone
}

// isEOF recognises a classic EOF packet; rows that start with 0xFE are
// always longer.
func (t *Tracker) isEOF(p *PacketInfo) bool {
	return p.Prefix[0] == EOFHeader && p.Len < 9
}

// isTerminator recognises the packet that ends a run of rows or column
// definitions: an EOF, or with CLIENT_DEPRECATE_EOF an OK with the 0xFE
// header. A text row can start with 0xFE only when its first value is at
// least 16 MiB long, which makes its packet a full-sized one.
func (t *Tracker) isTerminator(p *PacketInfo) bool {
	if t.deprecateEOF {
		return p.Prefix[0] == EOFHeader && p.Len < MaxPacketSize
	}
	return t.isEOF(p)
}

// defCatalog starts every column definition: the catalog, always "def".
var defCatalog = []byte("\x03def")

func isColumnDef(pkt []byte) bool { return bytes.HasPrefix(pkt, defCatalog) }

// eofStatus reads an EOF packet's status flags (0xFE, warnings, status).
func eofStatus(pkt []byte) uint16 {
	if len(pkt) < 5 {
		return 0
	}
	return binary.LittleEndian.Uint16(pkt[3:5])
}

// okStatus reads an OK packet's status flags, after the affected rows and
// last insert id.
func okStatus(pkt []byte) (uint16, bool) {
	r := pkt[1:]
	for range 2 {
		_, n, ok := ReadLenEncInt(r)
		if !ok {
			return 0, false
		}
		r = r[n:]
	}
	if len(r) < 2 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(r), true
}
