// Package static holds the dashboard's public assets: the stylesheet, the
// WASM client and the loader that starts it, and serves them. The build
// writes portico.wasm and wasm_exec.js here before compiling the binary, and
// NAME.br and NAME.gz beside each compressible asset (cmd/precompress).
package static

import (
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// FS holds every asset in this directory. A bare "*" keeps go vet and go test
// working before the WASM client has been built.
//
//go:embed *
var FS embed.FS

// Prefix is the URL path the assets are served under.
const Prefix = "/static/"

// The content types are fixed here rather than taken from package mime,
// which reads the host's mime.types: instantiateStreaming refuses WASM that
// is not application/wasm. Files of other types, such as this package's Go
// sources that go:embed picks up, are not assets.
var contentTypes = map[string]string{
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".wasm": "application/wasm",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// encodings are the precompressed variants, in order of preference: brotli
// is about a quarter smaller than gzip on the WASM client.
var encodings = []struct{ coding, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// hashLen hex digits of sha256 name a version: a collision between two
// versions of one file is not a practical concern at 40 bits.
const hashLen = 10

// Assets serves the files of an fs.FS under Prefix, each both at its own
// name and at a content-hashed one (see URL) that can be cached forever.
type Assets struct {
	fsys  fs.FS
	files map[string]*asset // by request name, plain and hashed
}

type asset struct {
	url         string // the hashed one
	contentType string
	// cacheControl lets browsers keep a hashed name for good, as its content
	// never changes, and makes them revalidate a plain name, whose content
	// changes with the build.
	cacheControl string
	// variants are the encodings present, the preferred first and identity
	// last.
	variants []variant
}

type variant struct {
	coding string // "" for identity
	file   string // in fsys
	size   int64
	etag   string
}

// New hashes every asset in fsys. It fails if a file cannot be read or a
// precompressed variant is stale, so a binary built without
// `go tool task build` after an asset changed does not serve the old content
// to clients that accept compression.
func New(fsys fs.FS) (*Assets, error) {
	a := &Assets{fsys: fsys, files: map[string]*asset{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ext := path.Ext(name)
		ctype, ok := contentTypes[ext]
		if !ok {
			return nil
		}
		sum, size, err := hashFile(fsys, name)
		if err != nil {
			return err
		}
		hash := sum[:hashLen]
		hashed := strings.TrimSuffix(name, ext) + "." + hash + ext
		f := &asset{url: Prefix + hashed, contentType: ctype, cacheControl: "public, max-age=31536000, immutable"}
		for _, e := range encodings {
			fi, err := fs.Stat(fsys, name+e.ext)
			if err != nil {
				continue
			}
			if e.coding == "gzip" {
				if err := checkGzip(fsys, name+e.ext, sum); err != nil {
					return err
				}
			}
			// Each encoding is a representation of its own, with its own
			// validator.
			f.variants = append(f.variants, variant{e.coding, name + e.ext, fi.Size(), `"` + hash + "-" + e.coding + `"`})
		}
		f.variants = append(f.variants, variant{"", name, size, `"` + hash + `"`})
		a.files[hashed] = f
		plain := *f
		plain.cacheControl = "no-cache"
		a.files[name] = &plain
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static assets: %w", err)
	}
	return a, nil
}

// hashFile returns the hex sha256 and the size of a file.
func hashFile(fsys fs.FS, name string) (string, int64, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if _, ok := f.(io.ReadSeeker); !ok {
		// ServeHTTP hands files to http.ServeContent, which seeks.
		return "", 0, fmt.Errorf("%s: the file system's files cannot seek", name)
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// checkGzip reports a .gz that does not decompress to the content with hash
// sum. Only the gzip variant is checked, as the binary has no brotli
// decoder; cmd/precompress writes the .br first and the .gz last, so a
// matching .gz vouches for its .br.
func checkGzip(fsys fs.FS, name, sum string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, zr); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != sum {
		return fmt.Errorf("%s is stale: run `go tool task build` to recompress the assets", name)
	}
	return nil
}

// URL returns the content-hashed path of the asset name, such as
// /static/portico.3f9a1c0b2d.wasm, which changes whenever its content does.
// An unknown name gets its plain path, which answers 404, rather than a
// page that fails to render.
func (a *Assets) URL(name string) string {
	if f, ok := a.files[name]; ok {
		return f.url
	}
	return Prefix + name
}

// ServeHTTP answers GET and HEAD for paths under Prefix, in the most
// preferred encoding the client accepts. The .br and .gz files are not
// assets of their own: they are only served as encodings.
func (a *Assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	f := a.files[name]
	if !ok || f == nil {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" is not allowed", http.StatusMethodNotAllowed)
		return
	}
	accepts := acceptedCodings(r.Header.Get("Accept-Encoding"))
	var v variant
	for _, v = range f.variants {
		if v.coding == "" || accepts(v.coding) {
			break
		}
	}
	content, err := a.fsys.Open(v.file)
	if err != nil {
		http.Error(w, "the asset could not be read", http.StatusInternalServerError)
		return
	}
	defer content.Close()
	rs, ok := content.(io.ReadSeeker)
	if !ok {
		http.Error(w, "the asset could not be read", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", f.cacheControl)
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", v.etag)
	if v.coding != "" {
		h.Set("Content-Encoding", v.coding)
	}
	// ServeContent leaves Content-Length out when Content-Encoding is set,
	// in case the writer compresses on the fly; these bytes are final. It
	// replaces the length for a range and drops it from a 304 or an error.
	h.Set("Content-Length", strconv.FormatInt(v.size, 10))
	http.ServeContent(w, r, v.file, time.Time{}, rs)
}

// acceptedCodings parses an Accept-Encoding header into a test of whether
// a content coding is acceptable: listed, or covered by "*", with a q-value
// above zero.
func acceptedCodings(header string) func(coding string) bool {
	q := map[string]float64{}
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding == "" {
			continue
		}
		weight := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				w, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil {
					w = 0 // a malformed weight does not opt in
				}
				weight = w
			}
		}
		q[coding] = weight
	}
	return func(coding string) bool {
		if w, ok := q[coding]; ok {
			return w > 0
		}
		if coding == "gzip" {
			if w, ok := q["x-gzip"]; ok {
				return w > 0
			}
		}
		w, ok := q["*"]
		return ok && w > 0
	}
}
