package jsonscan_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/portico-db/portico/wasm/jsonscan"
)

// tree reads any value into the shapes encoding/json produces, so the two
// can be compared.
func tree(d *jsonscan.Scanner) any {
	switch d.Peek() {
	case jsonscan.Null:
		d.Skip()
		return nil
	case jsonscan.Bool:
		return d.Bool()
	case jsonscan.Number:
		return d.Float()
	case jsonscan.String:
		return d.String()
	case jsonscan.Array:
		out := []any{}
		d.Array(func() { out = append(out, tree(d)) })
		return out
	case jsonscan.Object:
		out := map[string]any{}
		d.Object(func(k string) { out[k] = tree(d) })
		return out
	}
	d.Skip() // records the error
	return nil
}

func TestMatchesEncodingJSON(t *testing.T) {
	tests := []struct{ name, in string }{
		{"scalars", `[1, -2.5e3, true, false, null, "x"]`},
		{"escapes", `"a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud83d\ude00"`},
		{"lone surrogate", `"\ud800x"`},
		{"nested", `{"type":"changes","added":[{"id":"7","attributes":{"user":"bob","connections":[{"server":"s1","connection_id":77}]}}],"removed":["3"]}`},
		{"whitespace", " { \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [ ] } "},
		{"utf8", `{"ünï":"çödé ✓"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want any
			if err := json.Unmarshal([]byte(tt.in), &want); err != nil {
				t.Fatal(err)
			}
			d := jsonscan.New(tt.in)
			got := tree(d)
			if err := d.Done(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v, want %#v", got, want)
			}
		})
	}
}

func TestRejects(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `[1 2]`, `"abc`, `"a` + "\x01" + `"`, `tru`, `{"a":1}x`, `"\x"`, `"\u12"`, `-`, `{1:2}`} {
		t.Run(in, func(t *testing.T) {
			d := jsonscan.New(in)
			tree(d)
			if d.Done() == nil {
				t.Fatalf("%q accepted", in)
			}
		})
	}
}

func TestTypedReaders(t *testing.T) {
	d := jsonscan.New(`{"rev":"18446744073709551615","n":42,"f":1.5,"neg":-3,"s":null,"b":null,"skip":{"x":[1,{"y":2}]}}`)
	var rev, n uint64
	var f float64
	var neg int64
	var s string
	var b bool
	d.Object(func(k string) {
		switch k {
		case "rev":
			rev = d.Uint()
		case "n":
			n = d.Uint()
		case "f":
			f = d.Float()
		case "neg":
			neg = d.Int()
		case "s":
			s = d.String()
		case "b":
			b = d.Bool()
		}
	})
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
	if rev != 18446744073709551615 || n != 42 || f != 1.5 || neg != -3 || s != "" || b {
		t.Fatalf("rev=%d n=%d f=%v neg=%d s=%q b=%v", rev, n, f, neg, s, b)
	}
}

// FuzzScanner checks that the scanner never panics and agrees with
// encoding/json about which texts are valid, and on their values.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{`{"a":[1,"x",null,true]}`, `"\ud83d\ude00"`, `[]`, `{"type":"snapshot","data":[{"id":"1"}]}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d := jsonscan.New(in)
		got := tree(d)
		err := d.Done()
		var want any
		werr := json.Unmarshal([]byte(in), &want)
		if werr != nil {
			if err == nil {
				// encoding/json also rejects invalid UTF-8 never; it
				// replaces it. Only syntax matters here.
				if _, ok := werr.(*json.SyntaxError); ok {
					t.Fatalf("%q: scanner accepted, encoding/json: %v", in, werr)
				}
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: scanner rejected valid JSON: %v", in, err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			t.Fatalf("%q: got %#v, want %#v", in, got, want)
		}
	})
}

// normalize replaces strings by their valid-UTF-8 form, as encoding/json
// does with invalid bytes.
func normalize(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
