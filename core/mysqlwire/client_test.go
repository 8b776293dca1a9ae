package mysqlwire

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNativePassword(t *testing.T) {
	// The vector is go-sql-driver's TestAuthFastNativePassword.
	salt := []byte{70, 114, 92, 94, 1, 38, 11, 116, 63, 114, 23, 101, 126, 103, 26, 95, 81, 17, 24, 21}
	want := []byte{53, 177, 140, 159, 251, 189, 127, 53, 109, 252, 172, 50, 211, 192, 240, 164, 26, 48, 207, 45}
	tests := []struct {
		name     string
		scramble []byte
		password string
		want     []byte
	}{
		{name: "known vector", scramble: salt, password: "secret", want: want},
		{name: "trailing NUL is ignored", scramble: append(bytes.Clone(salt), 0), password: "secret", want: want},
		{name: "empty password", scramble: salt, password: "", want: nil},
		{name: "matches the reference", scramble: salt, password: "maxpwd", want: nativePasswordScramble(salt, "maxpwd")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NativePassword(tt.scramble, tt.password); !bytes.Equal(got, tt.want) {
				t.Errorf("NativePassword = %v, want %v", got, tt.want)
			}
		})
	}
}

// serveFake runs serve on the server end of a pipe and returns the client
// end.
func serveFake(t *testing.T, serve func(c net.Conn) error) (net.Conn, <-chan error) {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close() })
	done := make(chan error, 1)
	go func() {
		defer server.Close()
		done <- serve(server)
	}()
	return client, done
}

func TestClientHandshakeScripted(t *testing.T) {
	greeting := readTestdata(t, "greeting_mariadb.bin")
	g, err := ParseGreeting(greeting)
	if err != nil {
		t.Fatal(err)
	}
	switchSalt := []byte("abcdefghijklmnopqrst")
	authSwitch := func(plugin string) []byte {
		b := append([]byte{EOFHeader}, plugin...)
		b = append(b, 0)
		b = append(b, switchSalt...)
		return append(b, 0)
	}
	tests := []struct {
		name    string
		serve   func(c net.Conn) error
		wantErr string
		wantIs  error
	}{
		{
			name: "accepted at once",
			serve: func(c net.Conn) error {
				if err := WritePacket(c, 0, greeting); err != nil {
					return err
				}
				seq, pkt, err := ReadPacket(c, 0)
				if err != nil {
					return err
				}
				h, err := ParseHandshakeResponse(pkt)
				if err != nil {
					return err
				}
				if seq != 1 || h.User != "maxuser" || h.AuthPluginName != NativePasswordPlugin ||
					!bytes.Equal(h.AuthResponse, nativePasswordScramble(g.AuthPluginData, "maxpwd")) {
					return errors.New("bad handshake response")
				}
				return WritePacket(c, 2, okPacket)
			},
		},
		{
			name: "switched to mysql_native_password",
			serve: func(c net.Conn) error {
				if err := WritePacket(c, 0, greeting); err != nil {
					return err
				}
				if _, _, err := ReadPacket(c, 0); err != nil {
					return err
				}
				if err := WritePacket(c, 2, authSwitch(NativePasswordPlugin)); err != nil {
					return err
				}
				seq, pkt, err := ReadPacket(c, 0)
				if err != nil {
					return err
				}
				if seq != 3 || !bytes.Equal(pkt, nativePasswordScramble(switchSalt, "maxpwd")) {
					return errors.New("bad auth switch response")
				}
				return WritePacket(c, 4, okPacket)
			},
		},
		{
			name: "switched to an unsupported plugin",
			serve: func(c net.Conn) error {
				_ = WritePacket(c, 0, greeting)
				_, _, _ = ReadPacket(c, 0)
				_ = WritePacket(c, 2, authSwitch("client_ed25519"))
				_, _ = io.Copy(io.Discard, c)
				return nil
			},
			wantErr: "client_ed25519",
		},
		{
			name: "refused",
			serve: func(c net.Conn) error {
				_ = WritePacket(c, 0, greeting)
				_, _, _ = ReadPacket(c, 0)
				return WritePacket(c, 2, ErrPacket(ERAccessDenied, SSAccessDenied, "Access denied"))
			},
			wantErr: "1045",
		},
		{
			name: "ERR instead of a greeting",
			serve: func(c net.Conn) error {
				return WritePacket(c, 0, ErrPacket(ERTooManyConnections, SSConCount, "Too many connections"))
			},
			wantErr: "1040",
		},
		{
			name: "hang-up after the greeting",
			serve: func(c net.Conn) error {
				_ = WritePacket(c, 0, greeting)
				_, _, _ = ReadPacket(c, 0)
				return nil
			},
			wantErr: "EOF",
		},
		{
			name: "silent server hits the deadline",
			serve: func(c net.Conn) error {
				_, _ = io.Copy(io.Discard, c)
				return nil
			},
			wantIs: os.ErrDeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, done := serveFake(t, tt.serve)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			err := ClientHandshake(ctx, conn, "maxuser", "maxpwd")
			switch {
			case tt.wantIs != nil:
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("ClientHandshake: %v, want %v", err, tt.wantIs)
				}
			case tt.wantErr == "":
				if err != nil {
					t.Fatalf("ClientHandshake: %v", err)
				}
			case err == nil || !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("ClientHandshake: %v, want an error containing %q", err, tt.wantErr)
			}
			conn.Close()
			if err := <-done; err != nil {
				t.Errorf("fake server: %v", err)
			}
		})
	}
}

