package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/portico-db/portico/server/users"
)

// writeConfig writes a configuration whose datadir is dataDir.
func writeConfig(t *testing.T, dataDir string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "portico.cnf")
	content := "[maxscale]\ndatadir=" + dataDir + "\n" +
		"[db]\ntype=server\naddress=127.0.0.1\n" +
		"[svc]\ntype=service\nrouter=readconnroute\nservers=db\n" +
		"[l]\ntype=listener\nservice=svc\nport=4006\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func user(name string, role users.Role) users.User { return users.User{Name: name, Role: role} }

// runCLI runs portico with args and stdin.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// seedUsers writes a users file holding admin and a basic account, hashed
// cheaply.
func seedUsers(t *testing.T, dataDir string) {
	t.Helper()
	store, err := users.Open(filepath.Join(dataDir, "passwd.json"), users.Options{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name string
		role users.Role
	}{{"admin", users.RoleAdmin}, {"viewer", users.RoleBasic}} {
		if err := store.Add(u.name, "pw", u.role); err != nil {
			t.Fatal(err)
		}
	}
}

func TestUserCommands(t *testing.T) {
	seeded := []users.User{user("admin", users.RoleAdmin), user("viewer", users.RoleBasic)}
	tests := []struct {
		name    string
		args    []string // after "user"; --config is appended
		stdin   string
		empty   bool // start without a users file
		wantOut []string
		wantErr string
		want    []users.User // the file afterwards; nil: unchanged
		login   [2]string    // a login that must then work
	}{
		{name: "add admin with --password", args: []string{"add", "alice", "--role", "admin", "--password", "wonderland"},
			wantOut: []string{`Added admin user "alice" to `, "passwd.json"},
			want:    []users.User{user("admin", users.RoleAdmin), user("alice", users.RoleAdmin), user("viewer", users.RoleBasic)},
			login:   [2]string{"alice", "wonderland"}},
		{name: "add reads the password from stdin", args: []string{"add", "bob"}, stdin: "builder\nignored\n",
			wantOut: []string{`Added basic user "bob"`},
			want:    []users.User{user("admin", users.RoleAdmin), user("bob", users.RoleBasic), user("viewer", users.RoleBasic)},
			login:   [2]string{"bob", "builder"}},
		{name: "add takes a CRLF line without its end", args: []string{"add", "bob"}, stdin: "builder\r\n",
			want:  []users.User{user("admin", users.RoleAdmin), user("bob", users.RoleBasic), user("viewer", users.RoleBasic)},
			login: [2]string{"bob", "builder"}},
		{name: "add takes stdin without a newline", args: []string{"add", "bob"}, stdin: "builder",
			want:  []users.User{user("admin", users.RoleAdmin), user("bob", users.RoleBasic), user("viewer", users.RoleBasic)},
			login: [2]string{"bob", "builder"}},
		{name: "add with flags first", args: []string{"add", "--role=admin", "--password=x", "carol"},
			want: []users.User{user("admin", users.RoleAdmin), user("carol", users.RoleAdmin), user("viewer", users.RoleBasic)}},
		{name: "add to an empty datadir", args: []string{"add", "dave", "--role", "admin", "--password", "x"}, empty: true,
			want: []users.User{user("dave", users.RoleAdmin)}},
		{name: "add only a basic account", args: []string{"add", "erin", "--password", "x"}, empty: true,
			wantOut: []string{"There is no admin account"},
			want:    []users.User{user("erin", users.RoleBasic)}},
		{name: "add existing", args: []string{"add", "viewer", "--password", "x"}, wantErr: `add user "viewer": user already exists`},
		{name: "add unknown role", args: []string{"add", "x", "--role", "root", "--password", "x"}, wantErr: `--role: unknown role "root"`},
		{name: "add without a name", args: []string{"add", "--password", "x"}, wantErr: "takes 1 argument(s), got 0"},
		{name: "add two names", args: []string{"add", "a", "b", "--password", "x"}, wantErr: "takes 1 argument(s), got 2"},
		{name: "add with an empty --password", args: []string{"add", "x", "--password="}, wantErr: "the password is empty"},
		{name: "add without any password", args: []string{"add", "x"}, wantErr: "no password on standard input"},
		{name: "add a name that cannot log in", args: []string{"add", "a:b", "--password", "x"}, wantErr: "contains ':'"},
		{name: "remove", args: []string{"remove", "viewer"},
			wantOut: []string{`Removed user "viewer" from `},
			want:    []users.User{user("admin", users.RoleAdmin)}},
		{name: "remove unknown", args: []string{"remove", "nobody"}, wantErr: `remove user "nobody": user does not exist`},
		{name: "remove the last admin", args: []string{"remove", "admin"}, wantErr: "it is the last admin user"},
		{name: "remove without a name", args: []string{"remove"}, wantErr: "takes 1 argument(s), got 0"},
		{name: "list", args: []string{"list"}, wantOut: []string{"NAME    ROLE\nadmin   admin\nviewer  basic\n"}},
		{name: "list empty", args: []string{"list"}, empty: true, wantOut: []string{"No accounts in "}},
		{name: "list takes no argument", args: []string{"list", "x"}, wantErr: "takes 0 argument(s), got 1"},
		{name: "no command", args: []string{}, wantErr: "missing command"},
		{name: "unknown command", args: []string{"rename", "x"}, wantErr: `unknown command "rename"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each add hashes at the default cost: slow under -race
			dataDir := filepath.Join(t.TempDir(), "data")
			if !tt.empty {
				seedUsers(t, dataDir)
			}
			args := append([]string{"user"}, tt.args...)
			if len(tt.args) > 0 && tt.args[0] != "rename" {
				args = append(args, "--config", writeConfig(t, dataDir))
			}
			stdout, stderr, err := runCLI(t, tt.stdin, args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q\nstderr:\n%s", err, tt.wantErr, stderr)
				}
			} else if err != nil {
				t.Fatalf("err = %v\nstderr:\n%s", err, stderr)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			store, err := users.Open(filepath.Join(dataDir, "passwd.json"), users.Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == nil && !tt.empty {
				want = seeded
			}
			if got := store.List(); !slices.Equal(got, want) && (len(got) != 0 || len(want) != 0) {
				t.Errorf("users file holds %v, want %v", got, want)
			}
			if tt.login[0] != "" {
				if _, ok := store.Authenticate(tt.login[0], tt.login[1]); !ok {
					t.Errorf("login %s / %s fails", tt.login[0], tt.login[1])
				}
			}
		})
	}
}

// TestUserHelp checks that every command explains itself in full.
func TestUserHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"portico", []string{"--help"}, []string{"portico user add|remove|list", "-config file", "-log-level level"}},
		{"user", []string{"user", "--help"}, []string{
			"portico user add NAME [--role admin|basic] [--password PASSWORD] [--config FILE]",
			"portico user remove NAME", "portico user list", "DATADIR/passwd.json", "admin with\nthe password mariadb",
		}},
		{"add", []string{"user", "add", "--help"}, []string{
			"Usage: portico user add NAME", "standard\ninput", "-role role", "admin (read and write) or basic (read only)",
			`(default "basic")`, "-password password", "process list", "-config file",
		}},
		{"add with a name", []string{"user", "add", "bob", "-h"}, []string{"Usage: portico user add NAME"}},
		{"remove", []string{"user", "remove", "--help"}, []string{"Usage: portico user remove NAME", "last admin", "-config file"}},
		{"list", []string{"user", "list", "--help"}, []string{"Usage: portico user list", "-config file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := runCLI(t, "", tt.args...)
			if !errors.Is(err, flag.ErrHelp) {
				t.Errorf("err = %v, want flag.ErrHelp", err)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("help lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestUserBadConfig(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"missing file", "", "no such file"},
		{"bad datadir line", "[maxscale]\ndatadir=\n", "portico.cnf:2: datadir is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "portico.cnf")
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := runCLI(t, "", "user", "list", "--config", path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestUserBadUsersFile checks that a broken users file is reported by name
// and left alone.
func TestUserBadUsersFile(t *testing.T) {
	dataDir := t.TempDir()
	file := filepath.Join(dataDir, "passwd.json")
	if err := os.WriteFile(file, []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dataDir)
	for _, args := range [][]string{{"list"}, {"add", "x", "--password", "x"}, {"remove", "x"}} {
		t.Run(args[0], func(t *testing.T) {
			_, _, err := runCLI(t, "", append(append([]string{"user"}, args...), "--config", cfg)...)
			if err == nil || !strings.Contains(err.Error(), file) {
				t.Fatalf("err = %v, want one naming %s", err, file)
			}
		})
	}
	if data, _ := os.ReadFile(file); string(data) != "{broken" {
		t.Errorf("the broken file was changed: %s", data)
	}
}
