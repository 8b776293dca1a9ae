// Package compress writes the brotli and gzip variants of the dashboard's
// assets at build time, so the server sends the smallest encoding without
// compressing per request. It is a build tool's code: the portico binary must
// not import it, or brotli's encoder would be linked into it.
package compress

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

// Compressible reports whether name is a text or WASM asset worth
// compressing; images are compressed already.
func Compressible(name string) bool {
	switch filepath.Ext(name) {
	case ".wasm", ".js", ".css", ".svg":
		return true
	}
	return false
}

// Brotli compresses data at the highest quality: it runs once per build, and
// each byte saved is saved on every first page load.
func Brotli(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, brotli.BestCompression)
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Gzip compresses data at the highest level, for clients without brotli. The
// header carries no name or time, so a rebuild of the same input writes the
// same bytes.
func Gzip(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Dir writes NAME.br and NAME.gz next to every compressible file directly in
// dir and returns the names of the files it wrote.
func Dir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var written []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !Compressible(e.Name()) {
			continue
		}
		src := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(src)
		if err != nil {
			return written, err
		}
		// The server trusts a .br whose .gz matches its source, so the .gz
		// goes last: a run that stops half way leaves a stale .gz behind,
		// never a fresh one beside a stale .br.
		for _, v := range []struct {
			ext      string
			compress func([]byte) ([]byte, error)
		}{{".br", Brotli}, {".gz", Gzip}} {
			out, err := v.compress(data)
			if err != nil {
				return written, fmt.Errorf("%s: %w", src, err)
			}
			if err := writeFile(src+v.ext, out); err != nil {
				return written, err
			}
			written = append(written, src+v.ext)
		}
	}
	return written, nil
}

// writeFile replaces name in one rename, so a build embedding the directory
// meanwhile sees the old file or the new one, never half of one. The temporary
// name starts with a dot, which go:embed skips.
func writeFile(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
