//go:build !js

package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLeanDependencies keeps the packages that would each add hundreds of
// kilobytes out of the WASM client: it must talk to the browser through
// syscall/js alone. (TestWASMBrotliBudget in package static checks the
// size that results.)
func TestLeanDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "syscall/js") {
		t.Fatalf("go list found no syscall/js among %v", deps)
	}
	for _, banned := range []string{"net/http", "fmt", "encoding/json", "html/template", "text/template", "net/url", "maragu.dev/gomponents", "github.com/a-h/templ"} {
		if slices.Contains(deps, banned) {
			t.Errorf("the WASM client links %s", banned)
		}
	}
}
