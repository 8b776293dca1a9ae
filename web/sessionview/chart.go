package sessionview

import (
	"io"
	"strconv"
	"strings"
)

// Chart is the sessions-over-time chart: one sample a second, drawn as an
// SVG line and area inside a viewBox of ChartWidth x ChartHeight, the newest
// sample at the right edge. The server draws it for the first paint from its
// history, and the client redraws it as samples arrive.
type Chart struct {
	Samples []int
}

const (
	// ChartWidth is one unit per sample: 15 minutes at one a second.
	ChartWidth  = 900
	ChartHeight = 60
)

// Max is the largest sample, at least 1: the chart's scale.
func (c Chart) Max() int {
	top := 1
	for _, v := range c.Samples {
		top = max(top, v)
	}
	return top
}

// Render writes the chart's paths (the <svg> element is the page's).
func (c Chart) Render(w io.Writer) error {
	_, err := io.WriteString(w, c.HTML())
	return err
}

// HTML returns the chart's paths.
func (c Chart) HTML() string {
	samples := c.Samples
	if len(samples) > ChartWidth {
		samples = samples[len(samples)-ChartWidth:]
	}
	if len(samples) == 0 {
		return ""
	}
	top := float64(c.Max())
	var line strings.Builder
	start := ChartWidth - len(samples) + 1
	for i, v := range samples {
		if i == 0 {
			line.WriteByte('M')
		} else {
			line.WriteString(" L")
		}
		line.WriteString(strconv.Itoa(start + i))
		line.WriteByte(',')
		y := float64(ChartHeight) - 2 - float64(v)/top*float64(ChartHeight-4)
		line.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
	}
	d := line.String()
	return `<path class="area" d="` + d + ` L` + strconv.Itoa(ChartWidth) + `,` + strconv.Itoa(ChartHeight) +
		` L` + strconv.Itoa(start) + `,` + strconv.Itoa(ChartHeight) + ` Z"/><path class="line" d="` + d + `"/>`
}

// EncodeSamples writes samples as the page's data-history attribute.
func EncodeSamples(samples []int) string {
	var b strings.Builder
	for i, v := range samples {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}

// DecodeSamples reads a data-history attribute, skipping anything that is
// not a count.
func DecodeSamples(s string) []int {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		if n, err := strconv.Atoi(f); err == nil && n >= 0 {
			out = append(out, n)
		}
	}
	return out
}
