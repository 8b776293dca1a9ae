package proxy_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
	"github.com/portico-db/portico/core/proxy"
)

const mariadbCAEnv = "PORTICO_TEST_MARIADB_CA"

// testMariaDBTLS is the test MariaDB as a server Portico speaks TLS to,
// checking its certificate against the CA that mariadb.sh made for it.
func testMariaDBTLS(tb testing.TB) core.Server {
	tb.Helper()
	ca := os.Getenv(mariadbCAEnv)
	if ca == "" {
		tb.Fatal("PORTICO_TEST_MARIADB_CA is not set: run `go tool task test`")
	}
	srv := testMariaDB(tb)
	srv.SSL, srv.SSLCA, srv.SSLVerifyPeerCertificate, srv.SSLVerifyPeerHost = true, ca, true, true
	return srv
}

// testCerts is a throw-away CA and a certificate it signed for 127.0.0.1,
// as PEM files.
type testCerts struct {
	ca, cert, key string
	pool          *x509.CertPool
	caCert        *x509.Certificate
	caKey         *ecdsa.PrivateKey
}

// client issues a client certificate signed by the CA.
func (c testCerts) client(tb testing.TB) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "maxuser"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.caCert, &key.PublicKey, c.caKey)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newTestCerts(tb testing.TB) testCerts {
	tb.Helper()
	dir := tb.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Portico test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	c := testCerts{ca: filepath.Join(dir, "ca.pem"), cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem"),
		pool: x509.NewCertPool(), caCert: caCert, caKey: caKey}
	c.pool.AddCert(caCert)
	writePEM(tb, c.ca, "CERTIFICATE", caDER)
	writePEM(tb, c.cert, "CERTIFICATE", der)
	writePEM(tb, c.key, "EC PRIVATE KEY", keyDER)
	return c
}

func writePEM(tb testing.TB, path, typ string, der []byte) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// listener is the test listener, terminating TLS with certs if not nil.
func listener(certs *testCerts) core.Listener {
	l := core.Listener{Name: "lst", Service: serviceName, Address: "127.0.0.1"}
	if certs != nil {
		l.SSL, l.SSLCert, l.SSLKey = true, certs.cert, certs.key
	}
	return l
}

// startTLSProxy is startProxy with listener l and the TLS that LoadTLS
// loads for it and servers, as cmd/portico does.
func startTLSProxy(tb testing.TB, l core.Listener, servers ...core.Server) *testProxy {
	tb.Helper()
	return startTLSProxyService(tb, l, core.Service{User: "maxuser", Password: "maxpwd"}, tb.Output(), servers...)
}

