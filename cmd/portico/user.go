package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/portico-db/portico/server/users"
)

const userUsage = `Usage: portico user add NAME [--role admin|basic] [--password PASSWORD] [--config FILE]
       portico user remove NAME [--config FILE]
       portico user list [--config FILE]

Manages the accounts of Portico's admin interface (REST API and dashboard).
They are kept with bcrypt hashes in DATADIR/passwd.json, DATADIR being the
datadir parameter of [maxscale] in the configuration. A running Portico
rereads the file when it changes, so changes apply at the next login.

An admin account may read and change everything; a basic account may only
read. When Portico starts with no accounts at all, it creates admin with
the password mariadb, as MaxScale does.

Run portico user COMMAND --help for the flags of each command.
`

// runUser is `portico user`.
func runUser(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return errors.New("user: missing command: add, remove or list")
	}
	switch args[0] {
	case "add":
		return userAdd(args[1:], stdin, stdout, stderr)
	case "remove":
		return userRemove(args[1:], stdout, stderr)
	case "list":
		return userList(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stderr, userUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, userUsage)
	return fmt.Errorf("user: unknown command %q: use add, remove or list", args[0])
}

// userFlags is a subcommand's flag set, with the --config flag they share.
func userFlags(name, synopsis, about string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet("portico user "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "`file` in maxscale.cnf format whose datadir holds the users file (default: the built-in configuration, as for portico)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico user %s %s\n\n%s\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs, cfgPath
}

// parseArgs parses flags given before, between or after the positional
// arguments, as `portico user add NAME --role admin` needs, and checks
// their number.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if len(positional) != want {
		fs.Usage()
		return nil, fmt.Errorf("%s: takes %d argument(s), got %d", fs.Name(), want, len(positional))
	}
	return positional, nil
}

func openUserStore(cfgPath string) (*users.Store, error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, err
	}
	path, err := usersFile(cfg)
	if err != nil {
		return nil, err
	}
	return users.Open(path, users.Options{})
}

func userAdd(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs, cfgPath := userFlags("add", "NAME [--role admin|basic] [--password PASSWORD] [--config FILE]",
		`Creates an account. Without --password, the password is read from standard
input: asked for twice on a terminal, otherwise taken from the first line,
which keeps it out of the process list and the shell history.
`, stderr)
	role := fs.String("role", string(users.RoleBasic), "`role` of the account: admin (read and write) or basic (read only)")
	password := fs.String("password", "", "the account's `password`; visible to other local users in the process list, prefer standard input")
	positional, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	name := positional[0]
	r, err := users.ParseRole(*role)
	if err != nil {
		return fmt.Errorf("--role: %w", err)
	}
	passwordSet := false
	fs.Visit(func(f *flag.Flag) { passwordSet = passwordSet || f.Name == "password" })
	pass := *password
	if !passwordSet {
		if pass, err = readPassword(name, stdin, stderr); err != nil {
			return err
		}
	}
	store, err := openUserStore(*cfgPath)
	if err != nil {
		return err
	}
	if err := store.Add(name, pass, r); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Added %s user %q to %s.\n", r, name, store.Path())
	if !slices.ContainsFunc(store.List(), func(u users.User) bool { return u.Role == users.RoleAdmin }) {
		fmt.Fprintf(stdout, "There is no admin account: nobody can change anything through the admin interface.\n")
	}
	return nil
}

// readPassword reads a password from stdin, without echo and twice when it
// is a terminal.
func readPassword(name string, stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Password for %s: ", name)
		first, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(stderr, "Again: ")
		second, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(first) != string(second) {
			return "", errors.New("the passwords differ")
		}
		return string(first), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on standard input: give one there or with --password")
	}
	return line, nil
}

func userRemove(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := userFlags("remove", "NAME [--config FILE]",
		`Deletes an account. The last admin account cannot be removed: add another
admin first. Tokens already issued to the account stop working at once.
`, stderr)
	positional, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	store, err := openUserStore(*cfgPath)
	if err != nil {
		return err
	}
	if err := store.Remove(positional[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Removed user %q from %s.\n", positional[0], store.Path())
	return nil
}

func userList(args []string, stdout, stderr io.Writer) error {
	fs, cfgPath := userFlags("list", "[--config FILE]", "Lists the accounts and their roles.\n", stderr)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	store, err := openUserStore(*cfgPath)
	if err != nil {
		return err
	}
	list := store.List()
	if len(list) == 0 {
		fmt.Fprintf(stdout, "No accounts in %s: Portico creates admin with the password mariadb when it starts.\n", store.Path())
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE")
	for _, u := range list {
		fmt.Fprintf(tw, "%s\t%s\n", u.Name, u.Role)
	}
	return tw.Flush()
}
