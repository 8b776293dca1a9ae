package users_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/portico-db/portico/server/users"
)

// cheap keeps hashing fast under the race detector, where the default cost
// takes about a second per hash.
var cheap = users.Options{Cost: bcrypt.MinCost}

func open(t *testing.T, path string) *users.Store {
	t.Helper()
	s, err := users.Open(path, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tempPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "data", "passwd.json")
}

func TestParseRole(t *testing.T) {
	tests := []struct {
		in      string
		want    users.Role
		wantErr bool
	}{
		{"admin", users.RoleAdmin, false},
		{"basic", users.RoleBasic, false},
		{"Admin", "", true},
		{"", "", true},
		{"root", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := users.ParseRole(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseRole(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	s := open(t, tempPath(t))
	if err := s.Add("alice", "wonderland", users.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("bob", "builder", users.RoleBasic); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, pass string
		want             users.Role
		ok               bool
	}{
		{"admin", "alice", "wonderland", users.RoleAdmin, true},
		{"basic", "bob", "builder", users.RoleBasic, true},
		{"wrong password", "alice", "builder", "", false},
		{"empty password", "alice", "", "", false},
		{"unknown user", "carol", "wonderland", "", false},
		{"name is case sensitive", "Alice", "wonderland", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role, ok := s.Authenticate(tt.user, tt.pass)
			if role != tt.want || ok != tt.ok {
				t.Errorf("Authenticate(%q, %q) = %q, %v; want %q, %v", tt.user, tt.pass, role, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAddAndRemove(t *testing.T) {
	tests := []struct {
		name    string
		op      func(*users.Store) error
		wantErr error  // for errors.Is; nil with wantMsg empty means success
		wantMsg string // substring of the error
		want    []users.User
	}{
		{"add basic", func(s *users.Store) error { return s.Add("bob", "pw", users.RoleBasic) }, nil, "",
			[]users.User{{"admin", users.RoleAdmin}, {"bob", users.RoleBasic}}},
		{"add second admin", func(s *users.Store) error { return s.Add("alice", "pw", users.RoleAdmin) }, nil, "",
			[]users.User{{"admin", users.RoleAdmin}, {"alice", users.RoleAdmin}}},
		{"add existing", func(s *users.Store) error { return s.Add("admin", "pw", users.RoleBasic) }, users.ErrExists, "", nil},
		{"add empty name", func(s *users.Store) error { return s.Add("", "pw", users.RoleBasic) }, nil, "user name is empty", nil},
		{"add name with colon", func(s *users.Store) error { return s.Add("a:b", "pw", users.RoleBasic) }, nil, "contains ':'", nil},
		{"add name with space", func(s *users.Store) error { return s.Add("a b", "pw", users.RoleBasic) }, nil, "white space", nil},
		{"add empty password", func(s *users.Store) error { return s.Add("bob", "", users.RoleBasic) }, nil, "password is empty", nil},
		{"add password over 72 bytes", func(s *users.Store) error { return s.Add("bob", strings.Repeat("x", 73), users.RoleBasic) }, bcrypt.ErrPasswordTooLong, "", nil},
		{"add unknown role", func(s *users.Store) error { return s.Add("bob", "pw", "root") }, nil, `unknown role "root"`, nil},
		{"remove unknown", func(s *users.Store) error { return s.Remove("nobody") }, users.ErrNotFound, "", nil},
		{"remove last admin", func(s *users.Store) error { return s.Remove("admin") }, users.ErrLastAdmin, "", nil},
		{"remove basic", func(s *users.Store) error {
			if err := s.Add("bob", "pw", users.RoleBasic); err != nil {
				return err
			}
			return s.Remove("bob")
		}, nil, "", []users.User{{"admin", users.RoleAdmin}}},
		{"remove admin when another remains", func(s *users.Store) error {
			if err := s.Add("alice", "pw", users.RoleAdmin); err != nil {
				return err
			}
			return s.Remove("admin")
		}, nil, "", []users.User{{"alice", users.RoleAdmin}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			s := open(t, path)
			if _, err := s.InitDefault("admin", "mariadb"); err != nil {
				t.Fatal(err)
			}
			before := s.List()
			err := tt.op(s)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantMsg != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantMsg)
				}
			case err != nil:
				t.Fatal(err)
			}
			want := tt.want
			if want == nil {
				want = before // a failed change leaves everything as it was
			}
			if got := s.List(); !slices.Equal(got, want) {
				t.Errorf("List() = %v, want %v", got, want)
			}
			// What was written is what another process reads.
			if got := open(t, path).List(); !slices.Equal(got, want) {
				t.Errorf("reopened List() = %v, want %v", got, want)
			}
		})
	}
}

func TestInitDefault(t *testing.T) {
	tests := []struct {
		name        string
		setup       func(*users.Store) error
		wantCreated bool
		want        []users.User
	}{
		{"empty store", func(*users.Store) error { return nil }, true, []users.User{{"admin", users.RoleAdmin}}},
		{"existing admin", func(s *users.Store) error { return s.Add("alice", "pw", users.RoleAdmin) }, false,
			[]users.User{{"alice", users.RoleAdmin}}},
		// Only basic users is a choice the operator made: no admin appears.
		{"only basic users", func(s *users.Store) error { return s.Add("bob", "pw", users.RoleBasic) }, false,
			[]users.User{{"bob", users.RoleBasic}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t, tempPath(t))
			if err := tt.setup(s); err != nil {
				t.Fatal(err)
			}
			created, err := s.InitDefault("admin", "mariadb")
			if err != nil {
				t.Fatal(err)
			}
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if got := s.List(); !slices.Equal(got, tt.want) {
				t.Errorf("List() = %v, want %v", got, tt.want)
			}
			if tt.wantCreated {
				if role, ok := s.Authenticate("admin", "mariadb"); !ok || role != users.RoleAdmin {
					t.Errorf("default login = %q, %v", role, ok)
				}
			}
		})
	}
}

func TestFileIsPrivateAndHashed(t *testing.T) {
	path := tempPath(t)
	s := open(t, path)
	if err := s.Add("alice", "wonderland", users.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("file mode = %v, want 0600", perm)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode = %v (%v), want 0700", di.Mode().Perm(), err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "wonderland") {
		t.Errorf("the file holds the password in clear:\n%s", data)
	}
	if !strings.Contains(string(data), `"hash": "$2a$`) {
		t.Errorf("the file holds no bcrypt hash:\n%s", data)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the users file (no temporary files left)", len(entries))
	}
}

// TestReload checks that a running server sees changes made by the
// `portico user` subcommands, which use their own Store on the same file.
func TestReload(t *testing.T) {
	path := tempPath(t)
	server := open(t, path)
	if _, err := server.InitDefault("admin", "mariadb"); err != nil {
		t.Fatal(err)
	}
	cli := open(t, path)
	steps := []struct {
		name  string
		op    func() error
		user  string
		pass  string
		want  users.Role
		exist bool
	}{
		{"added elsewhere", func() error { return cli.Add("bob", "builder", users.RoleBasic) }, "bob", "builder", users.RoleBasic, true},
		{"removed elsewhere", func() error { return cli.Remove("bob") }, "bob", "builder", "", false},
		{"file deleted", func() error { return os.Remove(path) }, "admin", "mariadb", "", false},
		{"file recreated", func() error { return cli.Add("carol", "singer", users.RoleAdmin) }, "carol", "singer", users.RoleAdmin, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.op(); err != nil {
				t.Fatal(err)
			}
			role, ok := server.Authenticate(st.user, st.pass)
			if ok != st.exist || role != st.want {
				t.Errorf("Authenticate = %q, %v; want %q, %v", role, ok, st.want, st.exist)
			}
			if role, ok := server.Role(st.user); ok != st.exist || role != st.want {
				t.Errorf("Role = %q, %v; want %q, %v", role, ok, st.want, st.exist)
			}
		})
	}
}

// TestReloadKeepsAccountsOnBadFile checks that a broken edit by hand does not
// lock everybody out of a running server, and that writers refuse to
// overwrite it.
func TestReloadKeepsAccountsOnBadFile(t *testing.T) {
	path := tempPath(t)
	s := open(t, path)
	if _, err := s.InitDefault("admin", "mariadb"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Make sure the change is visible even on file systems with coarse
	// timestamps: the size differs anyway, this just documents intent.
	_ = os.Chtimes(path, time.Now().Add(time.Second), time.Now().Add(time.Second))
	if _, ok := s.Authenticate("admin", "mariadb"); !ok {
		t.Error("admin was locked out by a broken users file")
	}
	err := s.Add("bob", "pw", users.RoleBasic)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Add over a broken file: err = %v, want one naming %s", err, path)
	}
	if data, _ := os.ReadFile(path); string(data) != "{not json" {
		t.Errorf("the broken file was overwritten: %s", data)
	}
}

func TestOpenBadFile(t *testing.T) {
	const hash = "$2a$04$Kmgp2mhtZ0t3Jx6QFc9t6OTbqZr2bRGrL8P7zR2iAX0Kc1pO2dGmS"
	tests := []struct {
		name, content, want string
	}{
		{"not json", "{", "invalid JSON"},
		{"unknown field", `{"users":[],"extra":1}`, "invalid JSON"},
		{"empty name", `{"users":[{"name":"","role":"admin","hash":"` + hash + `"}]}`, "entry 1: user name is empty"},
		{"duplicate", `{"users":[{"name":"a","role":"admin","hash":"` + hash + `"},{"name":"a","role":"basic","hash":"` + hash + `"}]}`, `user "a" is listed twice`},
		{"unknown role", `{"users":[{"name":"a","role":"root","hash":"` + hash + `"}]}`, `user "a": unknown role "root"`},
		{"clear-text password", `{"users":[{"name":"a","role":"admin","hash":"mariadb"}]}`, `user "a": hash is not bcrypt`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "passwd.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := users.Open(path, cheap)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %s and containing %q", err, path, tt.want)
			}
		})
	}
}

func TestOpenUnreadable(t *testing.T) {
	// A directory where the file should be cannot be read as one.
	path := t.TempDir()
	if _, err := users.Open(path, cheap); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
}

func TestConcurrentUse(t *testing.T) {
	s := open(t, tempPath(t))
	if _, err := s.InitDefault("admin", "mariadb"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		name := string(rune('a' + i))
		wg.Go(func() {
			if err := s.Add(name, "pw", users.RoleBasic); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, ok := s.Authenticate("admin", "mariadb"); !ok {
				t.Error("admin login failed during concurrent changes")
			}
			s.List()
		})
	}
	wg.Wait()
	if n := len(s.List()); n != 5 {
		t.Errorf("%d users, want 5", n)
	}
}
