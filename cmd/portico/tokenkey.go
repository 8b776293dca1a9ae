package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/portico-db/portico/core/config"
)

// tokenKey returns the key that signs admin tokens, kept in the datadir
// beside the accounts, so that restarting Portico does not sign every
// dashboard out: the stream would otherwise refuse their cookies until each
// operator signed in again. It is made on first use.
func tokenKey(cfg *config.Config) ([]byte, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("token key: no datadir is configured")
	}
	path := filepath.Join(cfg.DataDir, "token.key")
	key, err := os.ReadFile(path)
	switch {
	case err == nil && len(key) == 32:
		return key, nil
	case err == nil:
		return nil, fmt.Errorf("token key: %s holds %d bytes, not 32: delete it to make a new one", path, len(key))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("token key: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	// Written aside and renamed, so a crash never leaves half a key.
	tmp, err := os.CreateTemp(cfg.DataDir, ".token.key.*")
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("token key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	return key, nil
}
