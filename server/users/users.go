// Package users keeps the accounts of Portico's admin interface: who may use
// the REST API and the dashboard, and whether they may change anything. The
// accounts live in one JSON file of bcrypt hashes that the `portico user`
// subcommands edit; a running Portico rereads the file when it changes, so
// an account added from the command line works at its next login.
package users

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// Role is what an account may do. The names are MaxScale's account types.
type Role string

const (
	// RoleAdmin may read and change everything.
	RoleAdmin Role = "admin"
	// RoleBasic may only read.
	RoleBasic Role = "basic"
)

// ParseRole accepts the role names of MaxCtrl's --type option.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleAdmin, RoleBasic:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: use admin or basic", s)
}

// CanWrite reports whether r may change state.
func (r Role) CanWrite() bool { return r == RoleAdmin }

// User is an account as listed: never its hash.
type User struct {
	Name string
	Role Role
}

// Errors of Add and Remove, for errors.Is.
var (
	ErrExists    = errors.New("user already exists")
	ErrNotFound  = errors.New("user does not exist")
	ErrLastAdmin = errors.New("it is the last admin user")
)

// Options tunes a Store. The zero value is right outside tests.
type Options struct {
	// Cost is the bcrypt cost of new hashes; 0 means bcrypt.DefaultCost.
	// Existing hashes keep the cost they were made with.
	Cost int
	// Logger receives problems found when the file is reread; nil discards
	// them.
	Logger *slog.Logger
}

type account struct {
	role Role
	hash []byte
}

// Store is a users file. It is safe for concurrent use, and it notices when
// another process (the `portico user` subcommands) replaces the file.
// Writers in different processes are not serialised against each other: the
// last one to rename its file wins.
type Store struct {
	path string
	cost int
	log  *slog.Logger

	mu       sync.RWMutex
	accounts map[string]account
	// loaded identifies the file version accounts came from (nil: there was
	// no file), so that a changed file is reread.
	loaded os.FileInfo
	// broken is the file version that last failed to load, so that its
	// error is logged once and not on every login.
	broken os.FileInfo

	dummyOnce sync.Once
	dummy     []byte
}

// Open loads the users file at path. A missing file is an empty store; it is
// created, with its directory, on the first change.
func Open(path string, opts Options) (*Store, error) {
	cost := opts.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{path: path, cost: cost, log: logger}
	accounts, fi, err := s.read()
	if err != nil {
		return nil, err
	}
	s.accounts, s.loaded = accounts, fi
	if fi != nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("the users file is readable by other local users; run chmod 600 on it", "file", path, "mode", fi.Mode().Perm().String())
	}
	return s, nil
}

// Path is the users file's location.
func (s *Store) Path() string { return s.path }

type fileDoc struct {
	Users []fileUser `json:"users"`
}

type fileUser struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	Hash string `json:"hash"`
}

// read parses the file; fi is nil when there is none.
func (s *Store) read() (map[string]account, os.FileInfo, error) {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]account{}, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("users file: %w", err)
	}
	var doc fileDoc
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, fmt.Errorf("users file %s: invalid JSON: %w", s.path, err)
	}
	accounts := make(map[string]account, len(doc.Users))
	for i, u := range doc.Users {
		if err := validName(u.Name); err != nil {
			return nil, nil, fmt.Errorf("users file %s: entry %d: %w", s.path, i+1, err)
		}
		if _, dup := accounts[u.Name]; dup {
			return nil, nil, fmt.Errorf("users file %s: user %q is listed twice", s.path, u.Name)
		}
		if _, err := ParseRole(string(u.Role)); err != nil {
			return nil, nil, fmt.Errorf("users file %s: user %q: %w", s.path, u.Name, err)
		}
		if _, err := bcrypt.Cost([]byte(u.Hash)); err != nil {
			return nil, nil, fmt.Errorf("users file %s: user %q: hash is not bcrypt: %w", s.path, u.Name, err)
		}
		accounts[u.Name] = account{role: u.Role, hash: []byte(u.Hash)}
	}
	return accounts, fi, nil
}

func sameVersion(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}

// refresh rereads the file if it changed since it was loaded. A file that
// fails to load leaves the previous accounts in force: a typo made by hand
// should not lock every administrator out.
func (s *Store) refresh() {
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		fi, err = nil, nil
	}
	if err != nil {
		s.log.Error("cannot check the users file", "err", err)
		return
	}
	s.mu.RLock()
	current := sameVersion(fi, s.loaded) || (fi != nil && sameVersion(fi, s.broken))
	s.mu.RUnlock()
	if current {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloadLocked()
}

