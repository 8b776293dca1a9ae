package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// protocolVersion10 is the only greeting format MySQL and MariaDB have sent
// since 3.21; version 9 predates 4.1 authentication and is not worth keeping.
const protocolVersion10 = 10

// Greeting is the server's initial handshake (protocol v10), as sent by
// MariaDB and MySQL.
type Greeting struct {
	ProtocolVersion byte
	// ServerVersion is kept verbatim, including the "5.5.5-" prefix MariaDB
	// adds so that old replicas do not mistake it for a 4.x server.
	ServerVersion string
	ConnectionID  uint32
	// Capabilities holds the lower and upper 16-bit halves. Servers older
	// than 4.1 send only the lower half.
	Capabilities uint32
	// MariaDBCapabilities is the extended capability field MariaDB stores in
	// the last 4 reserved bytes. It is only meaningful, and only filled in,
	// when ClientMySQL is clear in Capabilities.
	MariaDBCapabilities uint32
	Charset             byte
	StatusFlags         uint16
	// AuthPluginData is the scramble (both parts joined) without the NUL
	// that servers append to the second part.
	AuthPluginData []byte
	AuthPluginName string
}

// greetingLayout records where the rewritable fields sit, so that
// RewriteGreeting can patch them in place without re-encoding anything.
type greetingLayout struct {
	connIDOff  int
	capLowOff  int
	capHighOff int // -1 when the greeting has no upper capability half
}

// greetingLayoutCaps are the capability bits that decide how the rest of the
// greeting is laid out. Clearing them would make a client misread the bytes
// that follow, so RewriteGreeting refuses to.
const greetingLayoutCaps = ClientLongPassword | ClientSecureConnection | ClientPluginAuth

// ParseGreeting parses the server's initial handshake packet. If the server
// sent an ERR packet instead (too many connections, blocked host, ...), the
// returned error wraps the parsed ErrorPacket so callers can relay it with
// errors.As.
func ParseGreeting(payload []byte) (Greeting, error) {
	g, _, err := parseGreeting(payload)
	return g, err
}

func parseGreeting(payload []byte) (Greeting, greetingLayout, error) {
	var g Greeting
	lay := greetingLayout{capHighOff: -1}
	if len(payload) == 0 {
		return g, lay, fmt.Errorf("mysqlwire: empty greeting: %w", ErrMalformed)
	}
	if payload[0] == ErrHeader {
		ep, err := ParseErrPacket(payload)
		if err != nil {
			return g, lay, fmt.Errorf("mysqlwire: greeting: %w", err)
		}
		return g, lay, fmt.Errorf("mysqlwire: server refused connection: %w", ep)
	}
	r := reader{b: payload}
	g.ProtocolVersion, _ = r.uint8()
	if g.ProtocolVersion != protocolVersion10 {
		return g, lay, fmt.Errorf("mysqlwire: unsupported greeting protocol version %d: %w", g.ProtocolVersion, ErrMalformed)
	}
	fail := func(field string) (Greeting, greetingLayout, error) {
		return Greeting{}, greetingLayout{capHighOff: -1}, fmt.Errorf("mysqlwire: greeting truncated in %s: %w", field, ErrMalformed)
	}
	ver, ok := r.nulString()
	if !ok {
		return fail("server version")
	}
	g.ServerVersion = string(ver)
	lay.connIDOff = r.pos
	if g.ConnectionID, ok = r.uint32(); !ok {
		return fail("connection id")
	}
	part1, ok := r.next(8)
	if !ok {
		return fail("auth plugin data")
	}
	if _, ok = r.uint8(); !ok {
		return fail("filler")
	}
	lay.capLowOff = r.pos
	capLow, ok := r.uint16()
	if !ok {
		return fail("capability flags")
	}
	g.Capabilities = uint32(capLow)
	g.AuthPluginData = bytes.Clone(part1)
	if r.remaining() == 0 {
		// Pre-4.1 servers stop here; everything below is optional.
		return g, lay, nil
	}

	if g.Charset, ok = r.uint8(); !ok {
		return fail("character set")
	}
	if g.StatusFlags, ok = r.uint16(); !ok {
		return fail("status flags")
	}
	lay.capHighOff = r.pos
	capHigh, ok := r.uint16()
	if !ok {
		return fail("capability flags")
	}
	g.Capabilities |= uint32(capHigh) << 16
	authLen, ok := r.uint8()
	if !ok {
		return fail("auth plugin data length")
	}
	if _, ok = r.next(6); !ok {
		return fail("reserved bytes")
	}
	ext, ok := r.uint32()
	if !ok {
		return fail("reserved bytes")
	}
	if g.Capabilities&ClientMySQL == 0 {
		g.MariaDBCapabilities = ext
	}
	if g.Capabilities&ClientSecureConnection != 0 {
		n := 13
		if g.Capabilities&ClientPluginAuth != 0 && int(authLen)-8 > n {
			n = int(authLen) - 8
		}
		part2, ok := r.next(n)
		if !ok {
			return fail("auth plugin data")
		}
		part2 = bytes.TrimSuffix(part2, []byte{0})
		g.AuthPluginData = append(g.AuthPluginData, part2...)
	}
	if g.Capabilities&ClientPluginAuth != 0 {
		name, ok := r.nulString()
		if !ok {
			return fail("auth plugin name")
		}
		g.AuthPluginName = string(name)
	}
	return g, lay, nil
}

