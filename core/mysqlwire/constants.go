package mysqlwire

// MaxPacketSize is the largest payload a single physical packet can carry. A
// payload of exactly this size means the logical packet continues in the next
// physical packet. ReadPacket and WritePacket deliberately stay at the
// physical level so a proxy can forward packets one-for-one; only code that
// interprets such a large payload has to reassemble it.
const MaxPacketSize = 1<<24 - 1

// Capability flags shared by MySQL and MariaDB, as sent in the greeting and in
// HandshakeResponse41.
const (
	// ClientLongPassword is called CLIENT_MYSQL by MariaDB: a MariaDB server
	// clears it to announce that the extended (MariaDB-only) capability field
	// is present.
	ClientLongPassword               uint32 = 1 << 0
	ClientFoundRows                  uint32 = 1 << 1
	ClientLongFlag                   uint32 = 1 << 2
	ClientConnectWithDB              uint32 = 1 << 3
	ClientNoSchema                   uint32 = 1 << 4
	ClientCompress                   uint32 = 1 << 5
	ClientODBC                       uint32 = 1 << 6
	ClientLocalFiles                 uint32 = 1 << 7
	ClientIgnoreSpace                uint32 = 1 << 8
	ClientProtocol41                 uint32 = 1 << 9
	ClientInteractive                uint32 = 1 << 10
	ClientSSL                        uint32 = 1 << 11
	ClientIgnoreSIGPIPE              uint32 = 1 << 12
	ClientTransactions               uint32 = 1 << 13
	ClientReserved                   uint32 = 1 << 14
	ClientSecureConnection           uint32 = 1 << 15
	ClientMultiStatements            uint32 = 1 << 16
	ClientMultiResults               uint32 = 1 << 17
	ClientPSMultiResults             uint32 = 1 << 18
	ClientPluginAuth                 uint32 = 1 << 19
	ClientConnectAttrs               uint32 = 1 << 20
	ClientPluginAuthLenencClientData uint32 = 1 << 21
	ClientCanHandleExpiredPasswords  uint32 = 1 << 22
	ClientSessionTrack               uint32 = 1 << 23
	ClientDeprecateEOF               uint32 = 1 << 24
	ClientOptionalResultsetMetadata  uint32 = 1 << 25
	ClientZstdCompressionAlgorithm   uint32 = 1 << 26
	ClientQueryAttributes            uint32 = 1 << 27
	ClientMultiFactorAuthentication  uint32 = 1 << 28
	// ClientProgressObsolete is CLIENT_PROGRESS_OBSOLETE to MariaDB but
	// CLIENT_CAPABILITY_EXTENSION to MySQL 8, so its meaning depends on
	// which server sent it.
	ClientProgressObsolete    uint32 = 1 << 29
	ClientSSLVerifyServerCert uint32 = 1 << 30
	ClientRememberOptions     uint32 = 1 << 31
)

// ClientMySQL is MariaDB's name for ClientLongPassword.
const ClientMySQL = ClientLongPassword

// MariaDB extended capabilities. MariaDB treats capabilities as 64 bits; the
// upper 32 travel in a field MySQL reserves, and these constants are relative
// to that field (bit 0 here is bit 32 in MariaDB's headers).
const (
	MariaDBClientProgress           uint32 = 1 << 0
	MariaDBClientComMulti           uint32 = 1 << 1
	MariaDBClientStmtBulkOperations uint32 = 1 << 2
	MariaDBClientExtendedMetadata   uint32 = 1 << 3
	MariaDBClientCacheMetadata      uint32 = 1 << 4
	MariaDBClientBulkUnitResults    uint32 = 1 << 5
)

// First payload byte of the generic response packets.
const (
	OKHeader           = 0x00
	ErrHeader          = 0xFF
	EOFHeader          = 0xFE
	AuthMoreDataHeader = 0x01
	// LocalInfileHeader starts the server's request for a LOAD DATA LOCAL
	// INFILE file.
	LocalInfileHeader = 0xFB
)