func (s *Store) reloadLocked() {
	accounts, fi, err := s.read()
	if err != nil {
		s.broken, _ = os.Stat(s.path)
		s.log.Error("keeping the previous admin users", "err", err)
		return
	}
	s.accounts, s.loaded, s.broken = accounts, fi, nil
}

// Authenticate checks a password and returns the account's role.
func (s *Store) Authenticate(name, password string) (Role, bool) {
	s.refresh()
	s.mu.RLock()
	a, ok := s.accounts[name]
	s.mu.RUnlock()
	hash := a.hash
	if !ok {
		// Hash anyway so that timing does not tell which names exist.
		hash = s.dummyHash()
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !ok || err != nil {
		return "", false
	}
	return a.role, true
}

func (s *Store) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte("no such user"), s.cost)
	})
	return s.dummy
}

// Role returns the role of an existing account.
func (s *Store) Role(name string) (Role, bool) {
	s.refresh()
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.accounts[name]
	return a.role, ok
}

// List returns the accounts sorted by name.
func (s *Store) List() []User {
	s.refresh()
	s.mu.RLock()
	defer s.mu.RUnlock()
	list := make([]User, 0, len(s.accounts))
	for name, a := range s.accounts {
		list = append(list, User{Name: name, Role: a.role})
	}
	slices.SortFunc(list, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// validName refuses names that could never log in: Basic credentials end
// the user name at the first colon.
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("user name is empty")
	case len(name) > 255:
		return errors.New("user name is longer than 255 bytes")
	case strings.Contains(name, ":"):
		return fmt.Errorf("user name %q contains ':', which Basic authentication cannot carry", name)
	case strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("user name %q contains white space or control characters", name)
	}
	return nil
}

// Add creates an account.
func (s *Store) Add(name, password string, role Role) error {
	if err := validName(name); err != nil {
		return fmt.Errorf("add user: %w", err)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return fmt.Errorf("add user %q: %w", name, err)
	}
	if password == "" {
		return fmt.Errorf("add user %q: the password is empty", name)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return fmt.Errorf("add user %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Start from the file as it is now, not as it was at Open, so that a
	// change made meanwhile by another process is kept.
	s.reloadLocked()
	if s.broken != nil {
		return fmt.Errorf("add user %q: the users file %s does not load; fix or remove it first", name, s.path)
	}
	if _, ok := s.accounts[name]; ok {
		return fmt.Errorf("add user %q: %w", name, ErrExists)
	}
	next := maps.Clone(s.accounts)
	next[name] = account{role: role, hash: hash}
	return s.commitLocked(next)
}

// Remove deletes an account. The last admin account cannot be removed, as
// nobody could change anything any more.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloadLocked()
	if s.broken != nil {
		return fmt.Errorf("remove user %q: the users file %s does not load; fix or remove it first", name, s.path)
	}
	a, ok := s.accounts[name]
	if !ok {
		return fmt.Errorf("remove user %q: %w", name, ErrNotFound)
	}
	if a.role == RoleAdmin {
		admins := 0
		for _, other := range s.accounts {
			if other.role == RoleAdmin {
				admins++
			}
		}
		if admins == 1 {
			return fmt.Errorf("remove user %q: %w", name, ErrLastAdmin)
		}
	}
	next := maps.Clone(s.accounts)
	delete(next, name)
	return s.commitLocked(next)
}

// InitDefault creates an admin account with the given password when there
// are no accounts at all, and reports whether it did.
func (s *Store) InitDefault(name, password string) (bool, error) {
	s.refresh()
	s.mu.RLock()
	empty := len(s.accounts) == 0 && s.broken == nil
	s.mu.RUnlock()
	if !empty {
		return false, nil
	}
	if err := s.Add(name, password, RoleAdmin); err != nil {
		if errors.Is(err, ErrExists) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (s *Store) commitLocked(accounts map[string]account) error {
	doc := fileDoc{Users: make([]fileUser, 0, len(accounts))}
	for name, a := range accounts {
		doc.Users = append(doc.Users, fileUser{Name: name, Role: a.role, Hash: string(a.hash)})
	}
	slices.SortFunc(doc.Users, func(a, b fileUser) int { return strings.Compare(a.Name, b.Name) })
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "    ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	if err := writeAtomic(s.path, buf.Bytes()); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	s.accounts, s.loaded, s.broken = accounts, fi, nil
	return nil
}

// writeAtomic replaces path with data so that a reader, or a crash, sees the
// old file or the new one and never a mix. CreateTemp makes the file 0600.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("users file: %w", err)
	}
	// Make the rename itself durable; not every file system supports it.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
