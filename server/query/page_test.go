package query

import (
	"errors"
	"math"
	"net/url"
	"strconv"
	"testing"
)

func TestParsePage(t *testing.T) {
	tests := []struct {
		query string
		want  Page
	}{
		{``, Page{}},
		{`page[size]=10`, Page{Size: 10, Set: true}},
		{`page[size]=10&page[number]=3`, Page{Size: 10, Number: 3, Set: true}},
		{`page%5Bsize%5D=2&page%5Bnumber%5D=1`, Page{Size: 2, Number: 1, Set: true}},
		{`page[size]=%2B5`, Page{Size: 5, Set: true}},
		{`page[size]=0`, Page{}},
		{`page[size]=0&page[number]=4`, Page{}},
		{`page[size]=&page[number]=4`, Page{}},
		{`page[number]=4`, Page{}},
		{`page[size]=3&page[number]=`, Page{Size: 3, Set: true}},
		{`page[size]=3&page[size]=7`, Page{Size: 3, Set: true}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParsePage(q)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParsePage = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParsePageErrors(t *testing.T) {
	tests := []struct {
		query, param string
		want         []string
		is           error
	}{
		{`page[size]=abc`, "page[size]", []string{`invalid integer "abc"`}, strconv.ErrSyntax},
		{`page[size]=10abc`, "page[size]", []string{`invalid integer "10abc"`}, strconv.ErrSyntax},
		{`page[size]=1.5`, "page[size]", []string{`invalid integer "1.5"`}, strconv.ErrSyntax},
		{`page[size]=-1`, "page[size]", []string{`invalid value -1: must not be negative`}, errNegative},
		{`page[size]=99999999999999999999`, "page[size]", []string{`value out of range`}, strconv.ErrRange},
		{`page[size]=5&page[number]=-2`, "page[number]", []string{`must not be negative`}, errNegative},
		{`page[size]=5&page[number]=x`, "page[number]", []string{`invalid integer "x"`}, strconv.ErrSyntax},
		{`page[number]=x`, "page[number]", []string{`invalid integer "x"`}, strconv.ErrSyntax},
		{`page[size]=%201`, "page[size]", []string{`invalid integer " 1"`}, strconv.ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePage(q)
			if err == nil {
				t.Fatalf("ParsePage = %+v, want error", p)
			}
			wantError(t, err, tt.param, tt.want...)
			if !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestPageLinks(t *testing.T) {
	const self = "http://localhost:8989/v1/servers/"
	const base = self + "?page%5Bsize%5D=2&page%5Bnumber%5D="
	tests := []struct {
		name                    string
		page                    Page
		total                   int
		first, last, next, prev string
		self                    string
		lo, hi                  int
	}{
		{"first of three", Page{2, 0, true}, 5, base + "0", base + "2", base + "1", "", base + "0", 0, 2},
		{"middle", Page{2, 1, true}, 5, base + "0", base + "2", base + "2", base + "0", base + "1", 2, 4},
		{"last, partial", Page{2, 2, true}, 5, base + "0", base + "2", "", base + "1", base + "2", 4, 5},
		{"last, full", Page{2, 1, true}, 4, base + "0", base + "1", "", base + "0", base + "1", 2, 4},
		{"past the end has no prev", Page{2, 3, true}, 5, base + "0", base + "2", "", "", base + "3", 5, 5},
		{"single page", Page{2, 0, true}, 2, base + "0", base + "0", "", "", base + "0", 0, 2},
		{"smaller than a page", Page{2, 0, true}, 1, base + "0", base + "0", "", "", base + "0", 0, 1},
		{"empty collection", Page{2, 0, true}, 0, base + "0", base + "0", "", "", base + "0", 0, 0},
		{"page past a small collection is empty", Page{2, 1, true}, 1, base + "0", base + "0", "", "", base + "1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first, last, next, prev, ok := tt.page.Links(self, tt.total)
			if !ok {
				t.Fatal("ok = false")
			}
			if first != tt.first || last != tt.last || next != tt.next || prev != tt.prev {
				t.Errorf("Links =\n first %q\n last  %q\n next  %q\n prev  %q\nwant\n first %q\n last  %q\n next  %q\n prev  %q",
					first, last, next, prev, tt.first, tt.last, tt.next, tt.prev)
			}
			if got := tt.page.Self(self); got != tt.self {
				t.Errorf("Self = %q, want %q", got, tt.self)
			}
			if lo, hi := tt.page.Bounds(tt.total); lo != tt.lo || hi != tt.hi {
				t.Errorf("Bounds = [%d,%d), want [%d,%d)", lo, hi, tt.lo, tt.hi)
			}
		})
	}
}

func TestPageUnset(t *testing.T) {
	var p Page
	if f, l, n, pr, ok := p.Links("http://h/v1/servers/", 10); ok || f != "" || l != "" || n != "" || pr != "" {
		t.Errorf("unset page emitted links %q %q %q %q %v", f, l, n, pr, ok)
	}
	if got := p.Self("http://h/v1/servers/"); got != "http://h/v1/servers/" {
		t.Errorf("Self = %q", got)
	}
	if lo, hi := p.Bounds(10); lo != 0 || hi != 10 {
		t.Errorf("Bounds = [%d,%d)", lo, hi)
	}
	if lo, hi := p.Bounds(-1); lo != 0 || hi != 0 {
		t.Errorf("Bounds(-1) = [%d,%d)", lo, hi)
	}
}

func TestPageExtremes(t *testing.T) {
	p := Page{Size: math.MaxInt, Number: math.MaxInt, Set: true}
	if lo, hi := p.Bounds(10); lo != 10 || hi != 10 {
		t.Errorf("Bounds = [%d,%d)", lo, hi)
	}
	_, last, next, prev, _ := p.Links("s", 10)
	if next != "" || prev != "" || last != "s?page%5Bsize%5D="+strconv.Itoa(math.MaxInt)+"&page%5Bnumber%5D=0" {
		t.Errorf("last %q next %q prev %q", last, next, prev)
	}
	p = Page{Size: math.MaxInt, Number: 0, Set: true}
	if lo, hi := p.Bounds(math.MaxInt); lo != 0 || hi != math.MaxInt {
		t.Errorf("Bounds = [%d,%d)", lo, hi)
	}
	p = Page{Size: 1, Number: math.MaxInt - 2, Set: true}
	if _, _, next, prev, _ := p.Links("s", math.MaxInt); next == "" || prev == "" {
		t.Errorf("next %q prev %q", next, prev)
	}
	// A self link that already has a query keeps it.
	p = Page{Size: 1, Set: true}
	if got := p.Self("http://h/v1/sessions/?rdns=true"); got != "http://h/v1/sessions/?rdns=true&page%5Bsize%5D=1&page%5Bnumber%5D=0" {
		t.Errorf("Self = %q", got)
	}
}
