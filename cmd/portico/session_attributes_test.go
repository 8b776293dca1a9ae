package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/portico-db/portico/core/config"
)

// fullSession is a session resource with every attribute Portico fills.
type fullSession struct {
	ID         string `json:"id"`
	Attributes struct {
		State        string  `json:"state"`
		User         string  `json:"user"`
		Remote       string  `json:"remote"`
		Port         int     `json:"port"`
		Database     *string `json:"database"`
		Idle         float64 `json:"idle"`
		SecondsAlive float64 `json:"seconds_alive"`
		IOActivity   int     `json:"io_activity"`
		Connections  []struct {
			Server       string `json:"server"`
			ConnectionID uint32 `json:"connection_id"`
		} `json:"connections"`
		Client struct {
			ConnectionAttributes map[string]string `json:"connection_attributes"`
		} `json:"client"`
		Queries []struct {
			Command   string `json:"command"`
			Statement string `json:"statement"`
			Received  string `json:"received"`
			Completed string `json:"completed"`
			Responses []struct {
				Server   string `json:"server"`
				Duration int64  `json:"duration"`
			} `json:"responses"`
		} `json:"queries"`
		Log    []string `json:"log"`
		Memory struct {
			ClientBuffer  int `json:"client_buffer"`
			BackendBuffer int `json:"backend_buffer"`
			Capture       int `json:"capture"`
			Statements    int `json:"statements"`
			Total         int `json:"total"`
		} `json:"memory"`
		BytesIn      uint64 `json:"bytes_in"`
		BytesOut     uint64 `json:"bytes_out"`
		PacketsIn    uint64 `json:"packets_in"`
		PacketsOut   uint64 `json:"packets_out"`
		QueriesTotal uint64 `json:"queries_total"`
		LastActivity string `json:"last_activity"`
	} `json:"attributes"`
}

