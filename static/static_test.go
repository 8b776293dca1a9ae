package static_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"

	"github.com/portico-db/portico/cmd/precompress/compress"
	"github.com/portico-db/portico/static"
)

// wasmBrotliBudget caps what a first visit downloads for the live client.
const wasmBrotliBudget = 800_000

var (
	appJS    = []byte(strings.Repeat("console.log('portico');\n", 200))
	appWASM  = append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte{0, 1, 2, 3}, 1000)...)
	logoPNG  = []byte("\x89PNG\r\n\x1a\nnot really")
	plainCSS = []byte("body{color:red}")
)

// testFS is a static directory as the build leaves it: the compressible
// assets with their .br and .gz, made by the build's own functions.
func testFS(t *testing.T) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{
		"logo.png":  {Data: logoPNG},
		"plain.css": {Data: plainCSS}, // not precompressed: identity only
		"static.go": {Data: []byte("package static")},
	}
	for name, data := range map[string][]byte{"app.js": appJS, "app.wasm": appWASM} {
		br, err := compress.Brotli(data)
		if err != nil {
			t.Fatal(err)
		}
		gz, err := compress.Gzip(data)
		if err != nil {
			t.Fatal(err)
		}
		fsys[name] = &fstest.MapFile{Data: data}
		fsys[name+".br"] = &fstest.MapFile{Data: br}
		fsys[name+".gz"] = &fstest.MapFile{Data: gz}
	}
	return fsys
}

func hashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}

