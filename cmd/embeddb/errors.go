package main

import (
	"context"
	"errors"
	"strings"

	gms "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
)

// MySQL's and MariaDB's numbers for a missing grant. go-mysql-server reports
// both as 1105 (unknown error) instead, and clients that tell a refused write
// from a failure by its number (portico load turns an account read-only on
// 1142) then keep failing.
const (
	errDBAccessDenied    = 1044 // ER_DBACCESS_DENIED_ERROR
	errTableAccessDenied = 1142 // ER_TABLEACCESS_DENIED_ERROR
)

// withGrantErrors is a server option that gives missing-grant errors their
// MySQL number.
func withGrantErrors(e *gms.Engine, sm *server.SessionManager, h mysql.Handler) (*gms.Engine, *server.SessionManager, mysql.Handler) {
	return e, sm, grantErrors{h}
}

// grantErrors wraps go-mysql-server's handler to renumber its errors.
type grantErrors struct{ mysql.Handler }

func (g grantErrors) ComQuery(ctx context.Context, c *mysql.Conn, query string, cb mysql.ResultSpoolFn) error {
	return renumber(g.Handler.ComQuery(ctx, c, query, cb))
}

func (g grantErrors) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, cb mysql.ResultSpoolFn) (string, error) {
	rest, err := g.Handler.ComMultiQuery(ctx, c, query, cb)
	return rest, renumber(err)
}

func (g grantErrors) ComPrepare(ctx context.Context, c *mysql.Conn, query string, p *mysql.PrepareData) ([]*querypb.Field, error) {
	fields, err := g.Handler.ComPrepare(ctx, c, query, p)
	return fields, renumber(err)
}

func (g grantErrors) ComStmtExecute(ctx context.Context, c *mysql.Conn, p *mysql.PrepareData, cb func(*sqltypes.Result) error) error {
	return renumber(g.Handler.ComStmtExecute(ctx, c, p, cb))
}

// renumber gives a privilege check failure MySQL's number and SQLSTATE
// 42000; other errors pass unchanged.
func renumber(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var se *mysql.SQLError
	if errors.As(err, &se) {
		if se.Num != mysql.ERUnknownError {
			return err
		}
		msg = se.Message
	}
	switch {
	case sql.ErrPrivilegeCheckFailed.Is(err) || strings.Contains(msg, "command denied to user"):
		return mysql.NewSQLError(errTableAccessDenied, "42000", "%s", msg)
	case sql.ErrDatabaseAccessDeniedForUser.Is(err) || strings.Contains(msg, "Access denied for user") && strings.Contains(msg, "to database"):
		return mysql.NewSQLError(errDBAccessDenied, "42000", "%s", msg)
	}
	return err
}
