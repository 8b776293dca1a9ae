package loadgen

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB error numbers the sessions react to.
const (
	errAccessDenied      = 1045 // ER_ACCESS_DENIED_ERROR: wrong user or password
	errTableAccessDenied = 1142 // ER_TABLEACCESS_DENIED_ERROR: no grant for the statement
)

// Profile is how a simulated client behaves.
type Profile int

const (
	// Busy sends a statement every 0.2 to 2 s, some of them writes, for 1
	// to 10 minutes.
	Busy Profile = iota
	// Idle runs one query, then only pings now and then, for 2 to 15
	// minutes: a pooled connection nobody uses.
	Idle
	// ShortLived runs 1 to 5 statements and disconnects, within seconds.
	ShortLived
	// Slow sometimes runs SELECT SLEEP(2..8), otherwise reports, for 1 to
	// 5 minutes.
	Slow
	// Reporting runs an aggregate query every 2 to 10 s for 1 to 5
	// minutes.
	Reporting
	numProfiles
)

func (p Profile) String() string {
	switch p {
	case Busy:
		return "busy"
	case Idle:
		return "idle"
	case ShortLived:
		return "short-lived"
	case Slow:
		return "slow"
	case Reporting:
		return "reporting"
	}
	return "profile(" + strconv.Itoa(int(p)) + ")"
}

// weight is the share of new clients that get p, out of totalWeight.
func (p Profile) weight() int {
	switch p {
	case Busy:
		return 35
	case Idle:
		return 25
	case ShortLived:
		return 20
	case Slow, Reporting:
		return 10
	}
	return 0
}

const totalWeight = 100

// pickProfile maps n, uniform in [0, totalWeight), to a profile by weight.
func pickProfile(n int) Profile {
	for p := range numProfiles {
		if n < p.weight() {
			return p
		}
		n -= p.weight()
	}
	return Busy
}

// session is one simulated client: one connection, one Portico session.
type session struct {
	g    *Generator
	conn *sql.Conn
	acct *account
	work workload
	r    *rand.Rand
}

// runClient logs in as a and behaves as p until its lifetime is over or ctx
// ends. connected reports that the login succeeded.
func (g *Generator) runClient(ctx context.Context, a *account, p Profile, r *rand.Rand) (connected bool, err error) {
	db, err := g.pool(a, p.String())
	if err != nil {
		return false, err
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("loadgen: log in as %s through %s: %w", a, g.cfg.Addr, err)
	}
	// With no idle connections kept, closing the Conn closes the session.
	defer conn.Close()
	g.connects.Add(1)
	g.open.Add(1)
	defer g.open.Add(-1)
	s := &session{g: g, conn: conn, acct: a, work: workloadFor(a.Database), r: r}
	if err := s.run(ctx, p); err != nil && ctx.Err() == nil {
		return true, fmt.Errorf("loadgen: %s session of %s: %w", p, a, err)
	}
	return true, nil
}

func (s *session) run(ctx context.Context, p Profile) error {
	switch p {
	case Idle:
		return s.every(ctx, s.between(2*time.Minute, 15*time.Minute), 30*time.Second, 90*time.Second, s.read, s.ping)
	case ShortLived:
		for i := range 1 + s.r.IntN(5) {
			if i > 0 {
				if err := sleep(ctx, s.between(100*time.Millisecond, 1500*time.Millisecond)); err != nil {
					return err
				}
			}
			if err := s.app(ctx); err != nil {
				return err
			}
		}
		return nil
	case Slow:
		return s.every(ctx, s.between(time.Minute, 5*time.Minute), time.Second, 5*time.Second, s.read, s.slow)
	case Reporting:
		return s.every(ctx, s.between(time.Minute, 5*time.Minute), 2*time.Second, 10*time.Second, s.report, s.report)
	default:
		return s.every(ctx, s.between(time.Minute, 10*time.Minute), 200*time.Millisecond, 2*time.Second, s.app, s.app)
	}
}

