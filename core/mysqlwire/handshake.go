package mysqlwire

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// handshakeFixedSize is the fixed prefix of HandshakeResponse41: capabilities,
// max packet size, charset and 23 filler bytes. An SSLRequest is exactly this
// prefix.
const handshakeFixedSize = 32

// HandshakeResponse is the client's HandshakeResponse41.
type HandshakeResponse struct {
	Capabilities  uint32
	MaxPacketSize uint32
	Charset       byte
	// MariaDBCapabilities is the client's extended capability field, present
	// when it clears ClientMySQL (which it only does for a MariaDB server).
	MariaDBCapabilities uint32
	User                string
	AuthResponse        []byte
	Database            string
	AuthPluginName      string
	// Attributes holds CLIENT_CONNECT_ATTRS key/value pairs; nil if the
	// client sent none.
	Attributes map[string]string
}

// IsSSLRequest reports whether payload is an SSLRequest: the 32-byte fixed
// prefix of HandshakeResponse41 with ClientSSL set and nothing after it. The
// proxy has to recognise it before anything else, because the real
// HandshakeResponse follows only after the TLS handshake.
func IsSSLRequest(payload []byte) bool {
	if len(payload) != handshakeFixedSize {
		return false
	}
	caps := binary.LittleEndian.Uint32(payload)
	return caps&ClientSSL != 0 && caps&ClientProtocol41 != 0
}

// ParseHandshakeResponse parses HandshakeResponse41. The pre-4.1
// HandshakeResponse320 is rejected: no client that can authenticate against a
// current server sends it.
//
// Fields announced by the client's capabilities must be present, with one
// exception borrowed from the servers: a packet that ends exactly where the
// auth plugin name or the connection attributes would start is accepted with
// those fields left empty, as MySQL and MariaDB do.
func ParseHandshakeResponse(payload []byte) (HandshakeResponse, error) {
	var h HandshakeResponse
	if len(payload) < 2 {
		return h, fmt.Errorf("mysqlwire: handshake response of %d bytes: %w", len(payload), ErrMalformed)
	}
	if uint32(binary.LittleEndian.Uint16(payload))&ClientProtocol41 == 0 {
		return h, fmt.Errorf("mysqlwire: HandshakeResponse320 is not supported: %w", ErrMalformed)
	}
	if IsSSLRequest(payload) {
		return h, fmt.Errorf("mysqlwire: got SSLRequest where HandshakeResponse41 was expected: %w", ErrMalformed)
	}
	fail := func(field string) (HandshakeResponse, error) {
		return HandshakeResponse{}, fmt.Errorf("mysqlwire: handshake response truncated in %s: %w", field, ErrMalformed)
	}
	r := reader{b: payload}
	fixed, ok := r.next(handshakeFixedSize)
	if !ok {
		return fail("fixed header")
	}
	h.Capabilities = binary.LittleEndian.Uint32(fixed[0:4])
	h.MaxPacketSize = binary.LittleEndian.Uint32(fixed[4:8])
	h.Charset = fixed[8]
	if h.Capabilities&ClientMySQL == 0 {
		h.MariaDBCapabilities = binary.LittleEndian.Uint32(fixed[28:32])
	}

	user, ok := r.nulString()
	if !ok {
		return fail("user")
	}
	h.User = string(user)

	var auth []byte
	switch {
	case h.Capabilities&ClientPluginAuthLenencClientData != 0:
		auth, ok = r.lenEncString()
	case h.Capabilities&ClientSecureConnection != 0:
		var n byte
		if n, ok = r.uint8(); ok {
			auth, ok = r.next(int(n))
		}
	default:
		auth, ok = r.nulString()
	}
	if !ok {
		return fail("auth response")
	}
	h.AuthResponse = bytes.Clone(auth)

	if h.Capabilities&ClientConnectWithDB != 0 {
		db, ok := r.nulString()
		if !ok {
			return fail("database")
		}
		h.Database = string(db)
	}

	if h.Capabilities&ClientPluginAuth != 0 && r.remaining() > 0 {
		name, ok := r.nulString()
		if !ok {
			return fail("auth plugin name")
		}
		h.AuthPluginName = string(name)
	}

	if h.Capabilities&ClientConnectAttrs != 0 && r.remaining() > 0 {
		attrs, ok := r.lenEncString()
		if !ok {
			return fail("connection attributes")
		}
		if h.Attributes, ok = parseConnAttrs(attrs); !ok {
			return HandshakeResponse{}, fmt.Errorf("mysqlwire: handshake response has invalid connection attributes: %w", ErrMalformed)
		}
	}
	// Anything left (MySQL 8 appends a zstd level) is ignored on purpose.
	return h, nil
}

