// Command bench runs the same scenarios against one RabbitMQ with this
// library (github.com/amqplib-go/amqp, AMQP 0-9-1 and 0-8) and with
// github.com/rabbitmq/amqp091-go, one after the other in one process, and
// prints a table of medians with their spread:
//
//	go run . -runs 3            # the full sizes (a few minutes)
//	go run . -scale 0.05        # a quick run
//	go run . -only S1,S4 -cpuprofile prof/
//
// Throughput is measured in the process (wall clock around the measured
// part only: declaring and pre-filling queues are outside it). Client CPU is
// the process's user+sys time from getrusage(RUSAGE_SELF) over the same
// part, divided by the operation count; a GC runs before each measured part
// so one client's garbage is not billed to the other. The two clients run
// alternately (ours first on even runs, theirs first on odd ones) so a drift
// in the machine's load hits both alike.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// env is what every scenario needs.
type env struct {
	url   string
	admin *admin
	small []byte // the 64-byte body
	large []byte // the 16 MiB body
}

type runFunc func(env *env, m *meter, queue string, n int) error

// unit kinds
const (
	msgPerSec = "msg/s"
	mibPerSec = "MiB/s"
	msEach    = "ms each"
)

// scenario is one row of the table.
type scenario struct {
	id      string // S1 … S7, with /0-8 for the 0-8 rows
	title   string
	unit    string
	n       int // operations (scaled)
	prefill bool
	ours    runFunc
	theirs  runFunc // nil: no amqp091-go counterpart (0-8)
	// targets from the issue: speedup (ours/theirs) at least speedup, and
	// our CPU per operation at most cpu × theirs (0: no CPU target)
	speedup, cpu float64
}

// value converts a measured part to the scenario's unit.
func (s *scenario) value(elapsed time.Duration) float64 {
	switch s.unit {
	case mibPerSec:
		return float64(s.n) * 2 * 16 / elapsed.Seconds() // 16 MiB out and back per operation
	case msEach:
		return float64(elapsed) / 1e6 / float64(s.n)
	}
	return float64(s.n) / elapsed.Seconds()
}

// faster returns how many times ours beats theirs in this unit.
func (s *scenario) faster(ours, theirs float64) float64 {
	if s.unit == msEach {
		return theirs / ours
	}
	return ours / theirs
}

func scenarios(scale float64) []*scenario {
	n := func(full int) int { return max(1, int(math.Round(float64(full)*scale))) }
	o9, o8 := ours091, ours08
	list := []*scenario{
		{id: "S1", title: fmt.Sprintf("publish %d × 64 B, no confirms", n(200000)), unit: msgPerSec, n: n(200000),
			ours: o9.publish, theirs: theirPublish, speedup: 1.25, cpu: 0.4},
		{id: "S2", title: fmt.Sprintf("publish %d × 64 B, streaming confirms", n(50000)), unit: msgPerSec, n: n(50000),
			ours: o9.publishConfirms, theirs: theirPublishConfirms, speedup: 1.3},
		{id: "S3", title: fmt.Sprintf("publish %d × 64 B, wait for each confirm", n(5000)), unit: msgPerSec, n: n(5000),
			ours: o9.publishEachConfirmed, theirs: theirPublishEachConfirmed, speedup: 1.3, cpu: 0.5},
		{id: "S4", title: fmt.Sprintf("%d basic.get round trips (no-ack)", n(20000)), unit: msgPerSec, n: n(20000), prefill: true,
			ours: o9.get, theirs: theirGet, speedup: 1.3, cpu: 0.5},
		{id: "S5", title: fmt.Sprintf("consume %d, qos 1000, ack multiple/100", n(200000)), unit: msgPerSec, n: n(200000), prefill: true,
			ours: o9.consume, theirs: theirConsume, speedup: 1.3},
		{id: "S6", title: fmt.Sprintf("publish + get 16 MiB, %d times", n(10)), unit: mibPerSec, n: n(10),
			ours: o9.large, theirs: theirLarge, speedup: 2.5},
		{id: "S7", title: fmt.Sprintf("connect + channel + close, %d times", n(200)), unit: msEach, n: n(200),
			ours: o9.connect, theirs: theirConnect, speedup: 1.0},
	}
	for _, s := range list[:] {
		var f runFunc
		switch s.id {
		case "S7":
			f = o8.connect
		case "S1":
			f = o8.publish
		case "S4":
			f = o8.get
		case "S5":
			f = o8.consume
		case "S6":
			f = o8.large
		default:
			continue
		}
		c := *s
		c.id, c.ours, c.theirs, c.speedup, c.cpu = s.id+"/0-8", f, nil, 0, 0
		list = append(list, &c)
	}
	// The floor: S4 with no client library at all, against amqp091-go.
	floor := *list[3]
	floor.id, floor.title, floor.ours, floor.speedup, floor.cpu = "S4/floor", "S4 without a library (write, read inline)", floorGet, 0, 0
	// And S7 with no client library.
	floor7 := *list[6]
	floor7.id, floor7.title, floor7.ours, floor7.speedup, floor7.cpu = "S7/floor", "S7 without a library (write, read inline)", floorConnect, 0, 0
	return append(list, &floor, &floor7)
}