// TestClientHandshakeRealMariaDB logs in to the real server and runs a
// statement, as the proxy's kill does.
func TestClientHandshakeRealMariaDB(t *testing.T) {
	addr := os.Getenv("PORTICO_TEST_MARIADB")
	if addr == "" {
		t.Fatal("PORTICO_TEST_MARIADB is not set: run `go tool task test`")
	}
	tests := []struct {
		name, user, password string
		wantCode             uint16 // of the handshake's error, 0 for success
	}{
		{name: "right password", user: "maxuser", password: "maxpwd"},
		{name: "wrong password", user: "maxuser", password: "wrong", wantCode: ERAccessDenied},
		{name: "empty password", user: "maxuser", password: "", wantCode: ERAccessDenied},
		{name: "unknown user", user: "portico_nobody", password: "x", wantCode: ERAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = ClientHandshake(ctx, conn, tt.user, tt.password)
			if tt.wantCode != 0 {
				var ep ErrorPacket
				if !errors.As(err, &ep) || ep.Code != tt.wantCode {
					t.Fatalf("ClientHandshake: %v, want ERR %d", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("ClientHandshake: %v", err)
			}
			if err := SimpleQuery(conn, "DO 1"); err != nil {
				t.Errorf("DO 1: %v", err)
			}
			var ep ErrorPacket
			if err := SimpleQuery(conn, "KILL CONNECTION 4000000000"); !errors.As(err, &ep) || ep.Code != ERNoSuchThread {
				t.Errorf("KILL of an unknown thread: %v, want ERR %d", err, ERNoSuchThread)
			}
			if err := SimpleQuery(conn, "SELECT 1"); !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("SELECT 1: %v, want ErrUnsupported", err)
			}
		})
	}
}

// TestClientHandshakeTLSRealMariaDB logs in over TLS, as the proxy's kill
// does for a server with ssl. maxtls may only log in over TLS.
func TestClientHandshakeTLSRealMariaDB(t *testing.T) {
	addr, caFile := os.Getenv("PORTICO_TEST_MARIADB"), os.Getenv("PORTICO_TEST_MARIADB_CA")
	if addr == "" || caFile == "" {
		t.Fatal("PORTICO_TEST_MARIADB or PORTICO_TEST_MARIADB_CA is not set: run `go tool task test`")
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, password string
		tls                  bool
		wantCode             uint16 // of the handshake's error, 0 for success
	}{
		{name: "TLS-only user over TLS", user: "maxtls", password: "maxpwd", tls: true},
		{name: "TLS-only user without TLS", user: "maxtls", password: "maxpwd", wantCode: ERAccessDenied},
		{name: "wrong password over TLS", user: "maxtls", password: "wrong", tls: true, wantCode: ERAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var rw io.ReadWriter = conn
			if tt.tls {
				var tc net.Conn
				tc, err = ClientHandshakeTLS(ctx, conn, &tls.Config{RootCAs: pool, ServerName: host}, tt.user, tt.password)
				if tc != nil {
					rw = tc
				}
			} else {
				err = ClientHandshake(ctx, conn, tt.user, tt.password)
			}
			if tt.wantCode != 0 {
				var ep ErrorPacket
				if !errors.As(err, &ep) || ep.Code != tt.wantCode {
					t.Fatalf("handshake: %v, want ERR %d", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if err := SimpleQuery(rw, "DO 1"); err != nil {
				t.Errorf("DO 1 over TLS: %v", err)
			}
		})
	}
}
