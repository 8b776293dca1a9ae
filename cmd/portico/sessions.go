package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/portico-db/portico/core/config"
	"github.com/portico-db/portico/server/sessionwatch"
)

// runSessions is `portico sessions`: the sessions of a running Portico as a
// table, once or (--watch) kept live from the session stream.
func runSessions(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portico sessions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("url", "http://127.0.0.1:8989", "`address` of Portico's admin interface")
	user := fs.String("user", config.DefaultAdminUser, "admin `user`")
	password := fs.String("password", "", "admin `password` (default $PORTICO_PASSWORD, else MaxScale's default)")
	token := fs.String("token", "", "a `JWT` from /v1/auth, instead of user and password")
	filter := fs.String("filter", "", "a REST API `filter`, such as /attributes/user=\"app\"")
	interval := fs.Duration("interval", 0, "coalescing `interval` of the stream, 50ms to 10s (default the server's)")
	watch := fs.Bool("watch", false, "keep the table on screen, updated live")
	limit := fs.Int("limit", 0, "show at most `n` sessions (default: all, or what fits the terminal's $LINES with --watch)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: portico sessions [--watch] [flags]\n\nPrints the sessions of a running Portico, from its session stream.\nWith --watch the table stays on screen and follows every change.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	header := http.Header{}
	if *token != "" {
		header.Set("Authorization", "Bearer "+*token)
	} else {
		pass := *password
		if pass == "" {
			pass = os.Getenv("PORTICO_PASSWORD")
		}
		if pass == "" {
			pass = config.DefaultAdminPasswd
		}
		r := &http.Request{Header: header}
		r.SetBasicAuth(*user, pass)
	}
	query := url.Values{}
	if *filter != "" {
		query.Set("filter", *filter)
	}
	if *interval != 0 {
		query.Set("interval", strconv.FormatInt(interval.Milliseconds(), 10))
	}
	w := sessionwatch.New(sessionwatch.Config{URL: *addr, Header: header, Query: query})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(ctx) }()

	if !*watch {
		// Print the first complete snapshot.
		deadline := time.After(10 * time.Second)
		for {
			if v := w.View(); v.Status == sessionwatch.Live {
				printSessions(stdout, v, time.Now(), *limit)
				return nil
			}
			select {
			case <-w.Updated():
			case err := <-runErr:
				return sessionsError(err)
			case <-deadline:
				return fmt.Errorf("no answer from %s within 10s", *addr)
			}
		}
	}

	rows := *limit
	if rows <= 0 {
		rows = 40
		if n, err := strconv.Atoi(os.Getenv("LINES")); err == nil && n > 4 {
			rows = n - 3
		}
	}
	// Redraw on changes, at most four times a second, and every second so
	// that idle times tick.
	const minRedraw = 250 * time.Millisecond
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last time.Time
	pending := true
	for {
		if pending && time.Since(last) >= minRedraw {
			var b strings.Builder
			b.WriteString("\x1b[H\x1b[2J") // home, clear screen
			v := w.View()
			fmt.Fprintf(&b, "Portico %s: %d sessions, %s, rev %d, %s\n\n", *addr, len(v.Sessions), v.Status, v.Rev, time.Now().Format(time.TimeOnly))
			printSessions(&b, v, time.Now(), rows)
			_, _ = io.WriteString(stdout, b.String())
			last, pending = time.Now(), false
		}
		wait := time.Until(last.Add(minRedraw))
		var redraw <-chan time.Time
		if pending {
			redraw = time.After(wait)
		}
		select {
		case <-w.Updated():
			pending = true
		case <-tick.C:
			pending = true
		case <-redraw:
		case err := <-runErr:
			return sessionsError(err)
		case <-ctx.Done():
			return nil
		}
	}
}

func sessionsError(err error) error {
	var perm *sessionwatch.PermanentError
	if errors.As(err, &perm) && perm.Status == http.StatusUnauthorized {
		return fmt.Errorf("%w (check --user and --password, or $PORTICO_PASSWORD)", err)
	}
	return err
}

// printSessions writes the table, at most limit rows (0 for all).
func printSessions(w io.Writer, v sessionwatch.View, now time.Time, limit int) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tUSER\tREMOTE\tSERVICE\tSTATE\tCONNECTED\tIDLE")
	list := v.Sessions
	if limit > 0 && len(list) > limit {
		list = list[:limit]
	}
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.1f\n", s.ID, s.String("user"), s.String("remote"), s.Service(),
			s.String("state"), s.String("connected"), v.Idle(s, now).Seconds())
	}
	_ = tw.Flush()
	if hidden := len(v.Sessions) - len(list); hidden > 0 {
		fmt.Fprintf(w, "... and %d more\n", hidden)
	}
}
