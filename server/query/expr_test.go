package query

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseExprValid(t *testing.T) {
	tests := []struct {
		in, want string // want is the canonical String() form
	}{
		{`"Running"`, `eq("Running")`},
		{`3306`, `eq(3306)`},
		{`-1.5e2`, `eq(-150)`},
		{`true`, `eq(true)`},
		{`false`, `eq(false)`},
		{`null`, `eq(null)`},
		{`[1,"a"]`, `eq([1,"a"])`},
		{`{"b":1,"a":2}`, `eq({"a":2,"b":1})`},
		{`eq("a")`, `eq("a")`},
		{`ne(null)`, `ne(null)`},
		{`lt(1)`, `lt(1)`},
		{`le(1)`, `le(1)`},
		{`gt("x")`, `gt("x")`},
		{`ge(0)`, `ge(0)`},
		{`eq([1,2])`, `eq([1,2])`},
		{`and(ge(50),le(100))`, `and(ge(50),le(100))`},
		{`or(eq(1),eq(5),eq(10))`, `or(eq(1),eq(5),eq(10))`},
		{`not(eq(1),eq(5),eq(10))`, `not(eq(1),eq(5),eq(10))`},
		{`and(or(eq(1),eq(2)),not(eq(2)))`, `and(or(eq(1),eq(2)),not(eq(2)))`},
		{`and("a")`, `and(eq("a"))`},
		{`or(1, true, null)`, `or(eq(1),eq(true),eq(null))`},
		{` and( eq( 1 ) , le( 2 ) ) `, `and(eq(1),le(2))`},
		{`eq("a,b)c")`, `eq("a,b)c")`},
		{`eq({"k":")"})`, `eq({"k":")"})`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			e, err := ParseExpr(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.String(); got != tt.want {
				t.Errorf("String() = %s, want %s", got, tt.want)
			}
			again, err := ParseExpr(e.String())
			if err != nil || again.String() != e.String() {
				t.Errorf("reparse of %s = %v, %v", e, again, err)
			}
		})
	}
}

func TestParseExprInvalid(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // fragments of the message, including where it failed
	}{
		{"empty", ``, []string{`expected expression at offset 0 in ""`}},
		{"unclosed comparison", `eq(1`, []string{`expected ')' at offset 4 in "eq(1"`}},
		{"junk inside comparison", `eq(1x)`, []string{`expected ')', found 'x' at offset 4`}},
		{"missing paren", `eq 1`, []string{`expected '(', found '1' at offset 3`}},
		{"empty comparison", `eq()`, []string{`expected json value, found ')' at offset 3`}},
		{"empty logic", `and()`, []string{`expected expression, found ')' at offset 4`}},
		{"trailing comma", `or(eq(1),)`, []string{`expected expression, found ')' at offset 9`}},
		{"unclosed logic", `and(eq(1),eq(2)`, []string{`expected ')' at offset 15`}},
		{"unknown operator", `between(1,2)`, []string{`unknown operator "between"`, `offset 0`}},
		{"uppercase operator", `EQ(1)`, []string{`invalid json value at offset 0`}},
		{"bare word", `Running`, []string{`invalid json value at offset 0`}},
		{"prefix of literal", `tru`, []string{`unknown operator "tru"`}},
		{"bad json", `eq({"a":})`, []string{`invalid json value at offset 3`, `invalid character '}'`}},
		{"truncated json", `eq("abc`, []string{`incomplete json value at offset 3`}},
		{"trailing garbage", `eq(1)junk`, []string{`unexpected 'j' after expression at offset 5`}},
		{"two literals", `1 2`, []string{`unexpected '2' after expression at offset 2`}},
		{"logic on value", `and(eq(1)) eq(2)`, []string{`unexpected 'e' after expression at offset 11`}},
		{"too deep", strings.Repeat("not(", maxDepth+1) + "1" + strings.Repeat(")", maxDepth+1), []string{`nested deeper than 64 levels`}},
		{"long input is truncated", `eq(` + strings.Repeat("1", 100), []string{`at offset 103 in "eq(111`, `1111"...`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseExpr(tt.in)
			if err == nil {
				t.Fatalf("ParseExpr(%q) = %s, want error", tt.in, e)
			}
			wantError(t, err, "filter", tt.want...)
		})
	}
}

