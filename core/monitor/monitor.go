// Package monitor watches backend servers the way MaxScale's mariadbmon
// does: every interval it logs in to each server, asks whether it is read
// only and whether it replicates, and publishes what it found (Down, or
// Running as a Master or a Slave) to a core.ServerStates, which the router
// and the admin API read.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portico-db/portico/core"
	"github.com/portico-db/portico/core/mysqlwire"
)

// erParseError is what MySQL, which lacks SHOW ALL SLAVES STATUS, answers
// it with.
const erParseError = 1064

// Config is one monitor's dependencies.
type Config struct {
	Monitor  core.Monitor
	Topology *core.Topology
	States   *core.ServerStates
	Logger   *slog.Logger
}

// Run checks the monitor's servers at once and then every interval,
// publishing each result, until ctx is done. The servers of one round are
// checked side by side, so a server that stalls until the timeout does not
// delay what is learned of the others.
func Run(ctx context.Context, cfg Config) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("monitor", cfg.Monitor.Name)
	var servers []core.Server
	for _, name := range cfg.Monitor.Servers {
		srv, err := cfg.Topology.Server(name)
		if err != nil {
			// The configuration was validated; this is a programming error.
			log.Error("monitored server is not in the topology", "server", name)
			continue
		}
		servers = append(servers, srv)
	}
	tick := time.NewTicker(cfg.Monitor.Interval)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Go(func() { checkAndPublish(ctx, cfg, log, srv) })
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func checkAndPublish(ctx context.Context, cfg Config, log *slog.Logger, srv core.Server) {
	checkCtx, cancel := context.WithTimeout(ctx, cfg.Monitor.ConnectTimeout)
	defer cancel()
	st, err := Check(checkCtx, srv, cfg.Monitor.User, cfg.Monitor.Password)
	if ctx.Err() != nil {
		// Shutting down: a check cut short says nothing about the server.
		return
	}
	// This monitor is the only writer of srv's state, so nothing comes
	// between the Get and the Set.
	previous := "unknown"
	if prev, ok := cfg.States.Get(srv.Name); ok {
		previous = prev.String()
	}
	if _, changed := cfg.States.Set(srv.Name, st); !changed {
		return
	}
	attrs := []any{"server", srv.Name, "state", st.String(), "previous", previous}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	if st.Up {
		log.Info("server state changed", attrs...)
	} else {
		log.Warn("server state changed", attrs...)
	}
}

// Check logs in to srv as user and tells its state from what it answers.
// ctx bounds the whole check. A server that refuses the login or does not
// answer is Down; one that logs in but cannot say whether it replicates (the
// user lacks the privilege, say) is Running with no role, and the error
// says why.
func Check(ctx context.Context, srv core.Server, user, password string) (core.ServerState, error) {
	down := core.ServerState{Monitored: true}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(srv.Address, strconv.Itoa(srv.Port)))
	if err != nil {
		return down, fmt.Errorf("monitor: connect: %w", err)
	}
	defer conn.Close()
	// The queries take no ctx: closing the connection is what stops them.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := mysqlwire.ClientHandshake(ctx, conn, user, password); err != nil {
		return down, fmt.Errorf("monitor: log in: %w", err)
	}
	up := core.ServerState{Up: true, Monitored: true}
	ro, err := mysqlwire.Query(conn, "SELECT @@read_only")
	if err != nil {
		return up, fmt.Errorf("monitor: read_only: %w", err)
	}
	if len(ro.Rows) != 1 {
		return up, fmt.Errorf("monitor: SELECT @@read_only returned %d rows", len(ro.Rows))
	}
	readOnly := ro.Rows[0]["@@read_only"] == "1"
	replicas, err := mysqlwire.Query(conn, "SHOW ALL SLAVES STATUS")
	var ep mysqlwire.ErrorPacket
	if errors.As(err, &ep) && ep.Code == erParseError {
		replicas, err = mysqlwire.Query(conn, "SHOW SLAVE STATUS")
	}
	if err != nil {
		return up, fmt.Errorf("monitor: replication status: %w", err)
	}
	up.Role = Classify(readOnly, replicas.Rows)
	// Best effort: say goodbye so the server does not count an aborted
	// connection every interval.
	_ = mysqlwire.WritePacket(conn, 0, []byte{mysqlwire.ComQuit})
	return up, nil
}

// Classify tells a running server's role as mariadbmon would in a simple
// replication setup: a server that replicates from another, or that is
// read only, is a Slave; any other is a Master. A replication connection
// counts while either of its threads runs (or the I/O thread is still
// connecting), so a slave whose master is briefly away does not turn into
// a second master.
func Classify(readOnly bool, replicas []map[string]string) core.Role {
	if readOnly {
		return core.RoleSlave
	}
	for _, r := range replicas {
		io, sql := strings.ToLower(r["Slave_IO_Running"]), strings.ToLower(r["Slave_SQL_Running"])
		if io == "yes" || io == "connecting" || sql == "yes" {
			return core.RoleSlave
		}
	}
	return core.RoleMaster
}
