// Package static holds the dashboard's public assets: the stylesheet, the
// WASM client and the loader that starts it. The build writes portico.wasm
// and wasm_exec.js here before compiling the binary.
package static

import "embed"

// FS holds every asset in this directory. A bare "*" keeps go vet and go test
// working before the WASM client has been built.
//
//go:embed *
var FS embed.FS
