package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Expr is a compiled filter expression. Its zero value matches everything.
//
// Grammar (MaxScale's MatcherParser in server/core/httpresponse.cc):
//
//	expr := json-value                     equality with the value
//	      | eq(json) | ne(json)            S == V, S != V for every JSON type
//	      | lt(json) | le(json) | gt(json) | ge(json)
//	      | and(expr, ...) | or(expr, ...) | not(expr, ...)
//
// not(e1, e2, ...) is true when none of its sub-expressions is, exactly as
// MaxScale evaluates it (std::none_of), which is what makes the documented
// `filter=id=not(eq(1),eq(5),eq(10))` exclude all three IDs.
type Expr struct {
	root *node
}

// ParseExpr compiles a filter expression on its own, for callers that take
// the expression from somewhere other than a query string.
func ParseExpr(s string) (Expr, error) {
	n, err := compileExpr(s, 0)
	if err != nil {
		return Expr{}, paramError("filter", err)
	}
	return Expr{root: &n}, nil
}

// Eval reports whether the JSON value v satisfies the expression.
func (e Expr) Eval(v any) bool {
	return e.root == nil || e.root.eval(v)
}

type opcode uint8

const (
	opEq opcode = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opAnd
	opOr
	opNot
)

var opcodes = map[string]opcode{
	"eq": opEq, "ne": opNe, "lt": opLt, "le": opLe, "gt": opGt, "ge": opGe,
	"and": opAnd, "or": opOr, "not": opNot,
}

// kind classifies a literal once at compile time so that evaluating the
// common string and number comparisons needs a single type switch.
type kind uint8

const (
	kindNull kind = iota
	kindBool
	kindNum
	kindStr
	kindComposite // array or object: compared deeply, never ordered
)

type node struct {
	op   opcode
	kind kind
	num  float64
	str  string
	b    bool
	lit  any // the literal as decoded, for deep equality of arrays/objects
	kids []node
}

func (n *node) eval(v any) bool {
	switch n.op {
	case opEq:
		return n.equal(v)
	case opNe:
		return !n.equal(v)
	case opLt:
		c, ok := n.order(v)
		return ok && c < 0
	case opLe:
		c, ok := n.order(v)
		return ok && c <= 0
	case opGt:
		c, ok := n.order(v)
		return ok && c > 0
	case opGe:
		c, ok := n.order(v)
		return ok && c >= 0
	case opAnd:
		for i := range n.kids {
			if !n.kids[i].eval(v) {
				return false
			}
		}
		return true
	case opOr:
		for i := range n.kids {
			if n.kids[i].eval(v) {
				return true
			}
		}
		return false
	case opNot:
		for i := range n.kids {
			if n.kids[i].eval(v) {
				return false
			}
		}
		return true
	}
	return false
}

func (n *node) equal(v any) bool {
	switch n.kind {
	case kindNull:
		return v == nil
	case kindBool:
		b, ok := v.(bool)
		return ok && b == n.b
	case kindStr:
		s, ok := v.(string)
		return ok && s == n.str
	case kindNum:
		f, ok := toFloat(v)
		return ok && f == n.num
	}
	return jsonEqual(v, n.lit)
}

// order compares the stored value with the literal. Ordering exists only
// between two numbers or two strings; anything else is "not comparable",
// which makes every ordering operator false.
//
// Divergence: MaxScale computes le/ge as `lt || !lt(swapped)`, so for
// mismatched types (and for same-typed booleans, nulls, arrays, objects) its
// le() and ge() are always true, and it compares an integer with a real as
// a type mismatch. Here numbers compare as float64 and a mismatch is false,
// as the documented table ("Numbers and strings") intends.
func (n *node) order(v any) (int, bool) {
	switch n.kind {
	case kindNum:
		f, ok := toFloat(v)
		if !ok {
			return 0, false
		}
		switch {
		case f < n.num:
			return -1, true
		case f > n.num:
			return 1, true
		}
		return 0, true
	case kindStr:
		s, ok := v.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(s, n.str), true
	}
	return 0, false
}

// toFloat accepts every numeric representation a typed Doc may reasonably
// hand back, so implementations need not convert to float64 themselves.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case float32:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// jsonEqual is deep JSON equality: numbers by value whatever their Go type,
// objects regardless of key order.
func jsonEqual(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// maxDepth bounds nesting so that a hostile query string cannot make the
// parser or the evaluator recurse without limit.
const maxDepth = 64

type exprParser struct {
	src string
	pos int
}

// compileExpr parses src[start:] as a whole expression; offsets in errors are
// relative to src so that for `filter=ptr=expr` they point into the full
// parameter value the client sent.
func compileExpr(src string, start int) (node, error) {
	p := exprParser{src: src, pos: start}
	n, err := p.expr(0)
	if err != nil {
		return node{}, err
	}
	p.skipSpace()
	// Divergence: MaxScale ignores whatever follows a complete top-level
	// expression (`eq(1)junk` filters on eq(1)); here it is an error.
	if p.pos < len(p.src) {
		return node{}, p.errorf("unexpected %s after expression", describeAt(p.src, p.pos))
	}
	return n, nil
}

func (p *exprParser) errorf(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), off: p.pos, src: p.src}
}