// result holds every run of one scenario.
type result struct {
	s                  *scenario
	ours, theirs       []sample
	speedups, cpuRatio []float64
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defURL := os.Getenv("AMQP_URL")
	if defURL == "" {
		defURL = "amqp://guest:guest@localhost:5672"
	}
	url := fs.String("url", defURL, "broker URL (default $AMQP_URL)")
	runs := fs.Int("runs", 3, "runs per scenario and client; the table shows medians and min..max")
	scale := fs.Float64("scale", 1, "scale every count (e.g. 0.1 for a quick run)")
	only := fs.String("only", "", "comma-separated scenario ids to run (e.g. S1,S4,S5/0-8); default all")
	profDir := fs.String("cpuprofile", "", "write a CPU profile of each measured part to this directory (slows the runs)")
	markdown := fs.Bool("markdown", false, "print the table as markdown")
	verbose := fs.Bool("v", false, "print every run on stderr")
	withTheirs := fs.Bool("theirs", true, "also run amqp091-go (false: this library only, e.g. to compare engine changes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *runs < 1 || *scale <= 0 {
		fmt.Fprintln(stderr, "bench: -runs must be at least 1 and -scale positive")
		return 2
	}
	adm, err := newAdmin(*url)
	if err != nil {
		fmt.Fprintf(stderr, "bench: cannot reach the broker: %v\n", err)
		return 1
	}
	defer adm.Close()
	e := &env{url: *url, admin: adm, small: make([]byte, 64), large: make([]byte, 16<<20)}
	for i := range e.small {
		e.small[i] = byte('a' + i%26)
	}
	for i := range e.large {
		e.large[i] = byte(i * 7)
	}

	var selected []*scenario
	want := map[string]bool{}
	for _, id := range strings.Split(*only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			want[strings.ToUpper(id)] = true
		}
	}
	for _, s := range scenarios(*scale) {
		if len(want) == 0 || want[strings.ToUpper(s.id)] {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		fmt.Fprintf(stderr, "bench: no scenario matches -only %q\n", *only)
		return 2
	}

	fmt.Fprintf(stdout, "%s, GOMAXPROCS %d, %d CPUs; broker %s; amqp091-go %s\n",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), adm.conn.ServerVersion(), theirVersion())
	fmt.Fprintf(stdout, "%d run(s) per scenario and client, scale %g; medians [min..max]; speedup = ours/theirs (ms: theirs/ours); CPU = client user+sys per operation\n\n", *runs, *scale)

	var results []*result
	for _, s := range selected {
		r := &result{s: s}
		for i := 0; i < *runs; i++ {
			type side struct {
				name string
				fn   runFunc
				dst  *[]sample
			}
			sides := []side{{"ours", s.ours, &r.ours}}
			if s.theirs != nil && *withTheirs {
				if i%2 == 1 {
					sides = []side{{"theirs", s.theirs, &r.theirs}, sides[0]}
				} else {
					sides = append(sides, side{"theirs", s.theirs, &r.theirs})
				}
			}
			for _, sd := range sides {
				m := &meter{}
				if *profDir != "" {
					m.profile = filepath.Join(*profDir, fmt.Sprintf("%s-%s-%d.pprof", strings.ReplaceAll(s.id, "/", "_"), sd.name, i+1))
				}
				smp, err := runOne(e, s, sd.name, sd.fn, m)
				if err != nil {
					fmt.Fprintf(stderr, "bench: %s (%s), run %d: %v\n", s.id, sd.name, i+1, err)
					return 1
				}
				if *verbose {
					fmt.Fprintf(stderr, "%-7s %-6s run %d: %s %s, CPU %s/op, %.1f allocs/op, %.2f context switches/op (elapsed %s, CPU %s)\n", s.id, sd.name, i+1,
						human(smp.value), s.unit, cpuString(float64(smp.cpu)), smp.allocs, float64(m.csw)/float64(s.n), m.elapsed.Round(time.Millisecond), m.cpu.Round(time.Millisecond))
				}
				*sd.dst = append(*sd.dst, smp)
			}
			if len(r.theirs) > 0 {
				o, t := r.ours[len(r.ours)-1], r.theirs[len(r.theirs)-1]
				r.speedups = append(r.speedups, s.faster(o.value, t.value))
				r.cpuRatio = append(r.cpuRatio, float64(o.cpu)/float64(t.cpu))
			}
		}
		results = append(results, r)
		if !*markdown {
			fmt.Fprintf(stderr, "bench: %s done\n", s.id)
		}
	}
	printTable(stdout, results, *markdown)
	return 0
}

