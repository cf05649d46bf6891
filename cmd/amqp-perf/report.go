package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"
)

// counts are the message counters, cumulative or for one interval.
type counts struct{ sent, confirmed, returned, nacked, received int64 }

func (c counts) minus(o counts) counts {
	return counts{c.sent - o.sent, c.confirmed - o.confirmed, c.returned - o.returned, c.nacked - o.nacked, c.received - o.received}
}

// latency is the consumer latency of the messages of an interval or run.
type latency struct {
	n                          uint64
	min, p50, p75, p95, p99, x time.Duration // x: the maximum
}

func latencyOf(h *histogram) latency {
	if h.n == 0 {
		return latency{}
	}
	return latency{n: h.n, min: h.min, p50: h.quantile(0.50), p75: h.quantile(0.75),
		p95: h.quantile(0.95), p99: h.quantile(0.99), x: h.max}
}

// sample is one interval, or the summary of the run.
type sample struct {
	summary  bool
	at       time.Duration // since the start, at the end of the interval
	dur      time.Duration // the interval's length (summary: the run's)
	sendDur  time.Duration // summary: how long the producers ran
	n        counts
	lat      latency
	producer bool // there were producers (for the rates of the summary)
}

// record is a sample as one JSON object or CSV row; the field names are
// documented in docs/cli.md.
type record struct {
	Type           string  `json:"type"` // "interval" or "summary"
	Time           float64 `json:"time_s"`
	Duration       float64 `json:"duration_s"`
	Sent           int64   `json:"sent"`
	Confirmed      int64   `json:"confirmed"`
	Returned       int64   `json:"returned"`
	Nacked         int64   `json:"nacked"`
	Received       int64   `json:"received"`
	SentRate       float64 `json:"sent_rate"`
	ConfirmedRate  float64 `json:"confirmed_rate"`
	ReturnedRate   float64 `json:"returned_rate"`
	NackedRate     float64 `json:"nacked_rate"`
	ReceivedRate   float64 `json:"received_rate"`
	LatencySamples uint64  `json:"latency_samples"`
	LatencyMin     *int64  `json:"latency_min_us"`
	LatencyMedian  *int64  `json:"latency_median_us"`
	LatencyP75     *int64  `json:"latency_p75_us"`
	LatencyP95     *int64  `json:"latency_p95_us"`
	LatencyP99     *int64  `json:"latency_p99_us"`
	LatencyMax     *int64  `json:"latency_max_us"`
	Params         *params `json:"params,omitempty"` // summary only
}

// params are the run's parameters, in the JSON summary.
type params struct {
	ID           string         `json:"id,omitempty"`
	Protocol     string         `json:"protocol"`
	Producers    int            `json:"producers"`
	Consumers    int            `json:"consumers"`
	Size         int            `json:"size"`
	Confirm      int            `json:"confirm"`
	MultiAck     int            `json:"multi_ack_every"`
	AutoAck      bool           `json:"autoack"`
	Qos          int            `json:"qos"`
	Rate         float64        `json:"rate"`
	ConsumerRate float64        `json:"consumer_rate"`
	Persistent   bool           `json:"persistent"`
	Mandatory    bool           `json:"mandatory"`
	Exchange     string         `json:"exchange"`
	Queues       []string       `json:"queues"`
	QueueArgs    map[string]any `json:"queue_args,omitempty"`
	Time         float64        `json:"time_s"`
	PMessages    int            `json:"pmessages"`
	CMessages    int            `json:"cmessages"`
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(n)/d.Seconds()*10) / 10
}

func us(d time.Duration) *int64 {
	v := d.Microseconds()
	return &v
}

// toRecord converts a sample; the summary's producer rates are over the
// time the producers ran, its received rate over the whole run.
func toRecord(s sample) record {
	r := record{Type: "interval", Time: s.at.Seconds(), Duration: s.dur.Seconds(),
		Sent: s.n.sent, Confirmed: s.n.confirmed, Returned: s.n.returned, Nacked: s.n.nacked, Received: s.n.received}
	pd := s.dur
	if s.summary {
		r.Type, pd = "summary", s.sendDur
	}
	r.SentRate, r.ConfirmedRate = rate(s.n.sent, pd), rate(s.n.confirmed, pd)
	r.ReturnedRate, r.NackedRate = rate(s.n.returned, pd), rate(s.n.nacked, pd)
	r.ReceivedRate = rate(s.n.received, s.dur)
	if r.LatencySamples = s.lat.n; s.lat.n > 0 {
		r.LatencyMin, r.LatencyMedian, r.LatencyP75 = us(s.lat.min), us(s.lat.p50), us(s.lat.p75)
		r.LatencyP95, r.LatencyP99, r.LatencyMax = us(s.lat.p95), us(s.lat.p99), us(s.lat.x)
	}
	return r
}

// csvHeader is the CSV file's first row: the JSON names.
var csvHeader = []string{"type", "time_s", "duration_s", "sent", "confirmed", "returned", "nacked", "received",
	"sent_rate", "confirmed_rate", "returned_rate", "nacked_rate", "received_rate", "latency_samples",
	"latency_min_us", "latency_median_us", "latency_p75_us", "latency_p95_us", "latency_p99_us", "latency_max_us"}

