package query

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Page is the `page[size]` / `page[number]` pair. Number is 0-based, as in
// MaxScale ("The first page of results starts from 0"). Set is false when no
// pagination was requested; MaxScale then returns the whole collection and
// emits no pagination links.
type Page struct {
	Size, Number int
	Set          bool
}

// ParsePage reads `page[size]` and `page[number]`. Pagination is on only when
// page[size] is a positive integer; page[number] without page[size] is
// ignored, as in MaxScale's paginate_result (server/core/resource.cc), and so
// is page[size]=0 or an empty value.
//
// Divergence: MaxScale parses both with strtol and silently drops values
// that are negative or not integers ("10abc" even counts as 10); here such a
// value is an *Error naming the parameter.
func ParsePage(values url.Values) (Page, error) {
	size, err := pageParam(values, "page[size]")
	if err != nil {
		return Page{}, err
	}
	number, err := pageParam(values, "page[number]")
	if err != nil {
		return Page{}, err
	}
	if size == 0 {
		return Page{}, nil
	}
	return Page{Size: size, Number: number, Set: true}, nil
}

var errNegative = errors.New("must not be negative")

func pageParam(values url.Values, param string) (int, error) {
	v := values.Get(param)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, paramError(param, fmt.Errorf("invalid integer %s: %w", quoteInput(v), errors.Unwrap(err)))
	}
	if n < 0 {
		return 0, paramError(param, fmt.Errorf("invalid value %d: %w", n, errNegative))
	}
	return n, nil
}

// pages is ceil(total/Size) without the overflow of total+Size-1 for huge
// sizes.
func (p Page) pages(total int) int {
	if total <= 0 {
		return 0
	}
	n := total / p.Size
	if total%p.Size != 0 {
		n++
	}
	return n
}

// Bounds returns the half-open range [lo, hi) of a collection of total rows
// that the page covers; lo == hi when the page lies past the end. Without
// pagination it covers everything.
//
// Divergence: when the whole collection fits in one page MaxScale returns it
// unsliced whatever page[number] says, so a client stepping through page
// numbers never sees an empty page; here a page past the end is empty.
func (p Page) Bounds(total int) (lo, hi int) {
	if total < 0 {
		total = 0
	}
	if !p.Set {
		return 0, total
	}
	if p.Number >= p.pages(total) {
		return total, total
	}
	lo = p.Number * p.Size // cannot overflow: it is below total
	if p.Size >= total-lo {
		return lo, total
	}
	return lo, lo + p.Size
}

// base is the link prefix HttpResponse::paginate builds:
// SELF?page%5Bsize%5D=N&page%5Bnumber%5D= (brackets percent-encoded, size
// first, and no other query parameter carried over, so links drop filter and
// fields exactly as MaxScale's do).
func (p Page) base(selfBase string) string {
	sep := "?"
	if strings.Contains(selfBase, "?") {
		sep = "&" // MaxScale's self links never carry a query; do not break one that does
	}
	return selfBase + sep + "page%5Bsize%5D=" + strconv.Itoa(p.Size) + "&page%5Bnumber%5D="
}

// Self returns the paginated self link that MaxScale substitutes for
// links.self when paging, or selfBase unchanged when not paging.
func (p Page) Self(selfBase string) string {
	if !p.Set {
		return selfBase
	}
	return p.base(selfBase) + strconv.Itoa(p.Number)
}

// Links returns the pagination links for a collection of total rows (counted
// after filtering) whose unpaginated self link is selfBase, e.g.
// "http://host:8989/v1/servers/". ok is false when paging was not requested,
// in which case MaxScale emits none of them. As in HttpResponse::paginate:
//
//   - first is always present: page 0;
//   - last is the final page, ceil(total/size)-1;
//   - next only when rows remain after this page: (number+1)*size < total;
//   - prev only when number > 0 and this page is not past the end:
//     number*size < total.
//
// MaxScale also sets meta.total to total whenever it paginates; callers
// should do the same.
//
// Divergence: for an empty collection MaxScale's last link says page -1,
// which ParsePage rejects; here it is page 0.
func (p Page) Links(selfBase string, total int) (first, last, next, prev string, ok bool) {
	if !p.Set {
		return "", "", "", "", false
	}
	base := p.base(selfBase)
	pages := p.pages(total)
	first = base + "0"
	last = base + strconv.Itoa(max(pages-1, 0))
	if p.Number < pages-1 {
		next = base + strconv.Itoa(p.Number+1)
	}
	if p.Number > 0 && p.Number < pages {
		prev = base + strconv.Itoa(p.Number-1)
	}
	return first, last, next, prev, true
}