// runOne runs one side of a scenario on a fresh queue, deleted afterwards.
func runOne(e *env, s *scenario, side string, fn runFunc, m *meter) (sample, error) {
	q := queueName(strings.ReplaceAll(s.id, "/", "_"), side)
	if err := e.admin.declare(q); err != nil {
		return sample{}, err
	}
	defer e.admin.remove(q)
	if s.prefill {
		if err := e.admin.prefill(q, s.n, e.small); err != nil {
			return sample{}, fmt.Errorf("pre-filling: %w", err)
		}
	}
	err := fn(e, m, q, s.n)
	m.Stop()
	if err != nil {
		return sample{}, err
	}
	return sample{value: s.value(m.elapsed), cpu: m.cpu / time.Duration(s.n), allocs: float64(m.allocs) / float64(s.n)}, nil
}

func theirVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/rabbitmq/amqp091-go" {
				return d.Version
			}
		}
	}
	return "(unknown)"
}

func spread(st stat, f func(float64) string) string {
	return fmt.Sprintf("%s [%s..%s]", f(st.med), f(st.min), f(st.max))
}

func ratio(v float64) string { return fmt.Sprintf("%.2f×", v) }

func allocString(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func printTable(w io.Writer, results []*result, markdown bool) {
	header := []string{"scenario", "unit", "ours", "amqp091-go", "speedup", "CPU/op ours", "CPU/op theirs", "CPU ours/theirs", "allocs/op ours/theirs", "target", "met"}
	var rows [][]string
	for _, r := range results {
		s := r.s
		vals := func(xs []sample) (v, c, a []float64) {
			for _, x := range xs {
				v, c, a = append(v, x.value), append(c, float64(x.cpu)), append(a, x.allocs)
			}
			return
		}
		ov, oc, oa := vals(r.ours)
		row := []string{s.id + " " + s.title, s.unit, spread(summarize(ov), human), "—", "—",
			spread(summarize(oc), cpuString), "—", "—", allocString(summarize(oa).med) + " / —", "—", "—"}
		if len(r.theirs) > 0 {
			tv, tc, ta := vals(r.theirs)
			row[8] = allocString(summarize(oa).med) + " / " + allocString(summarize(ta).med)
			sp, cr := summarize(r.speedups), summarize(r.cpuRatio)
			row[3] = spread(summarize(tv), human)
			row[4] = spread(sp, ratio)
			row[6] = spread(summarize(tc), cpuString)
			row[7] = spread(cr, ratio)
			target := fmt.Sprintf("≥%.2f×", s.speedup)
			met := sp.med >= s.speedup
			if s.unit == msEach {
				target = "no slower"
			}
			if s.cpu > 0 {
				target += fmt.Sprintf(", CPU ≤%.1f×", s.cpu)
				met = met && cr.med <= s.cpu
			}
			row[9] = target
			row[10] = map[bool]string{true: "yes", false: "NO"}[met]
			if s.speedup == 0 { // a reference row, no target
				row[9], row[10] = "—", "—"
			}
		}
		rows = append(rows, row)
	}
	if markdown {
		fmt.Fprintln(w, "| "+strings.Join(header, " | ")+" |")
		fmt.Fprintln(w, "|"+strings.Repeat(" --- |", len(header)))
		for _, row := range rows {
			fmt.Fprintln(w, "| "+strings.Join(row, " | ")+" |")
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}
