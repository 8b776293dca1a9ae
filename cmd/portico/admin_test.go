package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/config"
	"github.com/portico-db/portico/server/users"
)

// testDataDir is a data directory whose users file already holds the
// default admin, hashed at the minimum bcrypt cost: at the default cost each
// Basic login takes about a second under the race detector.
func testDataDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	store, err := users.Open(filepath.Join(dir, "passwd.json"), users.Options{Cost: bcrypt.MinCost})
	if err != nil {
		tb.Fatal(err)
	}
	if err := store.Add(config.DefaultAdminUser, config.DefaultAdminPasswd, users.RoleAdmin); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// adminConfig is a configuration whose listener leads nowhere: enough to
// test the admin interface without a MariaDB.
func adminConfig(tb testing.TB) *config.Config {
	tb.Helper()
	return &config.Config{
		AdminHost:      "127.0.0.1",
		DataDir:        testDataDir(tb),
		AdminSecureGUI: true,
		Topology: core.Topology{
			Servers:   []core.Server{{Name: "nowhere", Address: "127.0.0.1", Port: 1}},
			Services:  []core.Service{{Name: "svc", Router: "readconnroute", Servers: []string{"nowhere"}}},
			Listeners: []core.Listener{{Name: "l", Service: "svc", Address: "127.0.0.1"}},
		},
	}
}

// runAdmin starts cfg and stops it when the test ends.
func runAdmin(tb testing.TB, cfg *config.Config) *app {
	tb.Helper()
	logger := slog.New(slog.NewTextHandler(tb.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := start(ctx, cfg, logger)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cancel()
		if err := a.wait(); err != nil {
			tb.Errorf("app: %v", err)
		}
	})
	return a
}

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files and
// returns a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "portico test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

type adminResponse struct {
	status int
	body   string
	resp   *http.Response
}

func adminGet(t *testing.T, client *http.Client, url string, login bool) adminResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if login {
		req.SetBasicAuth(config.DefaultAdminUser, config.DefaultAdminPasswd)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return adminResponse{status: resp.StatusCode, body: string(body), resp: resp}
}

func TestAdminTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	cfg := adminConfig(t)
	cfg.AdminSSLCert, cfg.AdminSSLKey = certFile, keyFile
	a := runAdmin(t, cfg)
	base := "https://" + a.adminAddr.String()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	tests := []struct {
		name        string
		path        string
		login       bool
		status      int
		wantCookies bool
	}{
		{"api", "/v1/sessions", true, http.StatusOK, false},
		{"api needs credentials", "/v1/sessions", false, http.StatusUnauthorized, false},
		// admin_secure_gui is on: these are served only because of TLS.
		{"token", "/v1/auth", true, http.StatusOK, false},
		{"persisted token", "/v1/auth?persist=yes", true, http.StatusNoContent, true},
		{"dashboard", "/", true, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := adminGet(t, client, base+tt.path, tt.login)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if res.resp.TLS == nil || res.resp.TLS.NegotiatedProtocol == "h2" {
				t.Errorf("TLS = %+v, want HTTP/1.1 over TLS", res.resp.TLS)
			}
			cookies := res.resp.Cookies()
			if got := len(cookies) == 2; got != tt.wantCookies {
				t.Fatalf("cookies = %v, want token cookies: %v", cookies, tt.wantCookies)
			}
			for _, c := range cookies {
				if !c.Secure {
					t.Errorf("%s is not Secure", c.Name)
				}
			}
		})
	}

	t.Run("plain HTTP is refused", func(t *testing.T) {
		res := adminGet(t, http.DefaultClient, "http://"+a.adminAddr.String()+"/v1/sessions", true)
		if res.status != http.StatusBadRequest {
			t.Errorf("status = %d, want 400: %s", res.status, res.body)
		}
	})
	t.Run("untrusted certificate is refused", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v1/sessions", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Error("a client that does not trust the certificate got through")
		}
	})
}