func (r record) csvRow() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	p := func(v *int64) string {
		if v == nil {
			return ""
		}
		return i(*v)
	}
	return []string{r.Type, f(math.Round(r.Time*1000) / 1000), f(math.Round(r.Duration*1000) / 1000),
		i(r.Sent), i(r.Confirmed), i(r.Returned), i(r.Nacked), i(r.Received),
		f(r.SentRate), f(r.ConfirmedRate), f(r.ReturnedRate), f(r.NackedRate), f(r.ReceivedRate),
		strconv.FormatUint(r.LatencySamples, 10),
		p(r.LatencyMin), p(r.LatencyMedian), p(r.LatencyP75), p(r.LatencyP95), p(r.LatencyP99), p(r.LatencyMax)}
}

// reporter writes the samples as text or JSON lines, to the CSV file, and
// keeps them for the chart.
type reporter struct {
	cfg     config
	out     io.Writer
	csvFile *os.File
	csv     *csv.Writer
	plot    *os.File
	samples []sample
	params  params
}

// newReporter creates the output files at once, so that a bad path fails
// before the run.
func newReporter(cfg config, out io.Writer) (*reporter, error) {
	r := &reporter{cfg: cfg, out: out}
	if cfg.output != "" {
		f, err := os.Create(cfg.output)
		if err != nil {
			return nil, fmt.Errorf("--output: %w", err)
		}
		r.csvFile, r.csv = f, csv.NewWriter(f)
		if err := r.csv.Write(csvHeader); err != nil {
			f.Close()
			return nil, fmt.Errorf("--output: %w", err)
		}
	}
	if cfg.plot != "" {
		f, err := os.Create(cfg.plot)
		if err != nil {
			if r.csvFile != nil {
				r.csvFile.Close()
			}
			return nil, fmt.Errorf("--plot: %w", err)
		}
		r.plot = f
	}
	return r, nil
}

func (r *reporter) write(s sample) error {
	if !s.summary {
		r.samples = append(r.samples, s)
	}
	rec := toRecord(s)
	if r.csv != nil {
		if err := r.csv.Write(rec.csvRow()); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
	}
	if r.cfg.json {
		if s.summary {
			rec.Params = &r.params
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(r.out, "%s\n", b)
		return err
	}
	if s.summary {
		r.textSummary(s, rec)
	} else {
		r.textInterval(s, rec)
	}
	return nil
}

func latencyText(l latency, withMax bool) string {
	v := []time.Duration{l.min, l.p50, l.p75, l.p95, l.p99}
	names := "min/median/75th/95th/99th"
	if withMax {
		v, names = append(v, l.x), names+"/max"
	}
	s := make([]string, len(v))
	for i, d := range v {
		s[i] = strconv.FormatInt(d.Microseconds(), 10)
	}
	return names + " consumer latency " + strings.Join(s, "/") + " µs"
}

func (r *reporter) textInterval(s sample, rec record) {
	var parts []string
	if r.cfg.producers > 0 {
		parts = append(parts, fmt.Sprintf("sent %.0f msg/s", rec.SentRate))
		if r.cfg.confirm > 0 {
			parts = append(parts, fmt.Sprintf("confirmed %.0f msg/s", rec.ConfirmedRate), fmt.Sprintf("nacked %.0f msg/s", rec.NackedRate))
		}
		if r.cfg.mandatory {
			parts = append(parts, fmt.Sprintf("returned %.0f msg/s", rec.ReturnedRate))
		}
	}
	if r.cfg.consumers > 0 {
		parts = append(parts, fmt.Sprintf("received %.0f msg/s", rec.ReceivedRate))
		if s.lat.n > 0 {
			parts = append(parts, latencyText(s.lat, false))
		}
	}
	id := ""
	if r.cfg.id != "" {
		id = "id " + r.cfg.id + ", "
	}
	fmt.Fprintf(r.out, "%stime %.3f s, %s\n", id, s.at.Seconds(), strings.Join(parts, ", "))
}

func (r *reporter) textSummary(s sample, rec record) {
	fmt.Fprintf(r.out, "summary: %.3f s, sent %d, confirmed %d, returned %d, nacked %d, received %d\n",
		s.dur.Seconds(), s.n.sent, s.n.confirmed, s.n.returned, s.n.nacked, s.n.received)
	fmt.Fprintf(r.out, "rates: sent %.0f msg/s, confirmed %.0f msg/s, returned %.0f msg/s, nacked %.0f msg/s, received %.0f msg/s\n",
		rec.SentRate, rec.ConfirmedRate, rec.ReturnedRate, rec.NackedRate, rec.ReceivedRate)
	if s.lat.n > 0 {
		fmt.Fprintf(r.out, "latency: %s (%d messages)\n", latencyText(s.lat, true), s.lat.n)
	}
}

// close flushes the CSV file and draws the chart.
func (r *reporter) close(title, subtitle string) error {
	var first error
	keep := func(what string, err error) {
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", what, err)
		}
	}
	if r.csvFile != nil {
		r.csv.Flush()
		keep("--output", r.csv.Error())
		keep("--output", r.csvFile.Close())
	}
	if r.plot != nil {
		html := strings.HasSuffix(r.cfg.plot, ".html")
		keep("--plot", writeChart(r.plot, html, title, subtitle, r.samples))
		keep("--plot", r.plot.Close())
	}
	return first
}
