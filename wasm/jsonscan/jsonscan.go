// Package jsonscan reads JSON text in one pass, handing values to callbacks
// instead of building a tree. The dashboard's WASM client decodes every
// stream frame with it: copying a frame's text into Go once and scanning it
// there is several times faster than JSON.parse followed by a syscall/js Get
// per field, and encoding/json would add a quarter of a megabyte to the
// download.
//
// A Scanner stops at the first error and then returns zero values; check Err
// once at the end.
package jsonscan

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Scanner reads one JSON text.
type Scanner struct {
	s   string
	i   int
	err error
}

// New returns a scanner over s.
func New(s string) *Scanner { return &Scanner{s: s} }

// Err is the first syntax error met, if any.
func (d *Scanner) Err() error { return d.err }

// Offset is where the next value starts in the text.
func (d *Scanner) Offset() int {
	d.ws()
	return d.i
}

// Done checks that nothing but whitespace follows the value read.
func (d *Scanner) Done() error {
	d.ws()
	if d.err == nil && d.i != len(d.s) {
		d.fail("trailing data")
	}
	return d.err
}

func (d *Scanner) fail(what string) {
	if d.err == nil {
		d.err = errors.New("jsonscan: " + what + " at offset " + strconv.Itoa(d.i))
	}
	d.i = len(d.s)
}

func (d *Scanner) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next significant byte, 0 at the end.
func (d *Scanner) peek() byte {
	d.ws()
	if d.i >= len(d.s) {
		return 0
	}
	return d.s[d.i]
}

// Kind is the type of the next value.
type Kind uint8

const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// Peek tells the type of the next value without reading it.
func (d *Scanner) Peek() Kind {
	switch c := d.peek(); {
	case c == 'n':
		return Null
	case c == 't' || c == 'f':
		return Bool
	case c == '"':
		return String
	case c == '[':
		return Array
	case c == '{':
		return Object
	case c == '-' || ('0' <= c && c <= '9'):
		return Number
	}
	return Invalid
}

// Object reads an object, calling member for each key. member must read
// the value, with any method, or skip it. It reports false if the next value
// is null (consumed) or not an object (an error).
func (d *Scanner) Object(member func(key string)) bool {
	switch d.peek() {
	case 'n':
		d.literal("null")
		return false
	case '{':
	default:
		d.fail("expected object")
		return false
	}
	d.i++
	if d.peek() == '}' {
		d.i++
		return true
	}
	for d.err == nil {
		if d.peek() != '"' {
			d.fail("expected member name")
			return false
		}
		key := d.String()
		if d.peek() != ':' {
			d.fail("expected ':'")
			return false
		}
		d.i++
		start := d.i
		member(key)
		if d.err != nil {
			return false
		}
		if d.i == start { // the callback did not read the value
			d.Skip()
		}
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			d.fail("expected ',' or '}'")
		}
	}
	return false
}

// Array reads an array, calling elem for each element, which it must read
// or skip. It reports false if the next value is null (consumed) or not an
// array (an error).
func (d *Scanner) Array(elem func()) bool {
	switch d.peek() {
	case 'n':
		d.literal("null")
		return false
	case '[':
	default:
		d.fail("expected array")
		return false
	}
	d.i++
	if d.peek() == ']' {
		d.i++
		return true
	}
	for d.err == nil {
		start := d.i
		d.ws()
		if d.i == len(d.s) {
			d.fail("unterminated array")
			return false
		}
		elem()
		if d.err != nil {
			return false
		}
		if d.i == start {
			d.Skip()
		}
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			d.fail("expected ',' or ']'")
		}
	}
	return false
}

func (d *Scanner) literal(word string) {
	if strings.HasPrefix(d.s[d.i:], word) {
		d.i += len(word)
		return
	}
	d.fail("invalid literal")
}

// String reads a string; null and other values read as "" (a non-string
// other than null is an error).
func (d *Scanner) String() string {
	switch d.peek() {
	case '"':
	case 'n':
		d.literal("null")
		return ""
	default:
		d.fail("expected string")
		return ""
	}
	start := d.i + 1
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return d.s[start:j]
		case c == '\\':
			return d.unescape(start, j)
		case c < 0x20:
			d.i = j
			d.fail("control character in string")
			return ""
		}
	}
	d.fail("unterminated string")
	return ""
}

