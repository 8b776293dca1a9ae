package sessionview_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/portico-db/portico/web/sessionview"
)

func TestChart(t *testing.T) {
	tests := []struct {
		name    string
		samples []int
		line    string
		max     int
	}{
		{"empty", nil, "", 1},
		{"newest at the right edge", []int{0, 5, 10}, "M898,58.0 L899,30.0 L900,2.0", 10},
		{"all zero keeps a flat line", []int{0, 0}, "M899,58.0 L900,58.0", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := sessionview.Chart{Samples: tt.samples}
			html := c.HTML()
			if c.Max() != tt.max || tt.line == "" && html != "" || tt.line != "" && !strings.Contains(html, `<path class="line" d="`+tt.line+`"/>`) {
				t.Fatalf("max %d, html %s; want line %q, max %d", c.Max(), html, tt.line, tt.max)
			}
		})
	}
	// Only the last 15 minutes are drawn.
	long := make([]int, 1000)
	if html := (sessionview.Chart{Samples: long}).HTML(); !strings.Contains(html, `d="M1,58.0 `) {
		t.Fatalf("a long history starts at %q", html[:40])
	}
}

func TestSamplesRoundTrip(t *testing.T) {
	in := []int{0, 3, 10000}
	if got := sessionview.DecodeSamples(sessionview.EncodeSamples(in)); !slices.Equal(got, in) {
		t.Fatalf("round trip %v", got)
	}
	if got := sessionview.DecodeSamples("1,x,-2,,3"); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("lenient decode %v", got)
	}
}