func TestParseExprWrapsJSONError(t *testing.T) {
	_, err := ParseExpr(`eq({"a":})`)
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		t.Fatalf("error %v does not wrap *json.SyntaxError", err)
	}
}

func TestExprEval(t *testing.T) {
	tests := []struct {
		expr, value string
		want        bool
	}{
		// Equality across every JSON type; numbers by value.
		{`eq("a")`, `"a"`, true},
		{`eq("a")`, `"b"`, false},
		{`eq(1)`, `1.0`, true},
		{`eq(1)`, `"1"`, false},
		{`eq(true)`, `true`, true},
		{`eq(true)`, `1`, false},
		{`eq(null)`, `null`, true},
		{`eq(null)`, `false`, false},
		{`eq([1,{"a":"b"}])`, `[1.0,{"a":"b"}]`, true},
		{`eq([1,2])`, `[2,1]`, false},
		{`eq([1,2])`, `[1,2,3]`, false},
		{`eq({"a":1,"b":[true]})`, `{"b":[true],"a":1}`, true},
		{`eq({"a":1})`, `{"a":1,"b":2}`, false},
		{`eq({"a":1})`, `{"b":1}`, false},
		{`"a"`, `"a"`, true},
		{`ne("a")`, `"b"`, true},
		{`ne("a")`, `"a"`, false},
		{`ne(1)`, `"1"`, true},
		// Ordering: numbers with numbers, strings with strings.
		{`lt(10)`, `9.5`, true},
		{`lt(10)`, `10`, false},
		{`le(10)`, `10`, true},
		{`gt(10)`, `10`, false},
		{`gt(10)`, `11`, true},
		{`ge(10)`, `10`, true},
		{`lt("b")`, `"a"`, true},
		{`lt("b")`, `"ab"`, true},
		{`gt("b")`, `"ba"`, true},
		{`le("b")`, `"b"`, true},
		{`ge("b")`, `"a"`, false},
		// A type mismatch is false for every ordering operator.
		{`lt(10)`, `"9"`, false},
		{`le(10)`, `"10"`, false},
		{`ge(10)`, `"10"`, false},
		{`gt("a")`, `5`, false},
		{`le(10)`, `null`, false},
		{`ge(true)`, `true`, false},
		{`le(null)`, `null`, false},
		{`le([1])`, `[1]`, false},
		// Logic.
		{`and(ge(50),le(100))`, `75`, true},
		{`and(ge(50),le(100))`, `101`, false},
		{`or(eq(1),eq(5),eq(10))`, `5`, true},
		{`or(eq(1),eq(5),eq(10))`, `6`, false},
		{`not(eq(1),eq(5),eq(10))`, `5`, false},
		{`not(eq(1),eq(5),eq(10))`, `6`, true},
		{`not(eq(1))`, `1`, false},
		{`not(not(eq(1)))`, `1`, true},
		{`and(eq(1))`, `1`, true},
		{`or(and(gt(0),lt(2)),eq("x"))`, `"x"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr+" "+tt.value, func(t *testing.T) {
			e, err := ParseExpr(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Eval(decode(t, tt.value)); got != tt.want {
				t.Errorf("%s on %s = %v, want %v", tt.expr, tt.value, got, tt.want)
			}
		})
	}
}

func TestExprEvalGoNumbers(t *testing.T) {
	// Typed Docs may hand back Go integers instead of float64.
	e, err := ParseExpr(`and(ge(3306),lt(3307.5))`)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{3306, int64(3306), int32(3306), uint(3306), uint64(3307), uint32(3306), float32(3306), json.Number("3306")} {
		if !e.Eval(v) {
			t.Errorf("Eval(%T %v) = false, want true", v, v)
		}
	}
	for _, v := range []any{json.Number("x"), struct{}{}, []string{"3306"}} {
		if e.Eval(v) {
			t.Errorf("Eval(%T %v) = true, want false", v, v)
		}
	}
	if !(Expr{}).Eval("anything") {
		t.Error("zero Expr must match everything")
	}
}
