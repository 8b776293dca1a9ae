// Command precompress writes NAME.br and NAME.gz beside each compressible
// asset in a directory (static/ by default); `go tool task build` runs it
// after building the WASM client. It is separate from portico so that
// brotli's encoder stays out of the server binary.
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/portico-db/portico/cmd/precompress/compress"
)

func main() {
	dir := "static"
	switch len(os.Args) {
	case 1:
	case 2:
		dir = os.Args[1]
	default:
		fmt.Fprintln(os.Stderr, "usage: precompress [DIR]")
		os.Exit(2)
	}
	written, err := compress.Dir(dir)
	if err != nil {
		slog.Error("precompress failed", "dir", dir, "err", err)
		os.Exit(1)
	}
	// The sizes in the build log show the WASM client's growth as it happens,
	// before TestWASMBrotliBudget fails on it.
	for _, name := range written {
		if fi, err := os.Stat(name); err == nil {
			slog.Info("precompressed", "file", name, "bytes", fi.Size())
		}
	}
}