// RewriteGreeting returns a copy of payload with the connection id replaced by
// connID and the clearCaps bits cleared in both capability halves, together
// with the backend's original connection id. Every other byte is preserved,
// so fields this package does not model survive the rewrite.
//
// Bits that change how the greeting itself is laid out (ClientLongPassword,
// ClientSecureConnection, ClientPluginAuth) cannot be cleared; doing so would
// make clients misparse the scramble or MariaDB's extended capabilities.
func RewriteGreeting(payload []byte, connID uint32, clearCaps uint32) (out []byte, backendID uint32, err error) {
	return RewriteGreetingCaps(payload, connID, clearCaps, 0)
}

// RewriteGreetingCaps is RewriteGreeting that also sets the setCaps bits,
// for a proxy that offers what the server behind it does not, such as TLS
// it terminates itself. Layout bits cannot be set either, nor upper bits
// in a greeting without the upper half.
func RewriteGreetingCaps(payload []byte, connID uint32, clearCaps, setCaps uint32) (out []byte, backendID uint32, err error) {
	if clearCaps&greetingLayoutCaps != 0 {
		return nil, 0, fmt.Errorf("mysqlwire: cannot clear capabilities %#x: they change the greeting layout", clearCaps&greetingLayoutCaps)
	}
	if setCaps&greetingLayoutCaps != 0 {
		return nil, 0, fmt.Errorf("mysqlwire: cannot set capabilities %#x: they change the greeting layout", setCaps&greetingLayoutCaps)
	}
	g, lay, err := parseGreeting(payload)
	if err != nil {
		return nil, 0, fmt.Errorf("mysqlwire: rewrite greeting: %w", err)
	}
	if lay.capHighOff < 0 && setCaps>>16 != 0 {
		return nil, 0, fmt.Errorf("mysqlwire: cannot set capabilities %#x in a greeting without the upper half", setCaps&^0xFFFF)
	}
	out = bytes.Clone(payload)
	binary.LittleEndian.PutUint32(out[lay.connIDOff:], connID)
	low := binary.LittleEndian.Uint16(out[lay.capLowOff:])
	binary.LittleEndian.PutUint16(out[lay.capLowOff:], low&^uint16(clearCaps)|uint16(setCaps))
	if lay.capHighOff >= 0 {
		high := binary.LittleEndian.Uint16(out[lay.capHighOff:])
		binary.LittleEndian.PutUint16(out[lay.capHighOff:], high&^uint16(clearCaps>>16)|uint16(setCaps>>16))
	}
	return out, g.ConnectionID, nil
}
