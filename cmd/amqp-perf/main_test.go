package main

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp/internal/testbroker"
)

var summaryRE = regexp.MustCompile(`(?m)^summary: sent (\d+), received (\d+), confirmed (\d+), nacked (\d+) in `)

// perfRun runs amqp-perf in-process and returns sent, received, confirmed.
func perfRun(t *testing.T, args ...string) (sent, received, confirmed int, out string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	out = stdout.String()
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	m := summaryRE.FindStringSubmatch(out)
	require.NotNil(t, m, "no summary line in:\n%s", out)
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return n(m[1]), n(m[2]), n(m[3]), out
}

func TestShortSession(t *testing.T) {
	url := testbroker.URL(t)
	for _, proto := range []string{"0-9-1", "0-8"} {
		t.Run(proto, func(t *testing.T) {
			sent, received, _, out := perfRun(t, "-u", url, "--protocol", proto, "-C", "2000", "-x", "1", "-y", "1", "-i", "100ms")
			assert.Equal(t, 2000, sent)
			assert.Equal(t, sent, received)
			assert.Contains(t, out, "latency: p50 ")
		})
	}
}

func TestConfirmsAndMultipleAcks(t *testing.T) {
	url := testbroker.URL(t)
	sent, received, confirmed, _ := perfRun(t, "-u", url, "-C", "1000", "-x", "2", "-y", "2",
		"--confirm", "--confirm-max", "50", "-q", "100", "-A", "10", "-s", "100")
	assert.Equal(t, 2000, sent)
	assert.Equal(t, sent, received)
	assert.Equal(t, sent, confirmed)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--protocol", "1-0"},
		{"--protocol", "0-8", "--confirm"},
		{"-s", "4"},
		{"-x", "0", "-y", "0"},
		{"-q", "70000"},
		{"stray"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(args, &stdout, &stderr), "%v", args)
		assert.Contains(t, stderr.String(), "amqp-perf:", "%v", args)
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
}

func TestHistogram(t *testing.T) {
	var h histogram
	assert.Equal(t, time.Duration(0), h.quantile(0.5))
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	within := func(want, got time.Duration) {
		t.Helper()
		assert.InEpsilon(t, float64(want), float64(got), 0.01, "want %s got %s", want, got)
	}
	within(500*time.Microsecond, h.quantile(0.50))
	within(950*time.Microsecond, h.quantile(0.95))
	within(990*time.Microsecond, h.quantile(0.99))
	assert.Equal(t, 1000*time.Microsecond, h.quantile(1))
	for _, v := range []uint64{0, 1, 255, 256, 257, 1 << 20, 1<<40 + 12345, 1 << 62} {
		b := bucket(v)
		assert.Less(t, b, len(h.counts))
		if v >= 256 {
			assert.InEpsilon(t, float64(v), float64(bucketValue(b)), 0.01, "%d", v)
		} else {
			assert.Equal(t, v, bucketValue(b))
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
}