// unescape finishes a string that holds escapes, the first at j.
func (d *Scanner) unescape(start, j int) string {
	var b strings.Builder
	b.WriteString(d.s[start:j])
	for j < len(d.s) {
		c := d.s[j]
		switch {
		case c == '"':
			d.i = j + 1
			return b.String()
		case c < 0x20:
			d.i = j
			d.fail("control character in string")
			return ""
		case c != '\\':
			b.WriteByte(c)
			j++
			continue
		}
		if j+1 >= len(d.s) {
			break
		}
		switch e := d.s[j+1]; e {
		case '"', '\\', '/':
			b.WriteByte(e)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := d.hex4(j + 2)
			if n < 0 {
				d.i = j
				d.fail("invalid \\u escape")
				return ""
			}
			j += 6
			if utf8SurrogateHigh(r) {
				if lo, m := d.hexEscape(j); m > 0 && utf8SurrogateLow(lo) {
					r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
					j += 6
				} else {
					r = utf8.RuneError
				}
			} else if utf8SurrogateLow(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
			continue
		default:
			d.i = j
			d.fail("invalid escape")
			return ""
		}
		j += 2
	}
	d.i = j
	d.fail("unterminated string")
	return ""
}

func utf8SurrogateHigh(r rune) bool { return 0xD800 <= r && r < 0xDC00 }
func utf8SurrogateLow(r rune) bool  { return 0xDC00 <= r && r < 0xE000 }

// hexEscape reads a \uXXXX at j, returning 6 on success.
func (d *Scanner) hexEscape(j int) (rune, int) {
	if j+1 < len(d.s) && d.s[j] == '\\' && d.s[j+1] == 'u' {
		if r, n := d.hex4(j + 2); n > 0 {
			return r, 6
		}
	}
	return 0, -1
}

func (d *Scanner) hex4(j int) (rune, int) {
	if j+4 > len(d.s) {
		return 0, -1
	}
	var r rune
	for _, c := range []byte(d.s[j : j+4]) {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, -1
		}
	}
	return r, 4
}

// number returns the text of the next number, checked against JSON's
// grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Scanner) number() string {
	d.ws()
	start := d.i
	digits := func() int {
		n := 0
		for d.i < len(d.s) && '0' <= d.s[d.i] && d.s[d.i] <= '9' {
			d.i++
			n++
		}
		return n
	}
	if d.i < len(d.s) && d.s[d.i] == '-' {
		d.i++
	}
	if d.i < len(d.s) && d.s[d.i] == '0' {
		d.i++
	} else if digits() == 0 {
		d.fail("invalid number")
		return "0"
	}
	if d.i < len(d.s) && d.s[d.i] == '.' {
		d.i++
		if digits() == 0 {
			d.fail("invalid number")
			return "0"
		}
	}
	if d.i < len(d.s) && (d.s[d.i] == 'e' || d.s[d.i] == 'E') {
		d.i++
		if d.i < len(d.s) && (d.s[d.i] == '+' || d.s[d.i] == '-') {
			d.i++
		}
		if digits() == 0 {
			d.fail("invalid number")
			return "0"
		}
	}
	return d.s[start:d.i]
}

// Float reads a number; null reads as 0.
func (d *Scanner) Float() float64 {
	if d.peek() == 'n' {
		d.literal("null")
		return 0
	}
	text := d.number()
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && d.err == nil {
		d.fail("invalid number")
	}
	return f
}

// Int reads a number as an integer (truncating a fraction); null reads as 0.
func (d *Scanner) Int() int64 {
	if d.peek() == 'n' {
		d.literal("null")
		return 0
	}
	text := d.number()
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		d.fail("invalid number")
	}
	return int64(f)
}

// Uint reads a non-negative integer, from a number or a decimal string (as
// the API writes revisions and ids); null reads as 0.
func (d *Scanner) Uint() uint64 {
	switch d.peek() {
	case 'n':
		d.literal("null")
		return 0
	case '"':
		n, err := strconv.ParseUint(d.String(), 10, 64)
		if err != nil {
			d.fail("invalid unsigned integer")
		}
		return n
	}
	n := d.Int()
	if n < 0 {
		d.fail("negative number")
		return 0
	}
	return uint64(n)
}

// Bool reads true or false; null reads as false.
func (d *Scanner) Bool() bool {
	switch d.peek() {
	case 't':
		d.literal("true")
		return true
	case 'f':
		d.literal("false")
	case 'n':
		d.literal("null")
	default:
		d.fail("expected boolean")
	}
	return false
}

// Skip reads and discards the next value.
func (d *Scanner) Skip() {
	switch d.Peek() {
	case Null:
		d.literal("null")
	case Bool:
		d.Bool()
	case Number:
		d.Float()
	case String:
		_ = d.String()
	case Array:
		d.Array(d.Skip)
	case Object:
		d.Object(func(string) { d.Skip() })
	default:
		d.fail("expected a value")
	}
}
