package main

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// The chart: a title, then throughput over time above consumer latency
// over time, each with its axes, grid and legend; SVG alone, or inside an
// HTML page.
const (
	chartW     = 1200
	chartH     = 810
	marginL    = 90  // room for the y tick labels and the axis title
	marginR    = 190 // room for the legend
	panelTop1  = 130
	panelH     = 260
	panelGap   = 90
	panelTop2  = panelTop1 + panelH + panelGap
	plotW      = chartW - marginL - marginR
	titleWidth = 120 // characters per title line
)

// series is one line of a panel.
type series struct {
	name  string
	color string
	width float64
	dash  string
	y     []float64 // NaN: no value (the line breaks)
}

// panel is one of the two plots.
type panel struct {
	title, unit string
	top         float64
	log         bool
	lines       []series
	format      func(float64) string
}

// writeChart draws the samples; html wraps the SVG in a page.
func writeChart(w io.Writer, asHTML bool, title, subtitle string, samples []sample) error {
	bw := bufio.NewWriter(w)
	if asHTML {
		fmt.Fprintf(bw, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>%s</title>\n"+
			"<style>body{font-family:sans-serif;margin:16px;background:#fff} svg{max-width:100%%;height:auto}</style>\n</head>\n<body>\n",
			html.EscapeString(title))
	} else {
		fmt.Fprint(bw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	}
	svg(bw, title, subtitle, samples)
	if asHTML {
		fmt.Fprint(bw, "</body>\n</html>\n")
	}
	return bw.Flush()
}

func svg(w io.Writer, title, subtitle string, samples []sample) {
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	y := 30
	for _, line := range wrap(title, titleWidth) {
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="18" font-weight="bold" fill="#222">%s</text>`+"\n", marginL-70, y, html.EscapeString(line))
		y += 23
	}
	if subtitle != "" {
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="13" fill="#555">%s</text>`+"\n", marginL-70, y, html.EscapeString(subtitle))
	}
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = s.at.Seconds()
	}
	xMax := 1.0
	if len(xs) > 0 {
		xMax = math.Max(xs[len(xs)-1], 1e-3)
	}
	for _, p := range panels(samples) {
		p.draw(w, xs, xMax)
	}
	if len(samples) == 0 {
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="16" fill="#a00" text-anchor="middle">no interval completed: nothing to plot</text>`+"\n",
			marginL+plotW/2, panelTop1+panelH/2)
	}
	fmt.Fprint(w, "</svg>\n")
}

// wrap splits a title at ", " so that lines stay under n characters.
func wrap(s string, n int) []string {
	var lines []string
	for len(s) > n {
		cut := strings.LastIndex(s[:n], ", ")
		if cut <= 0 {
			break
		}
		lines = append(lines, s[:cut+1])
		s = s[cut+2:]
	}
	return append(lines, s)
}

// panels builds the throughput and latency panels, with only the lines
// that have something to show.
func panels(samples []sample) []panel {
	rates := func(get func(record) float64) []float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = get(toRecord(s))
		}
		return v
	}
	any := func(v []float64) bool {
		for _, x := range v {
			if x > 0 {
				return true
			}
		}
		return false
	}
	thr := panel{title: "Throughput", unit: "msg/s", top: panelTop1, format: fmtCount}
	for _, l := range []series{
		{name: "sent", color: "#1f77b4", width: 6, y: rates(func(r record) float64 { return r.SentRate })},
		{name: "received", color: "#ff7f0e", width: 2.5, y: rates(func(r record) float64 { return r.ReceivedRate })},
		{name: "confirmed", color: "#2ca02c", width: 2, dash: "6 3", y: rates(func(r record) float64 { return r.ConfirmedRate })},
		{name: "returned", color: "#9467bd", width: 2, y: rates(func(r record) float64 { return r.ReturnedRate })},
		{name: "nacked", color: "#d62728", width: 2, y: rates(func(r record) float64 { return r.NackedRate })},
	} {
		if any(l.y) {
			thr.lines = append(thr.lines, l)
		}
	}
	lat := func(get func(latency) time.Duration) []float64 {
		v := make([]float64, len(samples))
		for i, s := range samples {
			v[i] = math.NaN()
			if s.lat.n > 0 {
				v[i] = float64(get(s.lat)) / 1e6
			}
		}
		return v
	}
	lp := panel{title: "Consumer latency", unit: "ms", top: panelTop2, format: fmtMs}
	for _, l := range []series{
		{name: "99th percentile", color: "#d62728", width: 2, y: lat(func(l latency) time.Duration { return l.p99 })},
		{name: "95th percentile", color: "#ff7f0e", width: 2, y: lat(func(l latency) time.Duration { return l.p95 })},
		{name: "75th percentile", color: "#bcbd22", width: 2, y: lat(func(l latency) time.Duration { return l.p75 })},
		{name: "median", color: "#1f77b4", width: 2.5, y: lat(func(l latency) time.Duration { return l.p50 })},
		{name: "min", color: "#7f7f7f", width: 1.5, dash: "4 3", y: lat(func(l latency) time.Duration { return l.min })},
	} {
		if any(l.y) {
			lp.lines = append(lp.lines, l)
		}
	}
	lo, hi := bounds(lp.lines)
	lp.log = lo > 0 && hi/lo > 50
	if lp.log {
		lp.unit = "ms, log scale"
	}
	return []panel{thr, lp}
}

// bounds returns the smallest positive and the largest value.
func bounds(lines []series) (lo, hi float64) {
	lo = math.Inf(1)
	for _, l := range lines {
		for _, v := range l.y {
			if v > 0 && !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo = 0
	}
	return lo, hi
}

func (p panel) draw(w io.Writer, xs []float64, xMax float64) {
	left, top, bottom := float64(marginL), p.top, p.top+panelH
	px := func(x float64) float64 { return left + x/xMax*plotW }
	fmt.Fprintf(w, `<text x="%g" y="%g" font-size="15" font-weight="bold" fill="#222">%s</text>`+"\n", left, top-12, html.EscapeString(p.title))
	// The y axis: ticks and grid.
	lo, hi := bounds(p.lines)
	var ticks []float64
	var py func(float64) float64
	if p.log {
		lo, hi = math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
		py = func(v float64) float64 {
			return bottom - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*panelH
		}
		for d := lo; d <= hi*1.0001; d *= 10 {
			ticks = append(ticks, d)
		}
	} else {
		step := niceStep(math.Max(hi, 1e-9), 5)
		hi = math.Max(math.Ceil(hi/step), 1) * step
		py = func(v float64) float64 { return bottom - v/hi*panelH }
		for v := 0.0; v <= hi*1.0001; v += step {
			ticks = append(ticks, v)
		}
	}
	for _, v := range ticks {
		y := py(v)
		fmt.Fprintf(w, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#e3e3e3"/>`+"\n", left, y, left+plotW, y)
		fmt.Fprintf(w, `<text x="%g" y="%.1f" font-size="12" fill="#444" text-anchor="end">%s</text>`+"\n", left-8, y+4, p.format(v))
	}
	// The x axis.
	step := niceStep(xMax, 10)
	for v := 0.0; v <= xMax*1.0001; v += step {
		x := px(v)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#f0f0f0"/>`+"\n", x, top, x, bottom)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%g" x2="%.1f" y2="%g" stroke="#444"/>`+"\n", x, bottom, x, bottom+5)
		fmt.Fprintf(w, `<text x="%.1f" y="%g" font-size="12" fill="#444" text-anchor="middle">%s</text>`+"\n", x, bottom+19, fmtCount(v))
	}
	fmt.Fprintf(w, `<rect x="%g" y="%g" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", left, top, plotW, panelH)
	fmt.Fprintf(w, `<text x="%g" y="%g" font-size="13" fill="#222" text-anchor="middle">time (s)</text>`+"\n", left+plotW/2, bottom+38)
	fmt.Fprintf(w, `<text transform="translate(%g %g) rotate(-90)" font-size="13" fill="#222" text-anchor="middle">%s (%s)</text>`+"\n",
		left-62, top+panelH/2, html.EscapeString(strings.ToLower(p.title)), html.EscapeString(p.unit))
	if len(p.lines) == 0 {
		fmt.Fprintf(w, `<text x="%g" y="%g" font-size="14" fill="#888" text-anchor="middle">no data</text>`+"\n", left+plotW/2, top+panelH/2)
	}
	// The lines, clipped to the plot area, and the legend.
	markers := len(xs) <= 30
	for i, l := range p.lines {
		var d strings.Builder
		pen := "M"
		for j, v := range l.y {
			if math.IsNaN(v) || (p.log && v <= 0) {
				pen = "M"
				continue
			}
			fmt.Fprintf(&d, "%s%.1f %.1f ", pen, px(xs[j]), py(v))
			pen = "L"
		}
		dash := ""
		if l.dash != "" {
			dash = ` stroke-dasharray="` + l.dash + `"`
		}
		fmt.Fprintf(w, `<path d="%s" fill="none" stroke="%s" stroke-width="%g" stroke-linejoin="round"%s/>`+"\n", strings.TrimSpace(d.String()), l.color, l.width, dash)
		if markers {
			for j, v := range l.y {
				if !math.IsNaN(v) && !(p.log && v <= 0) {
					fmt.Fprintf(w, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(xs[j]), py(v), l.color)
				}
			}
		}
		ly := top + 14 + float64(i)*22
		lx := left + plotW + 20
		fmt.Fprintf(w, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="%g"%s/>`+"\n", lx, ly, lx+28, ly, l.color, l.width, dash)
		fmt.Fprintf(w, `<text x="%g" y="%g" font-size="13" fill="#222">%s</text>`+"\n", lx+36, ly+4, html.EscapeString(l.name))
	}
}

// niceStep returns a step of 1, 2 or 5 times a power of ten that cuts
// span into about n parts.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// fmtCount prints a tick value: 1500 as "1.5k", 2000000 as "2M".
func fmtCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case a >= 1e3:
		return strconv.FormatFloat(math.Round(v/1e3*1000)/1000, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// fmtMs prints a latency tick in milliseconds.
func fmtMs(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}
