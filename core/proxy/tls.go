package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"github.com/portico-db/portico/core"
)

// TLS holds the loaded TLS settings of a topology, by name: a listener's
// are its certificate, a server's how Portico connects to it. Listeners and
// servers without ssl have no entry.
type TLS struct {
	Listeners map[string]*tls.Config
	Servers   map[string]*tls.Config
}

// LoadTLS reads the certificates and keys every listener and server with
// ssl names, so that a missing file or a bad PEM stops Portico at startup
// instead of failing each client.
func LoadTLS(topo *core.Topology) (*TLS, error) {
	t := &TLS{Listeners: map[string]*tls.Config{}, Servers: map[string]*tls.Config{}}
	for _, l := range topo.Listeners {
		if !l.SSL {
			continue
		}
		cfg, err := ListenerTLS(l)
		if err != nil {
			return nil, err
		}
		t.Listeners[l.Name] = cfg
	}
	for _, s := range topo.Servers {
		if !s.SSL {
			continue
		}
		cfg, err := ServerTLS(s)
		if err != nil {
			return nil, err
		}
		t.Servers[s.Name] = cfg
	}
	return t, nil
}

// ListenerTLS is the server side of a TLS listener. As in MaxScale, a
// client certificate is required only with ssl_verify_peer_certificate;
// with ssl_ca set, one that is presented must be signed by those CAs.
func ListenerTLS(l core.Listener) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(l.SSLCert, l.SSLKey)
	if err != nil {
		return nil, fmt.Errorf("listener %s: ssl_cert=%s, ssl_key=%s: %w", l.Name, l.SSLCert, l.SSLKey, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if err := setVersions(cfg, l.SSLVersions); err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	if l.SSLCA != "" {
		if cfg.ClientCAs, err = loadCAs(l.SSLCA); err != nil {
			return nil, fmt.Errorf("listener %s: ssl_ca=%s: %w", l.Name, l.SSLCA, err)
		}
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if l.SSLVerifyPeerCertificate {
		// ClientCAs nil checks against the system's CAs.
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// ServerTLS is the client side of TLS to server s. As in MaxScale, the
// server's certificate is checked against the CAs only with
// ssl_verify_peer_certificate, and against the server's address only with
// ssl_verify_peer_host as well; by default the link is encrypted but not
// authenticated.
func ServerTLS(s core.Server) (*tls.Config, error) {
	// Go checks a certificate and its name together or not at all, so the
	// check is made here, in VerifyConnection.
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: s.Address}
	if err := setVersions(cfg, s.SSLVersions); err != nil {
		return nil, fmt.Errorf("server %s: %w", s.Name, err)
	}
	var roots *x509.CertPool // nil: the system's
	if s.SSLCA != "" {
		var err error
		if roots, err = loadCAs(s.SSLCA); err != nil {
			return nil, fmt.Errorf("server %s: ssl_ca=%s: %w", s.Name, s.SSLCA, err)
		}
	}
	if s.SSLVerifyPeerCertificate {
		host := ""
		if s.SSLVerifyPeerHost {
			host = s.Address
		}
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyServer(cs, roots, host) }
	}
	if s.SSLCert != "" || s.SSLKey != "" {
		cert, err := tls.LoadX509KeyPair(s.SSLCert, s.SSLKey)
		if err != nil {
			return nil, fmt.Errorf("server %s: ssl_cert=%s, ssl_key=%s: %w", s.Name, s.SSLCert, s.SSLKey, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// tlsVersions are ssl_version's names, as the config package spells them.
var tlsVersions = map[string]uint16{
	"TLSv10": tls.VersionTLS10, "TLSv11": tls.VersionTLS11, "TLSv12": tls.VersionTLS12, "TLSv13": tls.VersionTLS13,
}

// setVersions allows the lowest to the highest of versions (Go cannot
// leave a gap), or TLS 1.2 and later if there are none.
func setVersions(cfg *tls.Config, versions []string) error {
	cfg.MinVersion = tls.VersionTLS12
	if len(versions) == 0 {
		return nil
	}
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS13, tls.VersionTLS10
	for _, name := range versions {
		v, ok := tlsVersions[name]
		if !ok {
			return fmt.Errorf("ssl_version: unknown version %q", name)
		}
		cfg.MinVersion, cfg.MaxVersion = min(cfg.MinVersion, v), max(cfg.MaxVersion, v)
	}
	return nil
}

// verifyServer checks a server's certificate chain against roots and, if
// host is not empty, that the certificate names host (a name or an IP
// address).
func verifyServer(cs tls.ConnectionState, roots *x509.CertPool, host string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the server sent no certificate")
	}
	intermediates := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: host})
	return err
}

func loadCAs(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}

// earlyConn is a client connection whose first reads return bytes that
// were already read from it. A client sends its TLS ClientHello right after
// the SSLRequest without waiting, so the read that brought the SSLRequest
// may have brought the start of the ClientHello too.
type earlyConn struct {
	net.Conn
	early []byte
}

func (c *earlyConn) Read(b []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(b, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// cipherName is how a connection's cipher is shown: the suite's standard
// name, empty for an unencrypted connection.
func cipherName(c *tls.Conn) string {
	return tls.CipherSuiteName(c.ConnectionState().CipherSuite)
}

// overTLS reports whether either of the session's connections speaks TLS,
// which an event loop relaying raw bytes cannot.
func (s *session) overTLS() bool {
	_, backendTLS := s.toBackend.(*tls.Conn)
	return s.listenerTLS != nil || backendTLS
}
