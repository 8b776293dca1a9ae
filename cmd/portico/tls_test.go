package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core/config"
)

// TestTLSCiphersInTheAPI runs a TLS client through a TLS listener to the
// test MariaDB over TLS, and reads both ciphers back from the REST API.
func TestTLSCiphersInTheAPI(t *testing.T) {
	ca := os.Getenv("PORTICO_TEST_MARIADB_CA")
	if ca == "" {
		t.Fatal("PORTICO_TEST_MARIADB_CA is not set: run `go tool task test`")
	}
	cert, key, pool := selfSigned(t)
	a := startApp(t, func(c *config.Config) {
		l := &c.Topology.Listeners[0]
		l.SSL, l.SSLCert, l.SSLKey = true, cert, key
		s := &c.Topology.Servers[0]
		s.SSL, s.SSLCA, s.SSLVerifyPeerCertificate, s.SSLVerifyPeerHost = true, ca, true, true
	})
	if err := mysql.RegisterTLSConfig("portico-app-test", &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	defer mysql.DeregisterTLSConfig("portico-app-test")
	db, err := sql.Open("mysql", "maxuser:maxpwd@tcp("+a.listenerAddr()+")/?tls=portico-app-test")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var name, backendCipher string
	if err := conn.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &backendCipher); err != nil {
		t.Fatal(err)
	}
	if backendCipher == "" {
		t.Error("the backend's Ssl_cipher is empty: Portico did not speak TLS to it")
	}
	list := waitAPI(t, a, eventDeadline, "ready session", func(l []apiSession) bool {
		return len(l) == 1 && l[0].Attributes.State == stateReady
	})
	var doc struct {
		Data struct {
			Attributes struct {
				Connections []struct {
					Cipher string `json:"cipher"`
				} `json:"connections"`
				Client struct {
					Cipher string `json:"cipher"`
				} `json:"client"`
			} `json:"attributes"`
		} `json:"data"`
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+a.adminAddr.String()+sessionsPath+"/"+list[0].ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", adminAuth())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET session: %s, %v", resp.Status, err)
	}
	attrs := doc.Data.Attributes
	if attrs.Client.Cipher == "" {
		t.Error("client.cipher is empty for a TLS client")
	}
	if len(attrs.Connections) != 1 || attrs.Connections[0].Cipher == "" {
		t.Errorf("connections = %+v, want one with a cipher", attrs.Connections)
	}
}

// TestRunBadTLSFiles: a certificate that cannot be loaded stops Portico at
// startup, naming the file.
func TestRunBadTLSFiles(t *testing.T) {
	cert, key, _ := selfSigned(t)
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name, section, want string
	}{
		{name: "listener certificate missing", want: missing,
			section: "[l]\ntype=listener\nservice=svc\naddress=127.0.0.1\nport=1\nssl=true\nssl_cert=" + missing + "\nssl_key=" + key + "\n"},
		{name: "listener key is a certificate", want: cert,
			section: "[l]\ntype=listener\nservice=svc\naddress=127.0.0.1\nport=1\nssl=true\nssl_cert=" + cert + "\nssl_key=" + cert + "\n"},
		{name: "server CA missing", want: missing,
			section: "[l]\ntype=listener\nservice=svc\naddress=127.0.0.1\nport=1\n[db1]\ntype=server\naddress=127.0.0.1\nssl=true\nssl_ca=" + missing + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := "[maxscale]\nadmin_port=1\ndatadir=" + t.TempDir() + "\n" +
				"[svc]\ntype=service\nrouter=readconnroute\nservers=db1\n" + tt.section
			if !strings.Contains(tt.section, "[db1]") {
				content += "[db1]\ntype=server\naddress=127.0.0.1\n"
			}
			path := filepath.Join(t.TempDir(), "portico.cnf")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"--config", path}, strings.NewReader(""), &stdout, &stderr)
			if err == nil {
				t.Fatal("run succeeded with a certificate it cannot load")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %s", err, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("run printed %q, want nothing before failing", stdout.String())
			}
		})
	}
}
