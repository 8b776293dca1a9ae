package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portico-db/portico/core/config"
)

func deleteSession(t *testing.T, a *app, id, query string) {
	t.Helper()
	if body := deleteSessionBody(t, a, id, query); len(body) > 0 {
		t.Fatalf("DELETE %s%s: body %s; want 200 with an empty body", id, query, body)
	}
}

// deleteSessionBody kills a session through the API and returns the 200
// response's body.
func deleteSessionBody(t *testing.T, a *app, id, query string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, "http://"+a.adminAddr.String()+sessionsPath+"/"+id+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", adminAuth())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("DELETE %s%s: %s: %s", id, query, resp.Status, body)
	}
	return body
}

// oneSession opens a single pinned connection and returns it with its
// session id.
func oneSession(t *testing.T, a *app) (*sql.Conn, string) {
	t.Helper()
	db := openDB(t, a.listenerAddr(), "maxpwd", nil)
	conn, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(t.Context(), "DO 1"); err != nil {
		t.Fatal(err)
	}
	list := waitAPI(t, a, time.Second, "one session", func(l []apiSession) bool { return len(l) == 1 })
	return conn, list[0].ID
}

func ping(conn *sql.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var one int
	return conn.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

func TestKillThroughTheAPI(t *testing.T) {
	t.Run("now", func(t *testing.T) {
		a := startApp(t)
		conn, id := oneSession(t, a)
		deleteSession(t, a, id, "")
		if err := ping(conn); err == nil {
			t.Fatal("the killed session's next query succeeded")
		}
		waitAPI(t, a, time.Second, "no sessions", func(l []apiSession) bool { return len(l) == 0 })
	})
	t.Run("without service credentials", func(t *testing.T) {
		a := startApp(t, func(c *config.Config) { c.Topology.Services[0].User, c.Topology.Services[0].Password = "", "" })
		conn, id := oneSession(t, a)
		var doc struct {
			Meta struct {
				Warnings []string `json:"warnings"`
			} `json:"meta"`
		}
		body := deleteSessionBody(t, a, id, "")
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if len(doc.Meta.Warnings) != 1 || !strings.Contains(doc.Meta.Warnings[0], "could not be killed") {
			t.Errorf("meta.warnings = %q, want one saying the backend thread could not be killed", doc.Meta.Warnings)
		}
		if err := ping(conn); err == nil {
			t.Fatal("the killed session's next query succeeded")
		}
	})
	t.Run("after ttl of idleness", func(t *testing.T) {
		a := startApp(t)
		conn, id := oneSession(t, a)
		// The ttl leaves room for a loaded machine between pings.
		deleteSession(t, a, id, "?ttl=2")
		// Activity keeps pushing the kill back.
		for range 12 {
			time.Sleep(250 * time.Millisecond)
			if err := ping(conn); err != nil {
				t.Fatalf("a busy session was killed before it was idle for the ttl: %v", err)
			}
		}
		waitAPI(t, a, 5*time.Second, "the idle session killed", func(l []apiSession) bool { return len(l) == 0 })
		if err := ping(conn); err == nil {
			t.Fatal("the killed session's next query succeeded")
		}
	})
}
