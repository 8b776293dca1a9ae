package mysqlwire

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// NativePasswordPlugin is the name of the only authentication plugin
// ClientHandshake speaks.
const NativePasswordPlugin = "mysql_native_password"

// nativeScrambleLen is the length of the salt mysql_native_password uses;
// servers send 20 bytes plus a NUL.
const nativeScrambleLen = 20

// ERNoSuchThread is MariaDB's answer to KILL for a thread that is already
// gone.
const ERNoSuchThread uint16 = 1094 // ER_NO_SUCH_THREAD

// clientReplyLimit bounds every packet ClientHandshake and SimpleQuery read.
const clientReplyLimit = 64 << 10

// utf8mb4GeneralCI is the collation ClientHandshake asks for.
const utf8mb4GeneralCI = 45

// clientCaps are the capabilities ClientHandshake asks for; those the server
// does not offer are dropped.
const clientCaps = ClientLongPassword | ClientProtocol41 | ClientSecureConnection |
	ClientPluginAuth | ClientTransactions

// NativePassword returns mysql_native_password's auth response to the
// server's scramble: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))).
// An empty password is answered with an empty response, as servers expect.
// Only the first 20 bytes of scramble are used.
func NativePassword(scramble []byte, password string) []byte {
	if password == "" {
		return nil
	}
	scramble = scramble[:min(len(scramble), nativeScrambleLen)]
	stage1 := sha1.Sum([]byte(password))
	stage2 := sha1.Sum(stage1[:])
	h := sha1.New()
	h.Write(scramble)
	h.Write(stage2[:])
	out := h.Sum(nil)
	for i := range out {
		out[i] ^= stage1[i]
	}
	return out
}

// ClientHandshake logs in to the server at the other end of conn as user
// with mysql_native_password, following one AuthSwitchRequest back to that
// plugin. It is meant for Portico's own short side connections, such as the
// one that kills a backend thread, so it asks for no database or
// compression, and for TLS only through ClientHandshakeTLS.
//
// ctx's deadline, if any, is set on conn and left there, so that the
// statements that follow are bounded too; cancelling ctx unblocks a pending
// read or write. A refusal from the server is returned wrapping its
// ErrorPacket.
func ClientHandshake(ctx context.Context, conn net.Conn, user, password string) error {
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return fmt.Errorf("mysqlwire: client handshake: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	err := clientHandshake(conn, user, password, nil)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("mysqlwire: client handshake: %w (%w)", ctx.Err(), err)
	}
	return err
}

// ClientHandshakeTLS is ClientHandshake over TLS with cfg: it sends an
// SSLRequest after the greeting and logs in inside TLS. Statements must
// then go over the returned connection; closing conn still ends it.
func ClientHandshakeTLS(ctx context.Context, conn net.Conn, cfg *tls.Config, user, password string) (net.Conn, error) {
	if d, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(d); err != nil {
			return nil, fmt.Errorf("mysqlwire: client handshake: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var tc *tls.Conn
	err := clientHandshake(conn, user, password, func(req []byte, seq byte) (io.ReadWriter, error) {
		if err := WritePacket(conn, seq, req); err != nil {
			return nil, err
		}
		tc = tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("mysqlwire: TLS handshake: %w", err)
		}
		return tc, nil
	})
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("mysqlwire: client handshake: %w (%w)", ctx.Err(), err)
	}
	if err != nil {
		return nil, err
	}
	return tc, nil
}

