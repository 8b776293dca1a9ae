package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSessionsCommand runs `portico sessions` against a whole Portico with a
// real client session through it.
func TestSessionsCommand(t *testing.T) {
	a := startApp(t)
	db := openDB(t, a.listenerAddr(), "maxpwd", nil)
	db.SetMaxIdleConns(0) // a closed Conn ends its session
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	url := "http://" + a.adminAddr.String()

	t.Run("once", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if err := run(t.Context(), []string{"sessions", "--url", url}, nil, &out, &errOut); err != nil {
			t.Fatalf("%v: %s", err, errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "maxuser") ||
			!strings.Contains(lines[1], testService) || !strings.Contains(lines[1], "Session ready for routing") {
			t.Fatalf("output:\n%s\nwant a header and one row for maxuser", out.String())
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), []string{"sessions", "--url", url, "--password", "wrong"}, nil, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err = %v, want a 401 refusal", err)
		}
	})
	t.Run("watch", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		var out, errOut syncBuffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"sessions", "--url", url, "--watch", "--interval", "50ms"}, nil, &out, &errOut)
		}()
		waitOutput := func(what string, ok func(screen string) bool) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for {
				screens := strings.Split(out.String(), "\x1b[H\x1b[2J")
				if last := screens[len(screens)-1]; ok(last) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("no screen with %s; output:\n%q", what, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitOutput("one session", func(s string) bool { return strings.Contains(s, ": 1 sessions, live") })
		second, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		waitOutput("the second session", func(s string) bool { return strings.Contains(s, ": 2 sessions, live") })
		second.Close()
		waitOutput("the second session gone", func(s string) bool { return strings.Contains(s, ": 1 sessions, live") })
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("watch ended with %v: %s", err, errOut.String())
		}
	})
}
