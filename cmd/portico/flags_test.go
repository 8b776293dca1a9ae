package main

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

// flagCase is a command line a subcommand must refuse: help says whether
// the error is flag.ErrHelp, and want are texts found in stderr or in the
// error.
type flagCase struct {
	name string
	args []string
	help bool
	want []string
}

// testFlagErrors runs each case as `portico command --config C args...`.
func testFlagErrors(t *testing.T, command string, tests []flagCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{command, "--config", writeConfig(t, testDataDir(t))}, tt.args...)
			stdout, stderr, err := runCLI(t, "", args...)
			if got := errors.Is(err, flag.ErrHelp); got != tt.help || err == nil {
				t.Fatalf("err = %v, want an error (help: %v)", err, tt.help)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr+err.Error(), w) {
					t.Errorf("%q is neither in stderr nor in the error %q:\n%s", w, err, stderr)
				}
			}
		})
	}
}