func (p *exprParser) expected(what string) error {
	if p.pos >= len(p.src) {
		return p.errorf("expected %s", what)
	}
	return p.errorf("expected %s, found %s", what, describeAt(p.src, p.pos))
}

// skipSpace allows blanks between tokens.
// Divergence: MaxScale rejects `and(eq(1), eq(2))` because of the space;
// accepting it changes the meaning of nothing MaxScale accepts.
func (p *exprParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *exprParser) expr(depth int) (node, error) {
	if depth > maxDepth {
		return node{}, p.errorf("expression nested deeper than %d levels", maxDepth)
	}
	p.skipSpace()
	if p.pos >= len(p.src) || p.src[p.pos] == ')' || p.src[p.pos] == ',' {
		return node{}, p.expected("expression")
	}
	if isLower(p.src[p.pos]) {
		start := p.pos
		end := start
		for end < len(p.src) && isLower(p.src[end]) {
			end++
		}
		word := p.src[start:end]
		if op, ok := opcodes[word]; ok {
			p.pos = end
			return p.call(op, depth)
		}
		// Divergence: MaxScale only tries JSON when the value does not start
		// with a letter, so a bare true, false or null is an error there.
		if word != "true" && word != "false" && word != "null" {
			return node{}, p.errorf("unknown operator %q, want eq, ne, lt, le, gt, ge, and, or, not or a json value", word)
		}
	}
	lit, err := p.value()
	if err != nil {
		return node{}, err
	}
	return literalNode(opEq, lit), nil
}

func (p *exprParser) call(op opcode, depth int) (node, error) {
	p.skipSpace()
	if !p.consume('(') {
		return node{}, p.expected("'('")
	}
	var n node
	if op <= opGe {
		p.skipSpace()
		lit, err := p.value()
		if err != nil {
			return node{}, err
		}
		n = literalNode(op, lit)
	} else {
		n.op = op
		for {
			kid, err := p.expr(depth + 1)
			if err != nil {
				return node{}, err
			}
			n.kids = append(n.kids, kid)
			p.skipSpace()
			if !p.consume(',') {
				break
			}
		}
	}
	p.skipSpace()
	if !p.consume(')') {
		return node{}, p.expected("')'")
	}
	return n, nil
}

func (p *exprParser) consume(c byte) bool {
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// value decodes exactly one JSON value at the current position. A Decoder is
// used because, unlike json.Unmarshal, it stops at the end of the value and
// reports how far it read, which is what an embedded literal needs.
func (p *exprParser) value() (any, error) {
	if p.pos >= len(p.src) || p.src[p.pos] == ')' || p.src[p.pos] == ',' {
		return nil, p.expected("json value")
	}
	dec := json.NewDecoder(strings.NewReader(p.src[p.pos:]))
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, &syntaxError{msg: "incomplete json value", off: p.pos, src: p.src, cause: err}
		}
		return nil, &syntaxError{msg: "invalid json value", off: p.pos, src: p.src, cause: err}
	}
	p.pos += int(dec.InputOffset())
	return v, nil
}

func literalNode(op opcode, lit any) node {
	n := node{op: op, lit: lit}
	switch x := lit.(type) {
	case nil:
		n.kind = kindNull
	case bool:
		n.kind, n.b = kindBool, x
	case float64:
		n.kind, n.num = kindNum, x
	case string:
		n.kind, n.str = kindStr, x
	default:
		n.kind = kindComposite
	}
	return n
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

// String renders the expression back in the query syntax, for logs and for
// checking that parsing is stable.
func (e Expr) String() string {
	if e.root == nil {
		return ""
	}
	var b strings.Builder
	e.root.write(&b)
	return b.String()
}

var opnames = [...]string{"eq", "ne", "lt", "le", "gt", "ge", "and", "or", "not"}

func (n *node) write(b *strings.Builder) {
	b.WriteString(opnames[n.op])
	b.WriteByte('(')
	if n.op <= opGe {
		lit, err := json.Marshal(n.lit)
		if err != nil { // cannot happen for decoded JSON; keep String total anyway
			lit = []byte(strconv.Quote(fmt.Sprint(n.lit)))
		}
		b.Write(lit)
	} else {
		for i := range n.kids {
			if i > 0 {
				b.WriteByte(',')
			}
			n.kids[i].write(b)
		}
	}
	b.WriteByte(')')
}
