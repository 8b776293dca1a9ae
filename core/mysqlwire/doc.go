// Package mysqlwire implements the small slice of the MariaDB/MySQL client/server
// protocol that Portico needs in order to sit in the middle of a connection.
//
// A proxy cannot just splice bytes: before the first query it has to read the
// server greeting, give the client a connection id it owns (so KILL and
// processlist lookups are routed back through the proxy), hide capabilities it
// cannot honour (compression, TLS it does not terminate, ...), learn who the
// client is and which schema it wants, and answer with protocol-level ERR
// packets when a backend is unreachable. Full client libraries such as
// go-sql-driver/mysql hide exactly these packets, so this package exposes them
// directly and nothing more: packet framing, the v10 greeting, HandshakeResponse41,
// ERR packets and length-encoded values.
//
// After login a proxy relays bytes as they come, but to count packets, time
// statements and tell a busy session from an idle one it must still know
// where packets and replies end. Scanner finds packet boundaries in a stream
// fed chunk by chunk without copying it; Tracker reads a server's replies
// (OK and ERR, result sets, COM_STMT_PREPARE, LOAD DATA LOCAL INFILE,
// progress reports) and gives up, rather than guess, on anything else.
//
// Every parser in this package runs on bytes from unauthenticated peers, so
// they bounds-check every read, never panic, and report structural problems as
// errors wrapping ErrMalformed. Rewriters change only the bytes they are asked
// to change so that fields this package does not understand (for example
// capabilities added by future MariaDB releases) pass through untouched.
//
// The package deliberately depends on the standard library only.
package mysqlwire