// clientHandshake logs in on conn. With startTLS, it first sends startTLS
// an SSLRequest and its sequence id and goes on over what it returns.
func clientHandshake(conn io.ReadWriter, user, password string, startTLS func(req []byte, seq byte) (io.ReadWriter, error)) error {
	seq, payload, err := ReadPacket(conn, clientReplyLimit)
	if err != nil {
		return fmt.Errorf("mysqlwire: read greeting: %w", err)
	}
	g, err := ParseGreeting(payload)
	if err != nil {
		return err
	}
	const required = ClientProtocol41 | ClientSecureConnection
	if g.Capabilities&required != required {
		return fmt.Errorf("mysqlwire: server capabilities %#x lack Protocol41 or SecureConnection: %w", g.Capabilities, ErrMalformed)
	}
	caps := clientCaps & g.Capabilities
	auth := NativePassword(g.AuthPluginData, password)
	if len(auth) > 0xFF {
		return fmt.Errorf("mysqlwire: auth response too long: %w", ErrMalformed)
	}

	resp := make([]byte, handshakeFixedSize, handshakeFixedSize+len(user)+len(auth)+len(NativePasswordPlugin)+3)
	binary.LittleEndian.PutUint32(resp[0:4], caps)
	binary.LittleEndian.PutUint32(resp[4:8], MaxPacketSize)
	resp[8] = utf8mb4GeneralCI
	resp = append(resp, user...)
	resp = append(resp, 0, byte(len(auth)))
	resp = append(resp, auth...)
	if caps&ClientPluginAuth != 0 {
		resp = append(resp, NativePasswordPlugin...)
		resp = append(resp, 0)
	}
	if startTLS != nil {
		if g.Capabilities&ClientSSL == 0 {
			return errors.New("mysqlwire: the server does not offer TLS")
		}
		SetClientSSL(resp, true)
		seq++
		if conn, err = startTLS(SSLRequest(resp), seq); err != nil {
			return err
		}
	}
	seq++
	if err := WritePacket(conn, seq, resp); err != nil {
		return err
	}

	switched := false
	for {
		seq, payload, err = readReply(conn, "auth reply", "authentication refused")
		if err != nil || payload == nil {
			return err
		}
		switch payload[0] {
		case EOFHeader:
			// AuthSwitchRequest: plugin name, NUL, plugin data.
			if switched {
				return fmt.Errorf("mysqlwire: second auth switch request: %w", ErrMalformed)
			}
			switched = true
			r := reader{b: payload[1:]}
			name, ok := r.nulString()
			if !ok {
				return fmt.Errorf("mysqlwire: auth switch request truncated: %w", ErrMalformed)
			}
			if string(name) != NativePasswordPlugin {
				return fmt.Errorf("mysqlwire: server asks for auth plugin %q, only %s is supported", name, NativePasswordPlugin)
			}
			data, _ := r.next(r.remaining())
			data = bytes.TrimSuffix(data, []byte{0})
			seq++
			if err := WritePacket(conn, seq, NativePassword(data, password)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("mysqlwire: unexpected auth reply %#x (only %s is supported): %w", payload[0], NativePasswordPlugin, ErrMalformed)
		}
	}
}

// SimpleQuery sends sql as a COM_QUERY on a logged-in connection and reads
// its reply, which must be an OK or an ERR: it is for statements such as KILL
// that return no rows. An ERR is returned wrapping its ErrorPacket.
func SimpleQuery(conn io.ReadWriter, sql string) error {
	if err := WritePacket(conn, 0, append([]byte{ComQuery}, sql...)); err != nil {
		return err
	}
	_, payload, err := readReply(conn, "query reply", "query failed")
	if err != nil || payload == nil {
		return err
	}
	return fmt.Errorf("mysqlwire: query returned a result set, not OK or ERR: %w", errors.ErrUnsupported)
}

// readReply reads one server reply. An OK gives a nil payload and no error,
// an ERR an error wrapping its ErrorPacket (prefixed by refused); anything
// else is returned for the caller to interpret.
func readReply(conn io.Reader, what, refused string) (seq byte, payload []byte, err error) {
	seq, payload, err = ReadPacket(conn, clientReplyLimit)
	if err != nil {
		return seq, nil, fmt.Errorf("mysqlwire: read %s: %w", what, err)
	}
	if len(payload) == 0 {
		return seq, nil, fmt.Errorf("mysqlwire: empty %s: %w", what, ErrMalformed)
	}
	switch payload[0] {
	case OKHeader:
		return seq, nil, nil
	case ErrHeader:
		ep, err := ParseErrPacket(payload)
		if err != nil {
			return seq, nil, err
		}
		return seq, nil, fmt.Errorf("mysqlwire: %s: %w", refused, ep)
	}
	return seq, payload, nil
}
