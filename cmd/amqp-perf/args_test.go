package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
)

func TestUsageErrors(t *testing.T) {
	t.Setenv("AMQP_URL", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--protocol", "1-0"}, `--protocol "1-0"`},
		{[]string{"--protocol", "0-8", "-c", "10"}, "needs AMQP 0-9-1"},
		{[]string{"-s", "11"}, "-s/--size 11: at least 12 bytes"},
		{[]string{"-x", "0", "-y", "0"}, "at least one producer"},
		{[]string{"-x", "-1"}, "must not be negative"},
		{[]string{"-q", "70000"}, "out of range"},
		{[]string{"-r", "-1"}, "-r/--rate -1: must not be negative"},
		{[]string{"-R", "-5"}, "-R/--consumer-rate -5"},
		{[]string{"-c", "-1"}, "-c/--confirm -1"},
		{[]string{"-z", "soon"}, "want seconds or a duration"},
		{[]string{"-i", "0"}, "--interval must be positive"},
		{[]string{"-f", "fast"}, `-f "fast": want persistent or mandatory`},
		{[]string{"--queue-args", "x-max-length"}, "want name=value"},
		{[]string{"--queue-args", "x-max-length:integer=5"}, `unknown argument type "integer"`},
		{[]string{"--queue-args", "x-max-length:int=five"}, `"five" is not an integer`},
		{[]string{"--queue-args", "x-queue-type=fast"}, "unknown x-queue-type fast"},
		{[]string{"--queue-args", "a=1,a=2"}, "a given twice"},
		{[]string{"--queue-args", "x-queue-type=stream", "-a"}, "stream queues need acknowledgements"},
		{[]string{"--queue-args", "x-queue-type=stream"}, "stream queues need a prefetch count"},
		{[]string{"-u", "q", "--queue-pattern", "q-%d"}, "exclude each other"},
		{[]string{"--queue-pattern", "q"}, "exactly one %d"},
		{[]string{"--queue-pattern", "q-%d-%s"}, "exactly one %d"},
		{[]string{"--queue-pattern", "q-%d", "--queue-pattern-from", "5", "--queue-pattern-to", "2"}, "want 0 <= from <= to"},
		{[]string{"--queue-pattern-to", "3"}, "need --queue-pattern"},
		{[]string{"-k", "key"}, "needs -e/--exchange"},
		{[]string{"-t", "fanout"}, "needs -e/--exchange"},
		{[]string{"-a", "-A", "10"}, "-A needs acknowledgements"},
		{[]string{"--plot", "chart.png"}, "must end in .svg or .html"},
		{[]string{"--quorum-queue", "--queue-args", "x-queue-type=stream"}, "contradict each other"},
		{[]string{"--uri", "http://x"}, "--uri"},
		{[]string{"--no-such-flag"}, "unknown flag"},
		{[]string{"stray"}, "unexpected arguments: stray"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(tc.args, &stdout, &stderr), "%v", tc.args)
		assert.Contains(t, stderr.String(), "amqp-perf: ", "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.want, "%v", tc.args)
		assert.Empty(t, stdout.String(), "%v", tc.args)
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "--help"} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 0, run([]string{arg}, &stdout, &stderr), arg)
		assert.Empty(t, stderr.String(), arg)
		for _, f := range []string{"-x, --producers", "-C, --pmessages", "-D, --cmessages", "-R, --consumer-rate",
			"-c, --confirm", "-f, --flag", "-u, --queue", "--queue-args", "--queue-pattern-from", "--json", "--plot", "--uri"} {
			assert.Contains(t, stdout.String(), f, arg)
		}
	}
}

// --help never shows the password of $AMQP_URL (before, the URI was the
// flag's default and printed as such).
func TestHelpHidesAMQPURLPassword(t *testing.T) {
	t.Setenv("AMQP_URL", "amqp://user:s3cr3t-Sentinel@broker:5672/")
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	assert.Contains(t, out, "--uri")
	assert.NotContains(t, out, "s3cr3t-Sentinel")
	stdout.Reset()
	stderr.Reset()
	run([]string{"--uri", "amqp://user:s3cr3t-Sentinel@broker:notaport/"}, &stdout, &stderr)
	assert.NotContains(t, stdout.String()+stderr.String(), "s3cr3t-Sentinel")
}