// startTLSProxyService is startTLSProxy with the service's credentials
// taken from svc, logging to logs.
func startTLSProxyService(tb testing.TB, l core.Listener, svc core.Service, logs io.Writer, servers ...core.Server) *testProxy {
	tb.Helper()
	var names []string
	for _, s := range servers {
		names = append(names, s.Name)
	}
	svc.Name, svc.Router, svc.Servers = serviceName, "readconnroute", names
	topo := &core.Topology{
		Servers:   servers,
		Services:  []core.Service{svc},
		Listeners: []core.Listener{l},
	}
	t, err := proxy.LoadTLS(topo)
	if err != nil {
		tb.Fatal(err)
	}
	reg := core.NewRegistry(nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &testProxy{addr: ln.Addr().String(), reg: reg, cancel: cancel, done: make(chan error, 1)}
	px := proxy.New(proxy.Config{Registry: reg, Topology: topo, TLS: t,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	go func() { p.done <- px.Serve(ctx, ln, l) }()
	tb.Cleanup(func() {
		if err := p.stop(); err != nil {
			tb.Errorf("stop proxy: %v", err)
		}
		ln.Close()
	})
	return p
}

var tlsConfigs atomic.Int64

// registerTLS registers a go-sql-driver TLS configuration trusting pool
// and returns its name for the DSN's tls parameter.
func registerTLS(tb testing.TB, pool *x509.CertPool, clientCerts ...tls.Certificate) string {
	tb.Helper()
	return registerTLSConfig(tb, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", Certificates: clientCerts})
}

// registerTLSConfig registers cfg with go-sql-driver and returns its name.
func registerTLSConfig(tb testing.TB, cfg *tls.Config) string {
	tb.Helper()
	name := "portico-test-" + strconv.FormatInt(tlsConfigs.Add(1), 10)
	if err := mysql.RegisterTLSConfig(name, cfg); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { mysql.DeregisterTLSConfig(name) })
	return name
}

func TestLoadTLS(t *testing.T) {
	certs := newTestCerts(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM at all\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	srv := core.Server{Name: "db1", Address: "127.0.0.1", Port: 3306, SSL: true}
	tests := []struct {
		name     string
		listener core.Listener
		server   core.Server
		// wantErr is what the error must say; empty means it must load.
		wantErr []string
	}{
		{name: "listener and server", listener: listener(&certs), server: srv},
		{name: "listener with a CA for client certificates",
			listener: core.Listener{Name: "lst", SSL: true, SSLCert: certs.cert, SSLKey: certs.key, SSLCA: certs.ca}, server: srv},
		{name: "server checking its certificate with a client certificate", listener: listener(nil),
			server: core.Server{Name: "db1", Address: "127.0.0.1", SSL: true, SSLCA: certs.ca, SSLCert: certs.cert, SSLKey: certs.key, SSLVerifyPeerCertificate: true}},
		{name: "missing certificate", listener: core.Listener{Name: "lst", SSL: true, SSLCert: missing, SSLKey: certs.key},
			wantErr: []string{"listener lst", "ssl_cert=" + missing, "no such file"}},
		{name: "key that is not PEM", listener: core.Listener{Name: "lst", SSL: true, SSLCert: certs.cert, SSLKey: garbage},
			wantErr: []string{"listener lst", "ssl_key=" + garbage}},
		{name: "key of another certificate", listener: core.Listener{Name: "lst", SSL: true, SSLCert: certs.ca, SSLKey: certs.key},
			wantErr: []string{"listener lst", "ssl_cert=" + certs.ca, "private key does not match"}},
		{name: "listener CA without certificates", listener: core.Listener{Name: "lst", SSL: true, SSLCert: certs.cert, SSLKey: certs.key, SSLCA: garbage},
			wantErr: []string{"listener lst", "ssl_ca=" + garbage, "no PEM certificate"}},
		{name: "missing server CA", listener: listener(nil), server: core.Server{Name: "db1", SSL: true, SSLCA: missing},
			wantErr: []string{"server db1", "ssl_ca=" + missing, "no such file"}},
		{name: "bad server client certificate", listener: listener(nil), server: core.Server{Name: "db1", SSL: true, SSLCert: garbage, SSLKey: certs.key},
			wantErr: []string{"server db1", "ssl_cert=" + garbage}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := proxy.LoadTLS(&core.Topology{Servers: []core.Server{tt.server}, Listeners: []core.Listener{tt.listener}})
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatal("loaded, want an error")
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l := got.Listeners[tt.listener.Name]; (l != nil) != tt.listener.SSL || l != nil && len(l.Certificates) != 1 {
				t.Errorf("listener TLS = %+v, want one certificate iff ssl", l)
			}
			if l := got.Listeners[tt.listener.Name]; l != nil && (tt.listener.SSLCA != "") != (l.ClientCAs != nil) {
				t.Errorf("listener ClientCAs set = %v, want %v", l.ClientCAs != nil, tt.listener.SSLCA != "")
			}
			s := got.Servers[tt.server.Name]
			if (s != nil) != tt.server.SSL {
				t.Fatalf("server TLS = %+v, want one iff ssl", s)
			}
			if s != nil && (s.VerifyConnection != nil) != tt.server.SSLVerifyPeerCertificate {
				t.Errorf("certificate check set = %v with ssl_verify_peer_certificate=%v", s.VerifyConnection != nil, tt.server.SSLVerifyPeerCertificate)
			}
		})
	}
}

// TestTLSThroughPortico runs go-sql-driver through every pairing of a plain
// or TLS client with a plain or TLS backend, against the real MariaDB.
func TestTLSThroughPortico(t *testing.T) {
	certs := newTestCerts(t)
	tlsName := registerTLS(t, certs.pool)
	tests := []struct {
		name                  string
		clientTLS, backendTLS bool
	}{
		{"plain client, plain backend", false, false},
		{"TLS client, plain backend", true, false},
		{"plain client, TLS backend", false, true},
		{"TLS client, TLS backend", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testMariaDB(t)
			if tt.backendTLS {
				srv = testMariaDBTLS(t)
			}
			l, dsnTLS := listener(nil), "false"
			if tt.clientTLS {
				l, dsnTLS = listener(&certs), tlsName
			}
			p := startTLSProxy(t, l, srv)
			db, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+p.addr+")/?tls="+dsnTLS)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := t.Context()
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var name, backendCipher string
			if err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &backendCipher); err != nil {
				t.Fatal(err)
			}
			if (backendCipher != "") != tt.backendTLS {
				t.Errorf("the backend's Ssl_cipher = %q, want it set iff the backend speaks TLS", backendCipher)
			}
			// Big enough to take several TLS records each way.
			var big string
			var n int
			if err := conn.QueryRowContext(ctx, "SELECT REPEAT('x', 100000), LENGTH(?)", strings.Repeat("y", 70000)).Scan(&big, &n); err != nil {
				t.Fatal(err)
			}
			if len(big) != 100000 || n != 70000 {
				t.Errorf("got %d bytes and LENGTH %d, want 100000 and 70000", len(big), n)
			}
			list := waitSessions(t, p.reg, 1)
			s := list[0]
			if (s.ClientCipher != "") != tt.clientTLS {
				t.Errorf("client cipher = %q, want it set iff the client speaks TLS", s.ClientCipher)
			}
			if len(s.Backends) != 1 || (s.Backends[0].Cipher != "") != tt.backendTLS {
				t.Errorf("backends = %+v, want the cipher set iff the backend speaks TLS", s.Backends)
			}
			if tt.backendTLS && len(s.Backends) == 1 && s.Backends[0].Cipher != backendCipher {
				// Go and OpenSSL agree on TLS 1.3 suite names.
				t.Logf("cipher %q as Portico names it, %q as MariaDB does", s.Backends[0].Cipher, backendCipher)
			}
		})
	}
}

