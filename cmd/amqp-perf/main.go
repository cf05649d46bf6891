// Command amqp-perf is a throughput and latency tester in the spirit of
// RabbitMQ's PerfTest, with PerfTest's flag letters: producers publish to
// one or more queues, consumers drain them, the rates and consumer latency
// percentiles are printed every interval and summed up at the end, and the
// figures can be written as CSV, JSON lines or a chart.
//
//	amqp-perf -x 1 -y 1 -z 10                     # 10 seconds, 1 producer, 1 consumer
//	amqp-perf -x 2 -y 2 -C 100000 -c 1000         # 100,000 messages per producer, confirmed
//	amqp-perf -x 0 -y 2 -u jobs -z 60             # consume an existing queue for a minute
//	amqp-perf -r 5000 -f persistent --queue-args x-queue-type=quorum --plot run.svg
//
// Each producer and each consumer has its own connection. Without -u or
// --queue-pattern a fresh queue is declared and deleted at the end.
// See docs/cli.md for every flag and its PerfTest counterpart.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1 // the run failed (connection, broker exception, output file)
	exitUsage = 2 // bad command line
)

// config is the parsed command line.
type config struct {
	uri   amqp.URI // never printed as is: String() hides the password
	proto string

	producers, consumers int
	duration             time.Duration
	pCount, cCount       int     // messages per producer / consumer (0: no limit)
	rate, cRate          float64 // msg/s per producer / consumer (0: no limit)
	size                 int
	confirm              int // unconfirmed messages a producer may have outstanding (0: no confirms)
	multiAck             int
	autoAck              bool
	qos                  int
	persistent           bool
	mandatory            bool

	exchange, exType string
	routingKey       string
	keyGiven         bool
	queues           []string // named by the user (-u or the pattern); empty: a fresh queue
	queueArgs        amqp.Table
	queueType        string // x-queue-type, if given
	keep             bool
	id               string // PerfTest's test ID, shown in the output

	interval time.Duration
	drain    time.Duration
	output   string // CSV file
	json     bool
	plot     string // .svg or .html file
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, runs the test and returns the exit status: 0, 1 for a
// failed run, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parse(args, stdout)
	if errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "amqp-perf: %v\n(see amqp-perf --help)\n", err)
		return exitUsage
	}
	if err := perf(cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "amqp-perf: %s\n", cli.Describe(err))
		return exitFail
	}
	return exitOK
}

// flagGroups declares the flags, in groups for --help.
type flagGroups struct {
	all    *pflag.FlagSet
	groups []*pflag.FlagSet
	titles []string
}

func (g *flagGroups) group(title string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(title, pflag.ContinueOnError)
	fs.SortFlags = false
	g.groups = append(g.groups, fs)
	g.titles = append(g.titles, title)
	return fs
}