func TestParseDefaultsAndFlags(t *testing.T) {
	t.Setenv("AMQP_URL", "")
	c, err := parse([]string{"-x", "2", "-y", "3", "-z", "10", "-f", "persistent,mandatory", "-c", "100",
		"-e", "ex", "-t", "fanout", "-k", "", "--queue-pattern", "p-%d", "--queue-pattern-to", "2"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, 2, c.producers)
	assert.Equal(t, 3, c.consumers)
	assert.Equal(t, 10*time.Second, c.duration)
	assert.True(t, c.persistent)
	assert.True(t, c.mandatory)
	assert.Equal(t, 100, c.confirm)
	assert.Equal(t, "fanout", c.exType)
	assert.True(t, c.keyGiven, "-k '' is given: the empty key")
	assert.Equal(t, []string{"p-1", "p-2"}, c.queues)
	assert.Equal(t, "localhost", c.uri.Host)
	assert.Equal(t, time.Second, c.interval)
	assert.Equal(t, 12, c.size)

	c, err = parse([]string{"-e", "amq.fanout"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "fanout", c.exType, "the type of a built-in exchange")

	c, err = parse([]string{"-f", "persistent", "-f", "mandatory", "-i", "250ms"}, io.Discard)
	require.NoError(t, err)
	assert.True(t, c.persistent && c.mandatory)
	assert.Equal(t, 250*time.Millisecond, c.interval)
}

func TestParseQueueArgs(t *testing.T) {
	args, err := parseQueueArgs([]string{"x-queue-type=quorum, x-max-length=10", "x-big=5000000000,x-flag=true,x-s:string=10,x-f:float=1.5,x-b:bool=0,x-i:int=-3,x-text=abc"})
	require.NoError(t, err)
	assert.Equal(t, amqp.Table{
		"x-queue-type": "quorum", "x-max-length": int32(10), "x-big": int64(5000000000), "x-flag": true,
		"x-s": "10", "x-f": 1.5, "x-b": false, "x-i": int32(-3), "x-text": "abc",
	}, args)
	args, err = parseQueueArgs(nil)
	require.NoError(t, err)
	assert.Nil(t, args)
	for _, bad := range []string{"", "=1", ":int=1", "a=1,", "x:bool=maybe", "x:float=NaN", "x:type=1"} {
		_, err := parseQueueArgs([]string{bad})
		assert.Error(t, err, "%q", bad)
	}
}

func TestSecondsFlag(t *testing.T) {
	var d time.Duration
	s := seconds{&d}
	require.NoError(t, s.Set("2.5"))
	assert.Equal(t, 2500*time.Millisecond, d)
	require.NoError(t, s.Set("1m"))
	assert.Equal(t, time.Minute, d)
	assert.Error(t, s.Set("soon"))
	assert.Error(t, s.Set("1e300"))
	assert.Error(t, s.Set("NaN"))
}

func TestHistogram(t *testing.T) {
	var h histogram
	assert.Equal(t, time.Duration(0), h.quantile(0.5))
	for i := 1000; i >= 1; i-- {
		h.record(time.Duration(i) * time.Microsecond)
	}
	within := func(want, got time.Duration) {
		t.Helper()
		assert.InEpsilon(t, float64(want), float64(got), 0.01, "want %s got %s", want, got)
	}
	within(500*time.Microsecond, h.quantile(0.50))
	within(750*time.Microsecond, h.quantile(0.75))
	within(950*time.Microsecond, h.quantile(0.95))
	within(990*time.Microsecond, h.quantile(0.99))
	assert.Equal(t, 1000*time.Microsecond, h.quantile(1))
	assert.Equal(t, time.Microsecond, h.min)
	assert.Equal(t, time.Microsecond, h.quantile(0))
	for _, v := range []uint64{0, 1, 255, 256, 257, 1 << 20, 1<<40 + 12345, 1 << 62} {
		b := bucket(v)
		assert.Less(t, b, len(h.counts))
		if v >= 256 {
			assert.InEpsilon(t, float64(v), float64(bucketValue(b)), 0.01, "%d", v)
		} else {
			assert.Equal(t, v, bucketValue(b))
		}
	}
	var a, b histogram
	a.record(5 * time.Millisecond)
	b.record(2 * time.Millisecond)
	b.record(9 * time.Millisecond)
	a.merge(&b)
	a.merge(&histogram{}) // an empty one changes nothing
	assert.Equal(t, uint64(3), a.n)
	assert.Equal(t, 2*time.Millisecond, a.min)
	assert.Equal(t, 9*time.Millisecond, a.max)
}

func TestSendTime(t *testing.T) {
	body := make([]byte, 20)
	_, ok := sendTime(body)
	assert.False(t, ok, "no marker")
	copy(body, marker[:])
	body[11] = 42
	ts, ok := sendTime(body)
	assert.True(t, ok)
	assert.Equal(t, int64(42), ts)
	_, ok = sendTime(body[:11])
	assert.False(t, ok, "too short")
}

// The pacer holds events back to the rate (a lower bound on the time, so
// a slow machine cannot fail it), and a closed stop channel ends a wait.
func TestPacer(t *testing.T) {
	p := pacer{rate: 1000}
	begin := time.Now()
	for i := 0; i < 51; i++ {
		require.True(t, p.wait(nil))
	}
	assert.GreaterOrEqual(t, time.Since(begin), 50*time.Millisecond)
	stop := make(chan struct{})
	close(stop)
	slow := pacer{rate: 0.001}
	assert.True(t, slow.wait(stop), "the first event is due at once")
	assert.False(t, slow.wait(stop), "the second would be due in 1000 s")
	none := pacer{}
	assert.True(t, none.wait(stop), "no rate: never waits")
}

func TestRecord(t *testing.T) {
	s := sample{at: 2 * time.Second, dur: 500 * time.Millisecond, n: counts{sent: 100, confirmed: 50, received: 25}}
	r := toRecord(s)
	assert.Equal(t, "interval", r.Type)
	assert.Equal(t, 200.0, r.SentRate)
	assert.Equal(t, 100.0, r.ConfirmedRate)
	assert.Equal(t, 50.0, r.ReceivedRate)
	assert.Nil(t, r.LatencyMedian, "no latency without samples")
	s.summary, s.sendDur = true, 250*time.Millisecond
	s.lat = latency{n: 1, min: 1500 * time.Microsecond, p50: 2 * time.Millisecond, x: 3 * time.Millisecond}
	r = toRecord(s)
	assert.Equal(t, "summary", r.Type)
	assert.Equal(t, 400.0, r.SentRate, "over the producers' time")
	assert.Equal(t, 50.0, r.ReceivedRate, "over the whole run")
	assert.Equal(t, int64(1500), *r.LatencyMin)
	assert.Equal(t, int64(3000), *r.LatencyMax)
	assert.Len(t, r.csvRow(), len(csvHeader))
}

// checkChart checks that a chart is well-formed XML (the HTML page's SVG
// too) with axes, units and a legend.
func checkChart(t *testing.T, b []byte, isHTML bool) {
	t.Helper()
	s := string(b)
	if isHTML {
		require.True(t, strings.HasPrefix(s, "<!DOCTYPE html>"))
		start, end := strings.Index(s, "<svg"), strings.Index(s, "</svg>")
		require.True(t, start > 0 && end > start, "an inline SVG")
		s = s[start : end+len("</svg>")]
	}
	dec := xml.NewDecoder(strings.NewReader(s))
	var texts []string
	paths := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "path" {
				paths++
			}
		case xml.CharData:
			texts = append(texts, string(tok))
		}
	}
	all := strings.Join(texts, "|")
	for _, want := range []string{"Throughput", "Consumer latency", "time (s)", "msg/s", "ms", "sent", "received", "median", "99th percentile"} {
		assert.Contains(t, all, want)
	}
	assert.GreaterOrEqual(t, paths, 4, "lines drawn")
}