// TestListenerVerifiesClientCertificates checks ssl_verify_peer_certificate
// on a listener: a client must show a certificate that ssl_ca signed, and
// one that cannot leaves no session behind.
func TestListenerVerifiesClientCertificates(t *testing.T) {
	certs, other := newTestCerts(t), newTestCerts(t)
	l := listener(&certs)
	l.SSLCA, l.SSLVerifyPeerCertificate = certs.ca, true
	p := startTLSProxy(t, l, testMariaDB(t))
	tests := []struct {
		name   string
		certs  []tls.Certificate
		wantOK bool
	}{
		{name: "no certificate"},
		{name: "signed by ssl_ca", certs: []tls.Certificate{certs.client(t)}, wantOK: true},
		{name: "signed by another CA", certs: []tls.Certificate{other.client(t)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+p.addr+")/?tls="+registerTLS(t, certs.pool, tt.certs...))
			if err != nil {
				t.Fatal(err)
			}
			err = db.PingContext(t.Context())
			if (err == nil) != tt.wantOK {
				t.Errorf("ping: %v, want success %v", err, tt.wantOK)
			}
			db.Close()
			waitFor(t, 5*time.Second, "no sessions", func() bool { return len(sessions(p.reg)) == 0 })
		})
	}
}

// TestTLSVersions checks ssl_version on both sides: the versions a config
// allows, and a real login through a listener that allows only TLS 1.3.
func TestTLSVersions(t *testing.T) {
	t.Run("configs", func(t *testing.T) {
		tests := []struct {
			versions []string
			min, max uint16 // max 0: Go's highest
			wantErr  string
		}{
			{min: tls.VersionTLS12},
			{versions: []string{"TLSv13"}, min: tls.VersionTLS13, max: tls.VersionTLS13},
			{versions: []string{"TLSv13", "TLSv11"}, min: tls.VersionTLS11, max: tls.VersionTLS13},
			{versions: []string{"TLSv12"}, min: tls.VersionTLS12, max: tls.VersionTLS12},
			{versions: []string{"SSLv3"}, wantErr: `unknown version "SSLv3"`},
		}
		for _, tt := range tests {
			cfg, err := proxy.ServerTLS(core.Server{Name: "db1", Address: "h", SSL: true, SSLVersions: tt.versions})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "server db1") {
					t.Errorf("%v: err = %v, want %q", tt.versions, err, tt.wantErr)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MinVersion != tt.min || cfg.MaxVersion != tt.max {
				t.Errorf("%v: versions %x-%x, want %x-%x", tt.versions, cfg.MinVersion, cfg.MaxVersion, tt.min, tt.max)
			}
		}
	})
	t.Run("a TLS 1.3 listener", func(t *testing.T) {
		certs := newTestCerts(t)
		l := listener(&certs)
		l.SSLVersions = []string{"TLSv13"}
		p := startTLSProxy(t, l, testMariaDB(t))
		for _, tt := range []struct {
			name   string
			max    uint16
			wantOK bool
		}{
			{"a TLS 1.2 client is refused", tls.VersionTLS12, false},
			{"a TLS 1.3 client logs in", tls.VersionTLS13, true},
		} {
			name := registerTLSConfig(t, &tls.Config{RootCAs: certs.pool, ServerName: "127.0.0.1", MaxVersion: tt.max})
			db, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+p.addr+")/?tls="+name)
			if err != nil {
				t.Fatal(err)
			}
			err = db.PingContext(t.Context())
			db.Close()
			if (err == nil) != tt.wantOK {
				t.Errorf("%s: ping %v", tt.name, err)
			}
		}
		waitFor(t, 5*time.Second, "no sessions", func() bool { return len(sessions(p.reg)) == 0 })
	})
}

