package query

import (
	"net/url"
	"testing"
)

// tinyDoc is the smallest useful typed Doc: one string attribute and one
// number, answered without allocating.
type tinyDoc struct {
	state string
	conns float64
}

func (d *tinyDoc) Lookup(tok []string) (any, bool) {
	if len(tok) != 2 || tok[0] != "attributes" {
		return nil, false
	}
	switch tok[1] {
	case "state":
		return d.state, true
	case "connections":
		return d.conns, true
	}
	return nil, false
}

func BenchmarkFilterMatch(b *testing.B) {
	rows := servers(b)
	docs := make([]MapDoc, len(rows))
	for i, r := range rows {
		docs[i] = MapDoc(r)
	}
	mustFilter := func(q string) Filter {
		v, err := url.ParseQuery(q)
		if err != nil {
			b.Fatal(err)
		}
		f, err := ParseFilter(v)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}

	b.Run("MapDoc/pointer", func(b *testing.B) {
		f := mustFilter(`filter=/attributes/statistics/connections=and(ge(1),le(100))`)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			f.Match(docs[i%len(docs)])
		}
	})
	b.Run("MapDoc/jsonpath-wildcard", func(b *testing.B) {
		f := mustFilter(`filter[relationships.services.data[*].id]=eq("Read-Only")&filter[$.attributes.state]=ne("Down")`)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			f.Match(docs[i%len(docs)])
		}
	})
	// Returning a string or float64 through `any` boxes it (the allocations
	// reported here); a Doc matched many times can keep its values boxed.
	b.Run("TinyDoc", func(b *testing.B) {
		f := mustFilter(`filter=/attributes/state=or(eq("Running"),eq("Master, Running"))&filter[$.attributes.connections]=gt(0)`)
		d := &tinyDoc{state: "Running", conns: 3}
		b.ReportAllocs()
		for b.Loop() {
			if !f.Match(d) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("TinyDoc/preboxed", func(b *testing.B) {
		f := mustFilter(`filter=/attributes/state=or(eq("Running"),eq("Master, Running"))&filter[$.attributes.connections]=gt(0)`)
		d := &boxedDoc{state: "Running", conns: 3.0}
		b.ReportAllocs()
		for b.Loop() {
			if !f.Match(d) {
				b.Fatal("no match")
			}
		}
	})
}

// boxedDoc keeps its values in interfaces so Lookup does not allocate.
type boxedDoc struct{ state, conns any }

func (d *boxedDoc) Lookup(tok []string) (any, bool) {
	if len(tok) != 2 || tok[0] != "attributes" {
		return nil, false
	}
	switch tok[1] {
	case "state":
		return d.state, true
	case "connections":
		return d.conns, true
	}
	return nil, false
}

func BenchmarkParseFilter(b *testing.B) {
	v := url.Values{
		"filter":             {`/attributes/state=or(eq("Running"),eq("Master, Running"))`},
		"filter[$.id]":       {`ne("server3")`},
		"filter[a.b[*].c.d]": {`and(ge(1),le(100))`},
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(v); err != nil {
			b.Fatal(err)
		}
	}
}