// parse reads the command line; help goes to stdout and returns
// pflag.ErrHelp.
func parse(args []string, stdout io.Writer) (config, error) {
	var (
		c                 config
		uri               string
		flags, queueArgs  []string
		pattern, queue    string
		patFrom, patTo    int
		help              bool
		quorum            bool
		predeclared       bool
		exchangeType      string
		routingKey        string
		exchange          string
		confirm, multiAck int
	)
	g := &flagGroups{}
	w := g.group("Producers and consumers")
	w.IntVarP(&c.producers, "producers", "x", 1, "producer count")
	w.IntVarP(&c.consumers, "consumers", "y", 1, "consumer count")
	w.VarP(seconds{&c.duration}, "time", "z", "run time, in seconds or as a duration such as 90s (0: until -C/-D are done or Ctrl-C)")
	w.IntVarP(&c.pCount, "pmessages", "C", 0, "messages each producer sends (0: no limit)")
	w.IntVarP(&c.cCount, "cmessages", "D", 0, "messages each consumer receives before it stops (0: no limit)")
	w.Float64VarP(&c.rate, "rate", "r", 0, "rate limit of each producer, msg/s (0: none)")
	w.Float64VarP(&c.cRate, "consumer-rate", "R", 0, "rate limit of each consumer, msg/s (0: none)")
	m := g.group("Messages, confirms and acknowledgements")
	m.IntVarP(&c.size, "size", "s", 12, fmt.Sprintf("message body size in bytes (at least %d: the body starts with a timestamp)", headerSize))
	m.StringArrayVarP(&flags, "flag", "f", nil, "message flag: persistent or mandatory (repeat the flag, or separate with commas)")
	m.IntVarP(&confirm, "confirm", "c", 0, "publisher confirms, with at most N unconfirmed messages per producer (0: no confirms; 0-9-1 only)")
	m.IntVarP(&multiAck, "multi-ack-every", "A", 0, "acknowledge every N messages at once (0 or 1: each one)")
	m.BoolVarP(&c.autoAck, "autoack", "a", false, "consume without acknowledgements")
	m.IntVarP(&c.qos, "qos", "q", 0, "consumer prefetch count (0: unlimited)")
	t := g.group("Exchange and queues")
	t.StringVarP(&exchange, "exchange", "e", "", "exchange to publish to (default: the default exchange, routing by queue name)")
	t.StringVarP(&exchangeType, "type", "t", "direct", "type of the exchange, if amqp-perf declares it")
	t.StringVarP(&routingKey, "routing-key", "k", "", "routing key and binding key (default: the queue's name)")
	t.StringVarP(&queue, "queue", "u", "", "queue to use, kept at the end (default: a fresh queue, deleted at the end)")
	t.StringArrayVar(&queueArgs, "queue-args", nil, "queue arguments, name=value[,name=value...] (see docs/cli.md for the types)")
	t.StringVar(&pattern, "queue-pattern", "", "several queues, named by a pattern with one %d, e.g. 'perf-%d'")
	t.IntVar(&patFrom, "queue-pattern-from", 1, "first number of --queue-pattern")
	t.IntVar(&patTo, "queue-pattern-to", 1, "last number of --queue-pattern")
	t.BoolVar(&c.keep, "keep", false, "keep the queue amqp-perf declared instead of deleting it at the end")
	t.BoolVar(&quorum, "quorum-queue", false, "quorum queues: the same as --queue-args x-queue-type=quorum -f persistent")
	t.BoolVarP(&predeclared, "predeclared", "p", false, "accepted for PerfTest's sake: existing queues and exchanges are always used as they are")
	o := g.group("Output")
	c.interval = time.Second
	o.VarP(seconds{&c.interval}, "interval", "i", "reporting interval, in seconds or as a duration")
	o.StringVarP(&c.output, "output", "o", "", "also write every interval and the summary to this CSV file")
	o.BoolVar(&c.json, "json", false, "print JSON lines (one object per interval, one summary) instead of text")
	o.StringVar(&c.plot, "plot", "", "draw throughput and latency over time into this .svg or .html file")
	o.DurationVar(&c.drain, "drain-timeout", 10*time.Second, "with -C, how long consumers may go without a message before giving up")
	n := g.group("Connection")
	// No flag default: --help would print $AMQP_URL, password and all.
	n.StringVar(&uri, "uri", "", "broker URI (default $AMQP_URL, else "+cli.DefaultURL+")")
	n.StringVar(&c.proto, "protocol", cli.Proto091, "AMQP version: 0-9-1 or 0-8")
	o.StringVarP(&c.id, "id", "d", "", "test ID, shown in the output, the chart's title and the JSON summary")
	n.BoolVarP(&help, "help", "h", false, "show this help")

	fs := pflag.NewFlagSet("amqp-perf", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for _, gs := range g.groups {
		fs.AddFlagSet(gs)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if help {
		fmt.Fprint(stdout, "Usage: amqp-perf [OPTIONS]\n\nThroughput and latency test against an AMQP broker, with RabbitMQ PerfTest's flag letters.\n")
		for i, gs := range g.groups {
			fmt.Fprintf(stdout, "\n%s:\n%s", g.titles[i], gs.FlagUsages())
		}
		return c, pflag.ErrHelp
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := c.setURI(uri, fs.Changed("uri")); err != nil {
		return c, err
	}
	c.confirm, c.multiAck = confirm, multiAck
	c.exchange, c.exType, c.routingKey, c.keyGiven = exchange, exchangeType, routingKey, fs.Changed("routing-key")
	if err := c.setFlags(flags); err != nil {
		return c, err
	}
	var err error
	if c.queueArgs, err = parseQueueArgs(queueArgs); err != nil {
		return c, err
	}
	if quorum {
		if qt, ok := c.queueArgs["x-queue-type"]; ok && qt != "quorum" {
			return c, fmt.Errorf("--quorum-queue and --queue-args x-queue-type=%v contradict each other", qt)
		}
		if c.queueArgs == nil {
			c.queueArgs = amqp.Table{}
		}
		c.queueArgs["x-queue-type"], c.persistent = "quorum", true
	}
	_ = predeclared
	c.queueType, _ = c.queueArgs["x-queue-type"].(string)
	if c.queues, err = queueNames(queue, pattern, patFrom, patTo, fs.Changed("queue-pattern-from") || fs.Changed("queue-pattern-to")); err != nil {
		return c, err
	}
	if t, ok := builtinTypes[exchange]; ok && !fs.Changed("type") {
		c.exType = t // the broker's own exchanges have a known type
	}
	if fs.Changed("type") && exchange == "" {
		return c, errors.New("-t/--type needs -e/--exchange (the default exchange is always direct)")
	}
	return c, c.check()
}

// builtinTypes are the types of the exchanges every RabbitMQ vhost has.
var builtinTypes = map[string]string{"amq.direct": "direct", "amq.fanout": "fanout", "amq.topic": "topic",
	"amq.headers": "headers", "amq.match": "headers"}

// setURI takes --uri, else $AMQP_URL, else the default; errors never show
// the password.
func (c *config) setURI(raw string, given bool) error {
	what := "--uri"
	if !given {
		what, raw = "$AMQP_URL", os.Getenv("AMQP_URL")
		if raw == "" {
			raw = cli.DefaultURL
		}
	}
	u, err := amqp.ParseURI(raw)
	if err != nil {
		return fmt.Errorf("%s: %s", what, cli.Describe(err))
	}
	c.uri = u
	return nil
}

// setFlags reads the -f values.
func (c *config) setFlags(values []string) error {
	for _, v := range values {
		for _, f := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(f)) {
			case "persistent":
				c.persistent = true
			case "mandatory":
				c.mandatory = true
			default:
				return fmt.Errorf("-f %q: want persistent or mandatory", f)
			}
		}
	}
	return nil
}

// check validates the values that need no broker.
func (c *config) check() error {
	switch {
	case c.proto != cli.Proto091 && c.proto != cli.Proto08:
		return fmt.Errorf("--protocol %q: want 0-9-1 or 0-8", c.proto)
	case c.confirm > 0 && c.proto == cli.Proto08:
		return errors.New("-c/--confirm needs AMQP 0-9-1 (0-8 has no publisher confirms)")
	case c.producers < 0 || c.consumers < 0:
		return errors.New("-x and -y must not be negative")
	case c.producers+c.consumers == 0:
		return errors.New("need at least one producer (-x) or consumer (-y)")
	case c.size < headerSize:
		return fmt.Errorf("-s/--size %d: at least %d bytes (the body starts with a %d-byte timestamp header)", c.size, headerSize, headerSize)
	case c.size > 128<<20:
		return fmt.Errorf("-s/--size %d: at most 128 MiB", c.size)
	case c.rate < 0:
		return fmt.Errorf("-r/--rate %g: must not be negative (0: no limit)", c.rate)
	case c.cRate < 0:
		return fmt.Errorf("-R/--consumer-rate %g: must not be negative (0: no limit)", c.cRate)
	case c.confirm < 0:
		return fmt.Errorf("-c/--confirm %d: must not be negative (0: no confirms)", c.confirm)
	case c.qos < 0 || c.qos > 65535:
		return fmt.Errorf("-q/--qos %d: out of range 0..65535", c.qos)
	case c.pCount < 0 || c.cCount < 0 || c.duration < 0 || c.multiAck < 0:
		return errors.New("-C, -D, -z and -A must not be negative")
	case c.interval <= 0:
		return errors.New("-i/--interval must be positive")
	case c.drain <= 0:
		return errors.New("--drain-timeout must be positive")
	case c.autoAck && c.multiAck > 1:
		return errors.New("-A needs acknowledgements: not with -a")
	case c.exchange == "" && c.keyGiven:
		return errors.New("-k/--routing-key needs -e/--exchange (the default exchange routes by queue name: use -u)")
	case c.plot != "" && !strings.HasSuffix(c.plot, ".svg") && !strings.HasSuffix(c.plot, ".html"):
		return fmt.Errorf("--plot %q: the file name must end in .svg or .html", c.plot)
	}
	if c.queueType == "stream" {
		if c.autoAck {
			return errors.New("stream queues need acknowledgements: not with -a")
		}
		if c.consumers > 0 && c.qos == 0 {
			return errors.New("stream queues need a prefetch count: add -q, e.g. -q 1000")
		}
	}
	return nil
}