func getFullSession(tb testing.TB, a *app, id string) fullSession {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+a.adminAddr.String()+sessionsPath+"/"+id, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Authorization", adminAuth())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET session %s: %s: %s", id, resp.Status, body)
	}
	var doc struct {
		Data fullSession `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		tb.Fatal(err)
	}
	return doc.Data
}

// TestSessionAttributesThroughProxy drives a real MariaDB through Portico
// with go-sql-driver and checks what the API then says about the session.
func TestSessionAttributesThroughProxy(t *testing.T) {
	a := startApp(t, func(c *config.Config) { c.Topology.Services[0].RetainLastStatements = 2 })
	sniff := &greetingSniffer{}
	var mu sync.Mutex
	var localPort int
	cfg, err := mysql.ParseDSN("maxuser:maxpwd@tcp(" + a.listenerAddr() + ")/portico_demo")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 5 * time.Second
	cfg.Logger = log.New(t.Output(), "[mysql] ", 0)
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := sniff.dial(ctx, network, addr)
		if err == nil {
			mu.Lock()
			localPort = c.LocalAddr().(*net.TCPAddr).Port
			mu.Unlock()
		}
		return c, err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	var thread uint32
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&thread); err != nil {
		t.Fatal(err)
	}
	var s string
	for _, q := range []string{"SELECT 'one'", "SELECT 'two'"} {
		if err := conn.QueryRowContext(ctx, q).Scan(&s); err != nil {
			t.Fatal(err)
		}
	}
	ids := sniff.connectionIDs()
	if len(ids) != 1 {
		t.Fatalf("driver saw %d greetings, want 1", len(ids))
	}
	id := strconv.FormatUint(uint64(ids[0]), 10)
	first := getFullSession(t, a, id)
	at := first.Attributes

	t.Run("login", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if at.State != stateReady || at.User != "maxuser" || at.Remote != "127.0.0.1" || at.Port != localPort {
			t.Errorf("state %q user %q remote %s:%d, want %q maxuser 127.0.0.1:%d", at.State, at.User, at.Remote, at.Port, stateReady, localPort)
		}
		if at.Database == nil || *at.Database != "portico_demo" {
			t.Errorf("database = %v, want portico_demo", at.Database)
		}
		if got := at.Client.ConnectionAttributes["_client_name"]; got != "Go-MySQL-Driver" {
			t.Errorf("connection attributes %v, want go-sql-driver's _client_name", at.Client.ConnectionAttributes)
		}
		if len(at.Connections) != 1 || at.Connections[0].Server != "mariadb1" || at.Connections[0].ConnectionID != thread {
			t.Errorf("connections = %+v, want thread %d on mariadb1", at.Connections, thread)
		}
		if at.Log == nil || len(at.Log) != 0 {
			t.Errorf("log = %v, want []", at.Log)
		}
	})
	t.Run("the last two statements, timed", func(t *testing.T) {
		if len(at.Queries) != 2 {
			t.Fatalf("queries = %+v, want 2", at.Queries)
		}
		for i, want := range []string{"SELECT 'one'", "SELECT 'two'"} {
			q := at.Queries[i]
			if q.Command != "COM_QUERY" || q.Statement != want || q.Received == "" || q.Completed == "" {
				t.Errorf("query %d = %+v, want %q completed", i, q, want)
			}
			if len(q.Responses) != 1 || q.Responses[0].Server != "mariadb1" || q.Responses[0].Duration < 0 || q.Responses[0].Duration > 5000 {
				t.Errorf("query %d responses = %+v, want one from mariadb1", i, q.Responses)
			}
		}
	})
	t.Run("counters and memory", func(t *testing.T) {
		if at.QueriesTotal != 3 || at.PacketsIn < 4 || at.PacketsOut < 10 || at.BytesIn == 0 || at.BytesOut == 0 || at.IOActivity == 0 {
			t.Errorf("queries_total %d packets %d/%d bytes %d/%d io_activity %d", at.QueriesTotal,
				at.PacketsIn, at.PacketsOut, at.BytesIn, at.BytesOut, at.IOActivity)
		}
		m := at.Memory
		if m.Capture == 0 || m.Statements == 0 || m.Total != m.ClientBuffer+m.BackendBuffer+m.Capture+m.Statements {
			t.Errorf("memory = %+v", m)
		}
		// On Linux an event loop relays the logged-in session, and an
		// idle one holds no read buffers; elsewhere two goroutines each
		// keep theirs.
		if held := m.ClientBuffer > 0 && m.BackendBuffer > 0; held != (runtime.GOOS != "linux") {
			t.Errorf("memory = %+v: read buffers held = %v on %s", m, held, runtime.GOOS)
		}
		if last, err := time.Parse(time.RFC3339Nano, at.LastActivity); err != nil || time.Since(last) > 10*time.Second {
			t.Errorf("last_activity %q: %v", at.LastActivity, err)
		}
		if at.SecondsAlive <= 0 || at.SecondsAlive > 60 {
			t.Errorf("seconds_alive = %v", at.SecondsAlive)
		}
		if err := conn.QueryRowContext(ctx, "SELECT 'three'").Scan(&s); err != nil {
			t.Fatal(err)
		}
		next := getFullSession(t, a, id).Attributes
		if next.BytesIn <= at.BytesIn || next.BytesOut <= at.BytesOut || next.PacketsIn <= at.PacketsIn ||
			next.PacketsOut <= at.PacketsOut || next.QueriesTotal != at.QueriesTotal+1 {
			t.Errorf("counters did not grow with a query: %d/%d %d/%d %d -> %d/%d %d/%d %d",
				at.BytesIn, at.BytesOut, at.PacketsIn, at.PacketsOut, at.QueriesTotal,
				next.BytesIn, next.BytesOut, next.PacketsIn, next.PacketsOut, next.QueriesTotal)
		}
	})
	t.Run("not idle while a query runs", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			_, err := conn.ExecContext(ctx, "SELECT SLEEP(2)")
			done <- err
		}()
		sawRunning := 0
		deadline := time.Now().Add(5 * time.Second)
	poll:
		for time.Now().Before(deadline) {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				break poll
			default:
			}
			cur := getFullSession(t, a, id).Attributes
			last := cur.Queries[len(cur.Queries)-1]
			if last.Statement == "SELECT SLEEP(2)" && last.Completed == "" {
				sawRunning++
				if cur.Idle != 0 {
					t.Errorf("idle = %v while SELECT SLEEP(2) runs", cur.Idle)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Each look is an HTTP round trip, which a loaded machine slows
		// down: two looks prove the state, more would time the machine.
		if sawRunning < 2 {
			t.Errorf("saw the query running %d times, want it seen while it ran", sawRunning)
		}
		time.Sleep(300 * time.Millisecond)
		after := getFullSession(t, a, id).Attributes
		last := after.Queries[len(after.Queries)-1]
		if last.Statement != "SELECT SLEEP(2)" || last.Completed == "" || len(last.Responses) != 1 || last.Responses[0].Duration < 2000 {
			t.Errorf("after the sleep: %+v, want it completed after at least 2000 ms", last)
		}
		if after.Idle < 0.2 {
			t.Errorf("idle = %v after 300 ms without a query, want at least 0.2", after.Idle)
		}
	})
}