// TestAdminSecureGUI checks the wiring of admin_secure_gui over plain HTTP.
func TestAdminSecureGUI(t *testing.T) {
	tests := []struct {
		name      string
		secureGUI bool
		path      string
		status    int
		detail    string
	}{
		{"auth refused", true, "/v1/auth", http.StatusUnauthorized, "Connection is not encrypted"},
		{"dashboard refused", true, "/", http.StatusForbidden, ""},
		{"api served", true, "/v1/sessions", http.StatusOK, ""},
		{"auth allowed", false, "/v1/auth", http.StatusOK, ""},
		{"dashboard allowed", false, "/", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := adminConfig(t)
			cfg.AdminSecureGUI = tt.secureGUI
			a := runAdmin(t, cfg)
			res := adminGet(t, http.DefaultClient, "http://"+a.adminAddr.String()+tt.path, true)
			if res.status != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.status, res.body)
			}
			if tt.detail != "" {
				var doc struct{ Errors []struct{ Detail string } }
				if err := json.Unmarshal([]byte(res.body), &doc); err != nil || len(doc.Errors) != 1 || doc.Errors[0].Detail != tt.detail {
					t.Errorf("body = %s, want detail %q", res.body, tt.detail)
				}
			}
		})
	}
}

func TestAdminTLSBadFiles(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	otherCert, otherKey, _ := selfSigned(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing certificate", missing, keyFile, "missing.pem"},
		{"missing key", certFile, missing, "missing.pem"},
		{"garbage certificate", garbage, keyFile, "garbage.pem"},
		{"key of another certificate", certFile, otherKey, "does not match"},
		{"certificate of another key", otherCert, keyFile, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := adminConfig(t)
			cfg.AdminSSLCert, cfg.AdminSSLKey = tt.cert, tt.key
			_, err := start(t.Context(), cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "admin_ssl_cert") {
				t.Fatalf("err = %v, want one naming admin_ssl_cert and containing %q", err, tt.want)
			}
		})
	}
}

// TestAdminDefaultUser checks that a first start creates MaxScale's default
// admin account, and that a later one keeps the accounts it finds.
func TestAdminDefaultUser(t *testing.T) {
	cfg := adminConfig(t)
	cfg.DataDir = filepath.Join(t.TempDir(), "fresh")
	var log strings.Builder
	ctx, cancel := context.WithCancel(t.Context())
	a, err := start(ctx, cfg, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := a.wait(); err != nil {
			t.Errorf("app: %v", err)
		}
	})
	if !strings.Contains(log.String(), "created admin with the default password mariadb") {
		t.Errorf("no warning about the default account in the log:\n%s", log.String())
	}
	if got := a.users.List(); len(got) != 1 || got[0] != (users.User{Name: "admin", Role: users.RoleAdmin}) {
		t.Errorf("users = %v, want the default admin", got)
	}
	var banner strings.Builder
	a.printBanner(&banner)
	if !strings.Contains(banner.String(), "admin / mariadb") {
		t.Errorf("banner does not give the default login:\n%s", banner.String())
	}
	if fi, err := os.Stat(filepath.Join(cfg.DataDir, "passwd.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users file: %v, %v; want mode 0600", fi, err)
	}
}

// TestAdminUserAddedWhileRunning checks the whole path of `portico user
// add`: the running server accepts the new account at once.
func TestAdminUserAddedWhileRunning(t *testing.T) {
	cfg := adminConfig(t)
	cfgFile := writeConfig(t, cfg.DataDir)
	a := runAdmin(t, cfg)
	url := "http://" + a.adminAddr.String() + "/v1/sessions"
	get := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		req.SetBasicAuth("carol", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get(); status != http.StatusUnauthorized {
		t.Fatalf("before: status %d, want 401", status)
	}
	if _, _, err := runCLI(t, "s3cret\n", "user", "add", "carol", "--config", cfgFile); err != nil {
		t.Fatal(err)
	}
	if status := get(); status != http.StatusOK {
		t.Errorf("after: status %d, want 200", status)
	}
}
