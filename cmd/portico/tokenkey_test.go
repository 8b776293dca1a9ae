package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portico-db/portico/core/config"
)

func TestTokenKey(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir}
	first, err := tokenKey(cfg)
	if err != nil || len(first) != 32 {
		t.Fatalf("first key %x, %v", first, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "token.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, %v; want mode 0600", fi, err)
	}
	again, err := tokenKey(cfg)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("a restart made another key: %x, %v", again, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token.key"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tokenKey(cfg); err == nil || !strings.Contains(err.Error(), "not 32") {
		t.Fatalf("a damaged key file: %v", err)
	}
	if _, err := tokenKey(&config.Config{}); err == nil {
		t.Fatal("no datadir, no error")
	}
}