// TestMariaDBCLIThroughTLS logs in with the mariadb CLI, asking for
// caching_sha2_password so that the server answers with an auth switch:
// its packets are renumbered when only one side speaks TLS.
func TestMariaDBCLIThroughTLS(t *testing.T) {
	if _, err := exec.LookPath("mariadb"); err != nil {
		t.Fatalf("the mariadb CLI is needed: %v", err)
	}
	certs := newTestCerts(t)
	tests := []struct {
		name                  string
		clientTLS, backendTLS bool
	}{
		{"plain client, plain backend", false, false},
		{"TLS client, plain backend", true, false},
		{"plain client, TLS backend", false, true},
		{"TLS client, TLS backend", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := testMariaDB(t)
			if tt.backendTLS {
				srv = testMariaDBTLS(t)
			}
			l := listener(nil)
			args := []string{"--skip-ssl"}
			if tt.clientTLS {
				l = listener(&certs)
				args = []string{"--ssl", "--ssl-ca=" + certs.ca, "--ssl-verify-server-cert"}
			}
			p := startTLSProxy(t, l, srv)
			host, port, _ := net.SplitHostPort(p.addr)
			cmd := exec.CommandContext(t.Context(), "mariadb", append([]string{"--no-defaults", "-h", host, "-P", port,
				"-umaxuser", "-pmaxpwd", "--default-auth=caching_sha2_password", "--batch", "--skip-column-names"}, args...)...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The CLI logs in before it reads a statement, so the session
			// can be looked at while it waits.
			var s core.Session
			waitFor(t, 5*time.Second, "the CLI's session to be ready", func() bool {
				list := sessions(p.reg)
				if len(list) == 1 && list[0].State == core.StateReady {
					s = list[0]
					return true
				}
				return cmd.ProcessState != nil
			})
			if _, err := stdin.Write([]byte("SHOW SESSION STATUS LIKE 'Ssl_cipher';\nSELECT CURRENT_USER();\n")); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatalf("mariadb: %v\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[1], "maxuser@") {
				t.Fatalf("output = %q, want the cipher and the user", out.String())
			}
			cipher := strings.TrimPrefix(lines[0], "Ssl_cipher\t")
			if (cipher != "") != tt.backendTLS {
				t.Errorf("the backend's Ssl_cipher = %q, want it set iff the backend speaks TLS", cipher)
			}
			if (s.ClientCipher != "") != tt.clientTLS {
				t.Errorf("client cipher = %q, want it set iff the client speaks TLS", s.ClientCipher)
			}
			if len(s.Backends) != 1 || (s.Backends[0].Cipher != "") != tt.backendTLS {
				t.Errorf("backends = %+v, want the cipher set iff the backend speaks TLS", s.Backends)
			}
		})
	}
}

