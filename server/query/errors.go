package query

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Error is returned by every parser in this package. It names the offending
// query parameter so the HTTP layer can build a 400 JSON:API error whose
// detail tells the client which parameter to fix.
type Error struct {
	Param  string // the query parameter as the client spelt it, e.g. "filter[$.id]"
	Detail string // what is wrong with it, lowercase, without the parameter name
	err    error
}

func (e *Error) Error() string { return e.Param + ": " + e.Detail }

// Unwrap exposes the underlying cause (a JSON or integer syntax error) so
// callers can still use errors.Is/As on it.
func (e *Error) Unwrap() error { return e.err }

func paramError(param string, cause error) *Error {
	return &Error{Param: param, Detail: cause.Error(), err: cause}
}

// syntaxError is a parse failure located at a byte offset of the parameter
// value; it becomes an *Error once the parameter name is known.
type syntaxError struct {
	msg   string // e.g. "expected ')'"
	off   int
	src   string
	cause error
}

func (e *syntaxError) Error() string {
	s := fmt.Sprintf("%s at offset %d in %s", e.msg, e.off, quoteInput(e.src))
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

func (e *syntaxError) Unwrap() error { return e.cause }

// maxQuoted bounds how much of a hostile or accidental huge parameter value
// is echoed back in an error message.
const maxQuoted = 64

func quoteInput(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

// describeAt names what the parser found at off, for "expected X, found Y".
func describeAt(src string, off int) string {
	if off >= len(src) {
		return "end of input"
	}
	r, _ := utf8.DecodeRuneInString(src[off:])
	return strconv.QuoteRune(r)
}
