// Command amqp-perf is a throughput and latency tester in the spirit of
// RabbitMQ's PerfTest: producers publish to one queue, consumers drain it,
// live rates are printed every second, and a summary with latency
// percentiles (from a timestamp in each body) closes the run.
//
//	amqp-perf -x 1 -y 1 -z 10s              # 10 seconds, 1 producer, 1 consumer
//	amqp-perf -x 2 -y 2 -C 100000 --confirm # 100,000 messages per producer, confirmed
//	amqp-perf --protocol 0-8 -s 1024 -q 500 # AMQP 0-8, 1 KiB bodies, prefetch 500
//
// Each producer and each consumer has its own connection. Without --queue a
// fresh queue is declared and deleted at the end.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// defaultURL is used when neither -u nor $AMQP_URL is set: the default
// vhost "/" on localhost.
const defaultURL = "amqp://guest:guest@localhost:5672"

// config is the parsed command line.
type config struct {
	url        string
	proto      string
	producers  int
	consumers  int
	size       int
	confirm    bool
	confirmMax int
	qos        int
	autoAck    bool
	multiAck   int
	duration   time.Duration
	count      int // messages per producer (0: no limit)
	rate       float64
	queue      string
	interval   time.Duration
	drain      time.Duration
}

// seconds is a duration flag that also takes a bare number of seconds, as
// PerfTest's -z does ("-z 10" or "-z 10s").
type seconds struct{ d *time.Duration }

func (s seconds) String() string { return s.d.String() }
func (s seconds) Type() string   { return "duration" }
func (s seconds) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		*s.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds or a duration such as 30s: %w", err)
	}
	*s.d = d
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the test and returns the exit status: 0, 1 for a
// failed run, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "amqp-perf: %v\n", err)
		return 2
	}
	if err := perf(cfg, stdout); err != nil {
		fmt.Fprintf(stderr, "amqp-perf: %v\n", err)
		return 1
	}
	return 0
}

func parse(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := pflag.NewFlagSet("amqp-perf", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	// No flag default: --help would print $AMQP_URL, password and all.
	fs.StringVarP(&c.url, "uri", "u", "", "broker URI (default $AMQP_URL, else "+defaultURL+")")
	fs.StringVar(&c.proto, "protocol", "0-9-1", "AMQP version: 0-9-1 or 0-8")
	fs.IntVarP(&c.producers, "producers", "x", 1, "producer count")
	fs.IntVarP(&c.consumers, "consumers", "y", 1, "consumer count")
	fs.IntVarP(&c.size, "size", "s", 12, "message size in bytes (at least 8: the body carries a timestamp)")
	fs.BoolVar(&c.confirm, "confirm", false, "publish in confirm mode (0-9-1)")
	fs.IntVar(&c.confirmMax, "confirm-max", 1000, "with --confirm, unconfirmed messages a producer may have outstanding")
	fs.IntVarP(&c.qos, "qos", "q", 0, "consumer prefetch count (0: unlimited)")
	fs.BoolVarP(&c.autoAck, "autoack", "a", false, "consume without acknowledgements")
	fs.IntVarP(&c.multiAck, "multi-ack-every", "A", 0, "acknowledge every N messages with multiple (0 or 1: each one)")
	fs.VarP(seconds{&c.duration}, "time", "z", "run time, in seconds or as a duration (0: until -C or Ctrl-C)")
	fs.IntVarP(&c.count, "pmessages", "C", 0, "messages per producer (0: no limit)")
	fs.Float64VarP(&c.rate, "rate", "r", 0, "publishing rate limit per producer, msg/s (0: none)")
	fs.StringVar(&c.queue, "queue", "", "queue to use (default: a fresh queue, deleted at the end)")
	fs.DurationVarP(&c.interval, "interval", "i", time.Second, "live rate reporting interval")
	fs.DurationVar(&c.drain, "drain-timeout", 10*time.Second, "with -C, how long consumers may go without a message before giving up")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: amqp-perf [flags]\n\nThroughput and latency test against an AMQP broker.\n\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.url == "" {
		c.url = os.Getenv("AMQP_URL")
	}
	if c.url == "" {
		c.url = defaultURL
	}
	switch {
	case c.proto != "0-9-1" && c.proto != "0-8":
		return c, fmt.Errorf("--protocol %q: want 0-9-1 or 0-8", c.proto)
	case c.confirm && c.proto == "0-8":
		return c, errors.New("--confirm needs AMQP 0-9-1 (0-8 has no publisher confirms)")
	case c.producers < 0 || c.consumers < 0 || c.producers+c.consumers == 0:
		return c, errors.New("need at least one producer (-x) or consumer (-y)")
	case c.size < 8:
		return c, fmt.Errorf("--size %d: at least 8 bytes (the body carries a timestamp)", c.size)
	case c.confirmMax < 1:
		return c, errors.New("--confirm-max must be at least 1")
	case c.qos < 0 || c.qos > 65535:
		return c, fmt.Errorf("--qos %d out of range 0..65535", c.qos)
	case c.count < 0 || c.duration < 0 || c.rate < 0 || c.multiAck < 0:
		return c, errors.New("-C, -z, -r and -A must not be negative")
	case c.interval <= 0:
		return c, errors.New("--interval must be positive")
	}
	return c, nil
}