// TestTLSListenerRefusesPlainClients: a listener with ssl turns away a
// client that does not ask for TLS, as MaxScale does.
func TestTLSListenerRefusesPlainClients(t *testing.T) {
	certs := newTestCerts(t)
	p := startTLSProxy(t, listener(&certs), testMariaDB(t))

	t.Run("go-sql-driver", func(t *testing.T) {
		db, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+p.addr+")/?tls=false")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.PingContext(t.Context())
		var me *mysql.MySQLError
		if !errors.As(err, &me) || me.Number != mysqlwire.ERAccessDenied || string(me.SQLState[:]) != mysqlwire.SSAccessDenied {
			t.Fatalf("ping = %v, want ERR 1045 (28000)", err)
		}
		if !strings.Contains(me.Message, "Access without SSL denied") {
			t.Errorf("message = %q", me.Message)
		}
	})
	t.Run("mariadb CLI", func(t *testing.T) {
		host, port, _ := net.SplitHostPort(p.addr)
		out, err := exec.CommandContext(t.Context(), "mariadb", "--no-defaults", "-h", host, "-P", port,
			"-umaxuser", "-pmaxpwd", "--skip-ssl", "-e", "SELECT 1").CombinedOutput()
		if err == nil {
			t.Fatalf("the CLI got in without TLS: %s", out)
		}
		if !strings.Contains(string(out), "ERROR 1045 (28000)") || !strings.Contains(string(out), "Access without SSL denied") {
			t.Errorf("output = %q, want ERROR 1045 (28000) ... Access without SSL denied", out)
		}
	})
	t.Run("raw handshake", func(t *testing.T) {
		c := dial(t, p)
		_, g := readGreeting(t, c)
		if g.Capabilities&mysqlwire.ClientSSL == 0 {
			t.Errorf("greeting capabilities %#x do not offer TLS", g.Capabilities)
		}
		if _, err := c.Write(packet(1, captured(t, "handshake_response_go_sql_driver.bin"))); err != nil {
			t.Fatal(err)
		}
		expectErr(t, c, mysqlwire.ERAccessDenied, 2)
		expectClosed(t, c)
	})
}

// sslRequestConn sends an SSLRequest in the same write as the TLS
// ClientHello, so the proxy reads both at once.
type sslRequestConn struct {
	net.Conn
	prefix []byte
}