// Error numbers the proxy reports itself. They are the numbers MariaDB (and
// MaxScale, for the client-side ones) use, so that clients and their retry
// logic react as if the server had sent them.
const (
	ERTooManyConnections uint16 = 1040 // ER_CON_COUNT_ERROR
	ERHandshakeError     uint16 = 1043 // ER_HANDSHAKE_ERROR, "Bad handshake"
	ERDBAccessDenied     uint16 = 1044 // ER_DBACCESS_DENIED_ERROR
	ERAccessDenied       uint16 = 1045 // ER_ACCESS_DENIED_ERROR
	ERUnknownComError    uint16 = 1047 // ER_UNKNOWN_COM_ERROR
	ERBadDB              uint16 = 1049 // ER_BAD_DB_ERROR
	ERServerShutdown     uint16 = 1053 // ER_SERVER_SHUTDOWN
	ERUnknownError       uint16 = 1105 // ER_UNKNOWN_ERROR
	ERNetPacketTooLarge  uint16 = 1153 // ER_NET_PACKET_TOO_LARGE
	ERConnectionKilled   uint16 = 1927 // ER_CONNECTION_KILLED (MariaDB)
	// CRConnHostError is a client-library code; MaxScale sends it when no
	// backend can be reached, and connectors already treat it as "retry
	// elsewhere".
	CRConnHostError uint16 = 2003 // CR_CONN_HOST_ERROR
)

// SQLSTATE values that go with the error numbers above.
const (
	SSUnknownSQLState  = "HY000" // ERUnknownError, CRConnHostError
	SSNetError         = "08S01" // ERHandshakeError, ERUnknownComError, ERServerShutdown, ERNetPacketTooLarge
	SSConCount         = "08004" // ERTooManyConnections
	SSAccessDenied     = "28000" // ERAccessDenied
	SSClientError      = "42000" // ERDBAccessDenied, ERBadDB
	SSQueryInterrupted = "70100" // ERConnectionKilled
)

// ProgressReportCode is the error number MariaDB uses for progress reports,
// which travel in ERR-shaped packets but are not errors; callers must not
// treat such a packet as the end of a command.
const ProgressReportCode uint16 = 0xFFFF

// Client commands: the first payload byte of a packet that starts a command
// (sequence id 0).
const (
	ComSleep            byte = 0x00
	ComQuit             byte = 0x01
	ComInitDB           byte = 0x02
	ComQuery            byte = 0x03
	ComFieldList        byte = 0x04
	ComCreateDB         byte = 0x05
	ComDropDB           byte = 0x06
	ComRefresh          byte = 0x07
	ComShutdown         byte = 0x08
	ComStatistics       byte = 0x09
	ComProcessInfo      byte = 0x0A
	ComConnect          byte = 0x0B
	ComProcessKill      byte = 0x0C
	ComDebug            byte = 0x0D
	ComPing             byte = 0x0E
	ComTime             byte = 0x0F
	ComDelayedInsert    byte = 0x10
	ComChangeUser       byte = 0x11
	ComBinlogDump       byte = 0x12
	ComTableDump        byte = 0x13
	ComConnectOut       byte = 0x14
	ComRegisterSlave    byte = 0x15
	ComStmtPrepare      byte = 0x16
	ComStmtExecute      byte = 0x17
	ComStmtSendLongData byte = 0x18
	ComStmtClose        byte = 0x19
	ComStmtReset        byte = 0x1A
	ComSetOption        byte = 0x1B
	ComStmtFetch        byte = 0x1C
	ComDaemon           byte = 0x1D
	ComBinlogDumpGTID   byte = 0x1E
	ComResetConnection  byte = 0x1F
	ComStmtBulkExecute  byte = 0xFA
	ComMulti            byte = 0xFE
)

// Server status flags, as carried by OK and EOF packets.
const (
	// ServerMoreResultsExists says another result of the same command follows.
	ServerMoreResultsExists uint16 = 0x0008
	// ServerStatusCursorExists says a COM_STMT_EXECUTE opened a cursor: its
	// reply ends after the column definitions and rows come by COM_STMT_FETCH.
	ServerStatusCursorExists uint16 = 0x0040
)