func TestURL(t *testing.T) {
	assets, err := static.New(testFS(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want string
	}{
		{"app.js", "/static/app." + hashOf(appJS) + ".js"},
		{"app.wasm", "/static/app." + hashOf(appWASM) + ".wasm"},
		{"logo.png", "/static/logo." + hashOf(logoPNG) + ".png"},
		// An unknown name keeps its plain path, which answers 404.
		{"missing.js", "/static/missing.js"},
		{"static.go", "/static/static.go"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := assets.URL(tt.name); got != tt.want {
				t.Errorf("URL(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestServeHTTP(t *testing.T) {
	fsys := testFS(t)
	assets, err := static.New(fsys)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(assets)
	t.Cleanup(srv.Close)
	// The default transport asks for gzip itself and decodes it out of
	// sight; these tests need to see what was sent.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}

	const (
		immutable = "public, max-age=31536000, immutable"
		noCache   = "no-cache"
		jsType    = "text/javascript; charset=utf-8"
	)
	jsHashed := assets.URL("app.js")
	jsHash := hashOf(appJS)
	tests := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		status      int
		contentType string
		encoding    string
		cache       string
		etag        string
		body        []byte // decoded; nil for none
	}{
		{"brotli", "GET", jsHashed, map[string]string{"Accept-Encoding": "gzip, deflate, br, zstd"}, 200, jsType, "br", immutable, `"` + jsHash + `-br"`, appJS},
		{"gzip", "GET", jsHashed, map[string]string{"Accept-Encoding": "gzip"}, 200, jsType, "gzip", immutable, `"` + jsHash + `-gzip"`, appJS},
		{"x-gzip", "GET", jsHashed, map[string]string{"Accept-Encoding": "x-gzip"}, 200, jsType, "gzip", immutable, `"` + jsHash + `-gzip"`, appJS},
		{"brotli refused with q=0", "GET", jsHashed, map[string]string{"Accept-Encoding": "br;q=0, gzip"}, 200, jsType, "gzip", immutable, `"` + jsHash + `-gzip"`, appJS},
		{"q=0.000 refuses too", "GET", jsHashed, map[string]string{"Accept-Encoding": "br;q=0.000, gzip;q=0.5"}, 200, jsType, "gzip", immutable, `"` + jsHash + `-gzip"`, appJS},
		{"codings are case-insensitive", "GET", jsHashed, map[string]string{"Accept-Encoding": "BR"}, 200, jsType, "br", immutable, `"` + jsHash + `-br"`, appJS},
		{"star takes brotli", "GET", jsHashed, map[string]string{"Accept-Encoding": "*"}, 200, jsType, "br", immutable, `"` + jsHash + `-br"`, appJS},
		{"star does not override an explicit refusal", "GET", jsHashed, map[string]string{"Accept-Encoding": "br;q=0, *"}, 200, jsType, "gzip", immutable, `"` + jsHash + `-gzip"`, appJS},
		{"star with q=0", "GET", jsHashed, map[string]string{"Accept-Encoding": "*;q=0"}, 200, jsType, "", immutable, `"` + jsHash + `"`, appJS},
		{"no Accept-Encoding is identity", "GET", jsHashed, nil, 200, jsType, "", immutable, `"` + jsHash + `"`, appJS},
		{"only codings we lack", "GET", jsHashed, map[string]string{"Accept-Encoding": "zstd, deflate"}, 200, jsType, "", immutable, `"` + jsHash + `"`, appJS},
		{"plain name revalidates", "GET", "/static/app.js", map[string]string{"Accept-Encoding": "br"}, 200, jsType, "br", noCache, `"` + jsHash + `-br"`, appJS},
		{"wasm", "GET", assets.URL("app.wasm"), map[string]string{"Accept-Encoding": "br"}, 200, "application/wasm", "br", immutable, `"` + hashOf(appWASM) + `-br"`, appWASM},
		{"png", "GET", assets.URL("logo.png"), map[string]string{"Accept-Encoding": "br, gzip"}, 200, "image/png", "", immutable, `"` + hashOf(logoPNG) + `"`, logoPNG},
		{"no variants is identity", "GET", assets.URL("plain.css"), map[string]string{"Accept-Encoding": "br, gzip"}, 200, "text/css; charset=utf-8", "", immutable, `"` + hashOf(plainCSS) + `"`, plainCSS},
		{"HEAD", "HEAD", jsHashed, map[string]string{"Accept-Encoding": "br"}, 200, jsType, "br", immutable, `"` + jsHash + `-br"`, nil},
		{"If-None-Match", "GET", jsHashed, map[string]string{"Accept-Encoding": "br", "If-None-Match": `"` + jsHash + `-br"`}, 304, "", "", immutable, `"` + jsHash + `-br"`, nil},
		{"If-None-Match of another encoding", "GET", jsHashed, map[string]string{"Accept-Encoding": "gzip", "If-None-Match": `"` + jsHash + `-br"`}, 200, jsType, "gzip", immutable, `"` + jsHash + `-gzip"`, appJS},
		{"If-None-Match on the plain name", "GET", "/static/app.js", map[string]string{"If-None-Match": `"` + jsHash + `"`}, 304, "", "", noCache, `"` + jsHash + `"`, nil},
		{"range of identity", "GET", jsHashed, map[string]string{"Range": "bytes=0-6"}, 206, jsType, "", immutable, `"` + jsHash + `"`, appJS[:7]},
		{"stale hash", "GET", "/static/app.0000000000.js", nil, 404, "", "", "", "", nil},
		{"unknown name", "GET", "/static/missing.js", nil, 404, "", "", "", "", nil},
		{"brotli file itself", "GET", "/static/app.js.br", nil, 404, "", "", "", "", nil},
		{"gzip file itself", "GET", "/static/app.js.gz", nil, 404, "", "", "", "", nil},
		{"not an asset type", "GET", "/static/static.go", nil, 404, "", "", "", "", nil},
		{"outside the prefix", "GET", "/app.js", nil, 404, "", "", "", "", nil},
		{"POST", "POST", jsHashed, nil, 405, "", "", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			raw, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.StatusCode, tt.status, raw)
			}
			if tt.status == 404 || tt.status == 405 {
				return
			}
			for _, h := range []struct{ key, want string }{
				{"Content-Encoding", tt.encoding},
				{"Cache-Control", tt.cache},
				{"ETag", tt.etag},
				{"Vary", "Accept-Encoding"},
			} {
				if got := res.Header.Get(h.key); got != h.want {
					t.Errorf("%s = %q, want %q", h.key, got, h.want)
				}
			}
			if tt.status == 304 {
				if len(raw) != 0 {
					t.Errorf("304 with a body of %d bytes", len(raw))
				}
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			// The length of what is sent, which HEAD announces too.
			wantLen := len(raw)
			if tt.method == "HEAD" {
				if len(raw) != 0 {
					t.Errorf("HEAD sent a body of %d bytes", len(raw))
				}
				wantLen = len(fsys["app.js.br"].Data)
			}
			if got := res.Header.Get("Content-Length"); got != strconv.Itoa(wantLen) {
				t.Errorf("Content-Length = %q, want %d", got, wantLen)
			}
			if tt.body == nil {
				return
			}
			if got := decode(t, tt.encoding, raw); !bytes.Equal(got, tt.body) {
				t.Errorf("decoded body is %d bytes, want the %d of the original", len(got), len(tt.body))
			}
		})
	}
}

func decode(t *testing.T, encoding string, data []byte) []byte {
	t.Helper()
	var r io.Reader = bytes.NewReader(data)
	switch encoding {
	case "br":
		r = brotli.NewReader(r)
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decoding %s: %v", encoding, err)
	}
	return out
}

// TestNewRefusesStaleVariants covers a binary built after an asset changed
// without the build recompressing it: serving the old .br and .gz would send
// clients the previous version.
func TestNewRefusesStaleVariants(t *testing.T) {
	fsys := testFS(t)
	fsys["app.js"] = &fstest.MapFile{Data: []byte("console.log('edited');")}
	_, err := static.New(fsys)
	if err == nil || !strings.Contains(err.Error(), "app.js.gz is stale") || !strings.Contains(err.Error(), "go tool task build") {
		t.Fatalf("New = %v, want an error naming app.js.gz and the build", err)
	}
}

// TestEmbeddedVariantsMatch decodes every .br and .gz the build left in this
// directory: New checks only the .gz, having no brotli decoder.
func TestEmbeddedVariantsMatch(t *testing.T) {
	if _, err := static.New(static.FS); err != nil {
		t.Fatalf("New(static.FS): %v", err)
	}
	checked := 0
	for _, v := range []struct{ ext, encoding string }{{".br", "br"}, {".gz", "gzip"}} {
		names, err := fs.Glob(static.FS, "*"+v.ext)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			encoded, err := fs.ReadFile(static.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			orig, err := fs.ReadFile(static.FS, strings.TrimSuffix(name, v.ext))
			if err != nil {
				t.Fatalf("%s has no original: %v", name, err)
			}
			if !bytes.Equal(decode(t, v.encoding, encoded), orig) {
				t.Errorf("%s does not decode to %s: run `go tool task build`", name, strings.TrimSuffix(name, v.ext))
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no precompressed assets in static/: run `go tool task build` first")
	}
}

// TestWASMBrotliBudget keeps the WASM client's download, as browsers fetch
// it, within budget. It reads the file the build wrote rather than building
// one, so it measures exactly what ships.
func TestWASMBrotliBudget(t *testing.T) {
	fi, err := os.Stat("portico.wasm.br")
	if err != nil {
		t.Fatalf("static/portico.wasm.br is missing (%v): run `go tool task build` before the tests", err)
	}
	t.Logf("portico.wasm.br is %d bytes of a %d-byte budget", fi.Size(), wasmBrotliBudget)
	if fi.Size() > wasmBrotliBudget {
		t.Errorf("portico.wasm.br is %d bytes, over the budget of %d by %d: shrink the client before raising the budget",
			fi.Size(), wasmBrotliBudget, fi.Size()-wasmBrotliBudget)
	}
}