func (c *sslRequestConn) Write(b []byte) (int, error) {
	if c.prefix != nil {
		_, err := c.Conn.Write(append(c.prefix, b...))
		c.prefix = nil
		if err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// TestClientTLSStartsInTheSSLRequestsRead: a TLS listener offers TLS in
// front of a server that does not, bytes of the ClientHello read together
// with the SSLRequest are the start of the TLS handshake, and the handshake
// response forwarded to a plain backend is renumbered and no longer asks
// for TLS.
func TestClientTLSStartsInTheSSLRequestsRead(t *testing.T) {
	certs := newTestCerts(t)
	type forwarded struct {
		seq  byte
		caps uint32
	}
	got := make(chan forwarded, 1)
	backend := startBackend(t, "fake1", func(c net.Conn) {
		if mysqlwire.WritePacket(c, 0, captured(t, "greeting_mariadb.bin")) != nil {
			return
		}
		seq, resp, err := mysqlwire.ReadPacket(c, 0)
		if err != nil || len(resp) < 4 {
			return
		}
		got <- forwarded{seq, binary.LittleEndian.Uint32(resp)}
		if mysqlwire.WritePacket(c, seq+1, captured(t, "ok_after_auth_mariadb.bin")) != nil {
			return
		}
		_, _ = c.Read(make([]byte, 1))
	})
	p := startTLSProxy(t, listener(&certs), backend.srv)
	c := dial(t, p)
	// The backend's greeting does not offer TLS; the listener's does.
	if _, g := readGreeting(t, c); g.Capabilities&mysqlwire.ClientSSL == 0 {
		t.Errorf("greeting capabilities %#x do not offer TLS", g.Capabilities)
	}
	resp := captured(t, "handshake_response_go_sql_driver.bin")
	mysqlwire.SetClientSSL(resp, true)
	tc := tls.Client(&sslRequestConn{Conn: c, prefix: packet(1, mysqlwire.SSLRequest(resp))},
		&tls.Config{RootCAs: certs.pool, ServerName: "127.0.0.1"})
	if err := tc.HandshakeContext(t.Context()); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	if _, err := tc.Write(packet(2, resp)); err != nil {
		t.Fatal(err)
	}
	seq, ok := readPacket(t, tc)
	if len(ok) == 0 || ok[0] != mysqlwire.OKHeader || seq != 3 {
		t.Fatalf("got seq %d %q, want OK with seq 3", seq, ok)
	}
	f := <-got
	if f.seq != 1 || f.caps&mysqlwire.ClientSSL != 0 {
		t.Errorf("the plain backend got the handshake response with seq %d, capabilities %#x; want seq 1 without CLIENT_SSL", f.seq, f.caps)
	}
	s := waitSessions(t, p.reg, 1)[0]
	if s.ClientCipher == "" || s.ClientCipher != tls.CipherSuiteName(tc.ConnectionState().CipherSuite) {
		t.Errorf("client cipher = %q, want %q", s.ClientCipher, tls.CipherSuiteName(tc.ConnectionState().CipherSuite))
	}
}

// TestServerWithoutTLS: a server with ssl whose greeting does not offer TLS
// is refused before the client says anything.
func TestServerWithoutTLS(t *testing.T) {
	greeting := captured(t, "greeting_mariadb.bin")
	g, err := mysqlwire.ParseGreeting(greeting)
	if err != nil {
		t.Fatal(err)
	}
	if g.Capabilities&mysqlwire.ClientSSL != 0 {
		t.Fatal("greeting_mariadb.bin offers TLS; the test needs one that does not")
	}
	backend := startBackend(t, "fake1", replay(greeting, nil))
	srv := backend.srv
	srv.SSL = true
	p := startTLSProxy(t, listener(nil), srv)
	c := dial(t, p)
	e := expectErr(t, c, mysqlwire.ERHandshakeError, 0)
	if !strings.Contains(e.Message, "does not offer TLS") {
		t.Errorf("message = %q", e.Message)
	}
	expectClosed(t, c)
}

// TestKillOverTLS kills a session on a server with ssl whose account,
// maxtls, may only log in over TLS: the side connection that runs KILL
// must speak TLS too.
func TestKillOverTLS(t *testing.T) {
	srv := testMariaDBTLS(t)
	direct, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port))+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	logs := &lockedBuffer{}
	p := startTLSProxyService(t, listener(nil), core.Service{User: "maxtls", Password: "maxpwd"}, logs, srv)
	db, err := sql.Open("mysql", "maxtls:maxpwd@tcp("+p.addr+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	threadID, sleepDone := sleepOnBackend(t, db, direct)
	list := sessions(p.reg)
	if len(list) != 1 {
		t.Fatalf("%d sessions, want 1", len(list))
	}
	if err := p.reg.Kill(list[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := <-sleepDone; err == nil {
		t.Error("SELECT SLEEP(20) succeeded through a killed session")
	}
	// MariaDB ends a sleep whose client has gone within seconds anyway,
	// so the log is what tells a KILL from a hang-up.
	waitFor(t, 5*time.Second, "the kill to be logged", func() bool { return strings.Contains(logs.String(), "backend thread killed") })
	waitFor(t, 5*time.Second, "the backend thread to be gone", func() bool {
		return processCount(t, direct, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", threadID) == 0
	})
}

// clientHello returns the first TLS record a Go client sends.
func clientHello(tb testing.TB) []byte {
	tb.Helper()
	a, b := net.Pipe()
	defer b.Close()
	go func() {
		defer a.Close()
		_ = tls.Client(a, &tls.Config{InsecureSkipVerify: true}).Handshake()
	}()
	buf := make([]byte, 4096)
	n, err := b.Read(buf)
	if err != nil {
		tb.Fatal(err)
	}
	return buf[:n]
}

// FuzzTLSListenerHandshake sends arbitrary bytes as a client's first bytes
// to a listener with ssl, where an SSLRequest starts a TLS handshake that
// the bytes then carry. Whatever they are, the proxy must not panic, must
// hang up, and must drop the session.
func FuzzTLSListenerHandshake(f *testing.F) {
	certs := newTestCerts(f)
	sslReq := captured(f, "ssl_request_mariadb_cli.bin")
	hello := clientHello(f)
	f.Add(packet(1, sslReq))
	f.Add(append(packet(1, sslReq), hello...))
	f.Add(append(packet(1, sslReq), hello[:len(hello)/2]...))
	f.Add(append(packet(1, sslReq), packet(2, sslReq)...))
	f.Add(packet(1, captured(f, "handshake_response_mariadb_cli.bin")))
	f.Add(hello)
	f.Add([]byte{})

	be := startBackend(f, "fake1", replay(captured(f, "greeting_mariadb.bin"), captured(f, "err_access_denied_mariadb.bin")))
	p := startTLSProxyService(f, listener(&certs), core.Service{}, io.Discard, be.srv)
	f.Fuzz(func(t *testing.T, in []byte) {
		c := dial(t, p)
		readGreeting(t, c)
		// The proxy may hang up before reading everything; that is fine.
		_, _ = c.Write(in)
		_ = c.CloseWrite()
		// What comes back may be TLS records rather than packets.
		_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.ReadAll(c); err != nil && !isHangUp(err) {
			t.Fatalf("want the connection closed, got %v", err)
		}
		waitSessions(t, p.reg, 0)
	})
}

// BenchmarkTLS measures, against the real MariaDB, what TLS on either side
// of Portico costs: a 16 KiB query reply over one connection, and a whole
// login (connect, both handshakes, authentication) per iteration.
func BenchmarkTLS(b *testing.B) {
	certs := newTestCerts(b)
	tlsName := registerTLS(b, certs.pool)
	for _, side := range []struct {
		name                  string
		clientTLS, backendTLS bool
	}{
		{"plain-plain", false, false},
		{"tls-plain", true, false},
		{"plain-tls", false, true},
		{"tls-tls", true, true},
	} {
		srv := testMariaDB(b)
		if side.backendTLS {
			srv = testMariaDBTLS(b)
		}
		l, dsnTLS := listener(nil), "false"
		if side.clientTLS {
			l, dsnTLS = listener(&certs), tlsName
		}
		p := startTLSProxyService(b, l, core.Service{User: "maxuser", Password: "maxpwd"}, io.Discard, srv)
		db, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+p.addr+")/?tls="+dsnTLS)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		b.Run("query/"+side.name, func(b *testing.B) {
			db.SetMaxIdleConns(1)
			var s string
			for b.Loop() {
				if err := db.QueryRow("SELECT REPEAT('x', 16384)").Scan(&s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("login/"+side.name, func(b *testing.B) {
			db.SetMaxIdleConns(0)
			for b.Loop() {
				if err := db.Ping(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestServerCertificateChecks connects ServerTLS's configurations to a TLS
// server whose certificate names 127.0.0.1 and localhost, as MaxScale's
// ssl_verify_peer_certificate and ssl_verify_peer_host would.
func TestServerCertificateChecks(t *testing.T) {
	certs, other := newTestCerts(t), newTestCerts(t)
	cert, err := tls.LoadX509KeyPair(certs.cert, certs.key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	tests := []struct {
		name         string
		address, ca  string
		verify, host bool
		wantErr      bool
	}{
		{name: "no checks, unknown CA", address: "db.example", ca: other.ca},
		{name: "certificate checked", address: "127.0.0.1", ca: certs.ca, verify: true},
		{name: "certificate of an unknown CA", address: "127.0.0.1", ca: other.ca, verify: true, wantErr: true},
		{name: "certificate checked, not its name", address: "db.example", ca: certs.ca, verify: true},
		{name: "certificate and IP address checked", address: "127.0.0.1", ca: certs.ca, verify: true, host: true},
		{name: "certificate and host name checked", address: "localhost", ca: certs.ca, verify: true, host: true},
		{name: "name the certificate lacks", address: "db.example", ca: certs.ca, verify: true, host: true, wantErr: true},
		{name: "host check alone does nothing", address: "db.example", ca: other.ca, host: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := proxy.ServerTLS(core.Server{Name: "db1", Address: tt.address, SSL: true, SSLCA: tt.ca,
				SSLVerifyPeerCertificate: tt.verify, SSLVerifyPeerHost: tt.host})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
			err = tls.Client(raw, cfg).HandshakeContext(t.Context())
			if (err != nil) != tt.wantErr {
				t.Fatalf("handshake: %v, want an error: %v", err, tt.wantErr)
			}
		})
	}
}

// TestTLSNotLoaded: ssl without what LoadTLS loads fails loudly, the
// listener at Serve and the server for each client, never silently plain.
func TestTLSNotLoaded(t *testing.T) {
	certs := newTestCerts(t)
	srv := testMariaDB(t)
	sslSrv := srv
	sslSrv.SSL = true
	topo := &core.Topology{
		Servers:   []core.Server{sslSrv},
		Services:  []core.Service{{Name: serviceName, Router: "readconnroute", Servers: []string{srv.Name}}},
		Listeners: []core.Listener{listener(&certs)},
	}
	t.Run("listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		px := proxy.New(proxy.Config{Registry: core.NewRegistry(nil), Topology: topo})
		err = px.Serve(t.Context(), ln, topo.Listeners[0])
		if err == nil || !strings.Contains(err.Error(), "listener lst has ssl=true") {
			t.Errorf("Serve = %v, want an error naming the listener's ssl", err)
		}
	})
	t.Run("server", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		reg := core.NewRegistry(nil)
		ctx, cancel := context.WithCancel(t.Context())
		p := &testProxy{addr: ln.Addr().String(), reg: reg, cancel: cancel, done: make(chan error, 1)}
		px := proxy.New(proxy.Config{Registry: reg, Topology: topo, Logger: slog.New(slog.DiscardHandler),
			TLS: &proxy.TLS{Listeners: map[string]*tls.Config{}}})
		go func() { p.done <- px.Serve(ctx, ln, listener(nil)) }()
		t.Cleanup(func() {
			if err := p.stop(); err != nil {
				t.Errorf("stop proxy: %v", err)
			}
		})
		c := dial(t, p)
		e := expectErr(t, c, mysqlwire.CRConnHostError, 0)
		if !strings.Contains(e.Message, "could not connect") {
			t.Errorf("message = %q", e.Message)
		}
	})
}