// every runs first, then step after pauses of lo to hi, until lifetime has
// passed.
func (s *session) every(ctx context.Context, lifetime, lo, hi time.Duration, first, step func(context.Context) error) error {
	end := time.Now().Add(lifetime)
	if err := first(ctx); err != nil {
		return err
	}
	for {
		pause := s.between(lo, hi)
		if time.Now().Add(pause).After(end) {
			return nil
		}
		if err := sleep(ctx, pause); err != nil {
			return err
		}
		if err := step(ctx); err != nil {
			return err
		}
	}
}

// between is uniform in [lo, hi).
func (s *session) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.r.Int64N(int64(hi-lo)))
}

// app is what an application's request does: mostly reads, some writes
// while the account may write, now and then a report.
func (s *session) app(ctx context.Context) error {
	switch n := s.r.IntN(100); {
	case n < 30 && !s.acct.readOnly.Load():
		if w := s.work.write(s.r); w != nil {
			return s.transaction(ctx, w)
		}
	case n < 35:
		return s.report(ctx)
	}
	return s.read(ctx)
}

func (s *session) read(ctx context.Context) error   { return s.exec(ctx, s.work.read(s.r)) }
func (s *session) report(ctx context.Context) error { return s.exec(ctx, s.work.report(s.r)) }

// slow is a long statement four times in ten, a report otherwise.
func (s *session) slow(ctx context.Context) error {
	if s.r.IntN(10) < 4 {
		return s.exec(ctx, statement{query: "SELECT SLEEP(" + strconv.Itoa(2+s.r.IntN(7)) + ")"})
	}
	return s.report(ctx)
}

// ping is COM_PING, what a pool sends to keep an idle connection.
func (s *session) ping(ctx context.Context) error {
	if err := s.g.pace.wait(ctx); err != nil {
		return err
	}
	s.g.queries.Add(1)
	return s.check(ctx, s.conn.PingContext(ctx), false)
}

// transaction runs writes: one on its own, several inside a transaction.
func (s *session) transaction(ctx context.Context, stmts []statement) error {
	if len(stmts) == 1 {
		_, err := s.refused(ctx, stmts[0], true)
		return err
	}
	// The statements go on the session's one connection, so a plain START
	// TRANSACTION holds them together, as an application's would.
	if err := s.exec(ctx, statement{query: "START TRANSACTION"}); err != nil {
		return err
	}
	for _, st := range stmts {
		refused, err := s.refused(ctx, st, true)
		if err != nil {
			return err
		}
		if refused {
			return s.exec(ctx, statement{query: "ROLLBACK"})
		}
	}
	return s.exec(ctx, statement{query: "COMMIT"})
}

// exec runs st, which writes nothing, and reads its result to the end.
func (s *session) exec(ctx context.Context, st statement) error {
	_, err := s.refused(ctx, st, false)
	return err
}

// refused runs st; refused reports that the server answered with an error,
// which the session survives. err is a broken connection or the end of ctx.
func (s *session) refused(ctx context.Context, st statement, write bool) (refused bool, err error) {
	if err := s.g.pace.wait(ctx); err != nil {
		return false, err
	}
	s.g.queries.Add(1)
	rows, err := s.conn.QueryContext(ctx, st.query, st.args...)
	if err == nil {
		for rows.Next() {
		}
		err = errors.Join(rows.Err(), rows.Close())
	}
	if err == nil {
		return false, nil
	}
	return true, s.check(ctx, err, write)
}

// check sorts a failure: an error the server sent is counted and the
// session goes on; anything else ends it. A write refused for want of a
// grant is no error: it tells that the account may only read.
func (s *session) check(ctx context.Context, err error, write bool) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return err
	}
	if write && me.Number == errTableAccessDenied {
		// Sessions already writing may be refused too: say it once.
		if s.acct.readOnly.CompareAndSwap(false, true) {
			s.g.log.Info("the account may not write: its sessions only read from now on", "account", s.acct.String(), "err", err)
		}
		return nil
	}
	s.g.noteError(fmt.Errorf("loadgen: %s: %w", s.acct, err))
	return nil
}