// parseConnAttrs decodes the key/value pairs of CLIENT_CONNECT_ATTRS. Both
// elements of every pair must fit inside the block; a dangling key means the
// block was cut.
func parseConnAttrs(b []byte) (map[string]string, bool) {
	attrs := make(map[string]string)
	r := reader{b: b}
	for r.remaining() > 0 {
		k, ok := r.lenEncString()
		if !ok {
			return nil, false
		}
		v, ok := r.lenEncString()
		if !ok {
			return nil, false
		}
		attrs[string(k)] = string(v)
	}
	return attrs, true
}

// ChangeUser is what a COM_CHANGE_USER asks for: the session's new user,
// default database and connection attributes.
type ChangeUser struct {
	User           string
	Database       string
	AuthPluginName string
	// Attributes holds CLIENT_CONNECT_ATTRS key/value pairs; nil if the
	// client sent none.
	Attributes map[string]string
}

// ParseChangeUser parses a COM_CHANGE_USER payload (command byte included).
// caps are the client's capabilities from its handshake response, which
// decide how the auth response is framed and which optional fields follow
// the database. The optional fields may be missing, as servers allow, but
// what is there must be whole. Without ClientPluginAuth and
// ClientConnectAttrs in caps nothing after the database is read, which lets
// a caller that kept only the start of a long packet still learn the user
// and database: they come first and fit in a few hundred bytes.
func ParseChangeUser(payload []byte, caps uint32) (ChangeUser, error) {
	var cu ChangeUser
	fail := func(field string) (ChangeUser, error) {
		return ChangeUser{}, fmt.Errorf("mysqlwire: COM_CHANGE_USER truncated in %s: %w", field, ErrMalformed)
	}
	r := reader{b: payload}
	if cmd, ok := r.uint8(); !ok || cmd != ComChangeUser {
		return ChangeUser{}, fmt.Errorf("mysqlwire: not a COM_CHANGE_USER: %w", ErrMalformed)
	}
	u, ok := r.nulString()
	if !ok {
		return fail("user")
	}
	cu.User = string(u)
	if caps&ClientSecureConnection != 0 {
		var n byte
		if n, ok = r.uint8(); ok {
			_, ok = r.next(int(n))
		}
	} else {
		_, ok = r.nulString()
	}
	if !ok {
		return fail("auth response")
	}
	db, ok := r.nulString()
	if !ok {
		return fail("database")
	}
	cu.Database = string(db)
	if r.remaining() == 0 || caps&(ClientPluginAuth|ClientConnectAttrs) == 0 {
		return cu, nil
	}
	if _, ok = r.next(2); !ok {
		return fail("character set")
	}
	if caps&ClientPluginAuth != 0 && r.remaining() > 0 {
		name, ok := r.nulString()
		if !ok {
			return fail("auth plugin name")
		}
		cu.AuthPluginName = string(name)
	}
	if caps&ClientConnectAttrs != 0 && r.remaining() > 0 {
		attrs, ok := r.lenEncString()
		if !ok {
			return fail("connection attributes")
		}
		if cu.Attributes, ok = parseConnAttrs(attrs); !ok {
			return ChangeUser{}, fmt.Errorf("mysqlwire: COM_CHANGE_USER has invalid connection attributes: %w", ErrMalformed)
		}
	}
	return cu, nil
}

// SSLRequest returns the SSLRequest a proxy sends a server before the
// client's handshake response hr when it speaks TLS to the server: the
// fixed prefix of hr with ClientSSL set. hr must have been parsed by
// ParseHandshakeResponse, so it is long enough.
func SSLRequest(hr []byte) []byte {
	req := bytes.Clone(hr[:handshakeFixedSize])
	SetClientSSL(req, true)
	return req
}

// SetClientSSL sets or clears ClientSSL in the capabilities of a handshake
// response hr, in place. A server reads the flag as "TLS starts now", so a
// response forwarded over a plain connection must not carry it, and one
// forwarded over TLS must.
func SetClientSSL(hr []byte, on bool) {
	caps := binary.LittleEndian.Uint32(hr)
	if on {
		caps |= ClientSSL
	} else {
		caps &^= ClientSSL
	}
	binary.LittleEndian.PutUint32(hr, caps)
}