func TestChartWithoutSamples(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeChart(&b, false, "amqp-perf: <&>", "", nil))
	assert.Contains(t, b.String(), "nothing to plot")
	assert.Contains(t, b.String(), "amqp-perf: &lt;&amp;&gt;")
	require.NoError(t, xml.Unmarshal(b.Bytes(), new(struct{})))
}

func TestChartHelpers(t *testing.T) {
	assert.Equal(t, 1.0, niceStep(5, 5))
	assert.Equal(t, 2.0, niceStep(9, 5))
	assert.Equal(t, 5000.0, niceStep(21000, 5))
	assert.Equal(t, "1.5k", fmtCount(1500))
	assert.Equal(t, "2M", fmtCount(2e6))
	assert.Equal(t, "0.25", fmtCount(0.25))
	assert.Equal(t, []string{"a, b,", "c"}, wrap("a, b, c", 6))
	assert.Equal(t, []string{"abcdefgh"}, wrap("abcdefgh", 3))
	lo, hi := bounds([]series{{y: []float64{math.NaN(), 0, 3, 0.5}}})
	assert.Equal(t, 0.5, lo)
	assert.Equal(t, 3.0, hi)
}

// After a stall the pacer does not make up for all the lost time at once:
// the burst is bounded by pacerSlack.
func TestPacerBoundsCatchUp(t *testing.T) {
	p := pacer{rate: 1000}
	require.True(t, p.wait(nil))
	p.next = p.next.Add(-time.Second) // as if stalled for a second
	burst := 0
	for time.Until(p.next) <= 0 {
		require.True(t, p.wait(nil))
		burst++
	}
	assert.LessOrEqual(t, burst, 1+int(pacerSlack/time.Millisecond), "events let through at once")
}
