package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// result is what a --json run printed.
type result struct {
	intervals []record
	summary   record
	stderr    string
}

// perfJSON runs amqp-perf in-process with --json against the test broker
// and parses its output; the run must succeed.
func perfJSON(t *testing.T, args ...string) result {
	t.Helper()
	url := testbroker.URL(t)
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"--uri", url, "--json"}, args...), &stdout, &stderr)
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	res := result{stderr: stderr.String()}
	sc := bufio.NewScanner(&stdout)
	var summaries int
	for sc.Scan() {
		var r record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "line %q", sc.Text())
		switch r.Type {
		case "interval":
			res.intervals = append(res.intervals, r)
		case "summary":
			res.summary = r
			summaries++
		default:
			t.Fatalf("unknown record type in %q", sc.Text())
		}
	}
	require.Equal(t, 1, summaries, "one summary in:\n%s", stdout.String())
	require.NotNil(t, res.summary.Params, "the summary has the parameters")
	return res
}

// sumIntervals adds up the counts of the intervals.
func (r result) sumIntervals() (c counts) {
	for _, i := range r.intervals {
		c.sent += i.Sent
		c.confirmed += i.Confirmed
		c.returned += i.Returned
		c.nacked += i.Nacked
		c.received += i.Received
	}
	return c
}

func randomName(t *testing.T) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "amqp-perf-test-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(b[:])
}

// admin opens a channel on the test broker for checks and clean-up.
func admin(t *testing.T) *client091.Channel {
	t.Helper()
	conn, err := client091.Dial(testbroker.URL(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}

// queueExists checks with a passive declare (on its own channel: a 404
// closes it).
func queueExists(t *testing.T, name string) (bool, int) {
	t.Helper()
	ch := admin(t)
	info, err := ch.QueueDeclare(name, amqp.QueueOptions{Passive: true})
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == 404 {
		return false, 0
	}
	require.NoError(t, err)
	return true, info.Messages
}

func deleteQueue(t *testing.T, name string) {
	t.Helper()
	_, err := admin(t).QueueDelete(name)
	require.NoError(t, err)
}

func TestShortSession(t *testing.T) {
	for _, proto := range []string{"0-9-1", "0-8"} {
		t.Run(proto, func(t *testing.T) {
			r := perfJSON(t, "--protocol", proto, "-C", "2000", "-x", "1", "-y", "1", "-i", "0.1")
			s := r.summary
			assert.Equal(t, int64(2000), s.Sent)
			assert.Equal(t, int64(2000), s.Received)
			assert.Equal(t, uint64(2000), s.LatencySamples, "every message carries a timestamp")
			require.NotNil(t, s.LatencyMedian)
			assert.LessOrEqual(t, *s.LatencyMin, *s.LatencyMedian)
			assert.LessOrEqual(t, *s.LatencyMedian, *s.LatencyP75)
			assert.LessOrEqual(t, *s.LatencyP75, *s.LatencyP95)
			assert.LessOrEqual(t, *s.LatencyP95, *s.LatencyP99)
			assert.LessOrEqual(t, *s.LatencyP99, *s.LatencyMax)
			assert.Equal(t, proto, s.Params.Protocol)
			// The fresh queue is gone.
			require.Len(t, s.Params.Queues, 1)
			gone, _ := queueExists(t, s.Params.Queues[0])
			assert.False(t, gone, "queue %s deleted at the end", s.Params.Queues[0])
		})
	}
}

func TestConfirmsAndMultipleAcks(t *testing.T) {
	r := perfJSON(t, "-C", "1000", "-x", "2", "-y", "2", "-c", "50", "-q", "100", "-A", "10", "-s", "100", "-f", "persistent")
	s := r.summary
	assert.Equal(t, int64(2000), s.Sent)
	assert.Equal(t, s.Sent, s.Received)
	assert.Equal(t, s.Sent, s.Confirmed)
	assert.Equal(t, int64(0), s.Nacked)
	assert.True(t, s.Params.Persistent)
}

// The intervals add up to the summary, and the CSV file holds the same
// figures as the JSON lines.
func TestIntervalsCSVAndJSONAgree(t *testing.T) {
	csvPath := filepath.Join(t.TempDir(), "run.csv")
	r := perfJSON(t, "-C", "3000", "-r", "6000", "-c", "100", "-i", "0.1", "-o", csvPath)
	require.NotEmpty(t, r.intervals)
	sum := r.sumIntervals()
	assert.Equal(t, r.summary.Sent, sum.sent)
	assert.Equal(t, r.summary.Received, sum.received)
	assert.Equal(t, r.summary.Confirmed, sum.confirmed)

	f, err := os.Open(csvPath)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, len(r.intervals)+2, "header, intervals, summary")
	assert.Equal(t, csvHeader, rows[0])
	for i, rec := range append(r.intervals, r.summary) {
		rec.Params = nil
		assert.Equal(t, rec.csvRow(), rows[i+1], "row %d", i+1)
	}
}

// Queue arguments reach the broker with their types: x-max-length as an
// integer, so a full queue rejects publishes, which confirms report as
// nacks.
func TestQueueArgsAndNacks(t *testing.T) {
	r := perfJSON(t, "-x", "1", "-y", "0", "-C", "100", "-c", "1",
		"--queue-args", "x-max-length=10,x-overflow=reject-publish")
	s := r.summary
	assert.Equal(t, int64(100), s.Sent)
	assert.Equal(t, int64(10), s.Confirmed)
	assert.Equal(t, int64(90), s.Nacked)
	assert.Equal(t, int64(0), s.Received)
}

func TestQuorumQueue(t *testing.T) {
	r := perfJSON(t, "-C", "500", "--quorum-queue", "-c", "100", "-q", "50", "--id", "qq 1")
	assert.Equal(t, int64(500), r.summary.Received)
	assert.Equal(t, "quorum", r.summary.Params.QueueArgs["x-queue-type"])
	assert.True(t, r.summary.Params.Persistent)
	assert.Equal(t, "qq 1", r.summary.Params.ID)
	assert.Contains(t, r.stderr, "amqp-perf: id qq 1, AMQP 0-9-1, 1 producer")
	gone, _ := queueExists(t, r.summary.Params.Queues[0])
	assert.False(t, gone)
}

func TestKeep(t *testing.T) {
	r := perfJSON(t, "-x", "1", "-y", "0", "-C", "20", "--keep")
	q := r.summary.Params.Queues[0]
	exists, n := queueExists(t, q)
	assert.True(t, exists)
	assert.Equal(t, 20, n)
	assert.Contains(t, r.stderr, "kept queue "+q)
	deleteQueue(t, q)
}

// Consumer-only mode consumes a queue filled by another run (the latency
// is measured across runs, from the timestamps), and -D stops each
// consumer after its count; -z alone keeps it running for the time given.
func TestConsumerOnly(t *testing.T) {
	q := randomName(t)
	defer deleteQueue(t, q)
	r := perfJSON(t, "-x", "1", "-y", "0", "-C", "400", "-u", q)
	assert.Equal(t, int64(400), r.summary.Sent)
	exists, n := queueExists(t, q)
	require.True(t, exists, "a queue named by the user is kept")
	assert.Equal(t, 400, n)

	r = perfJSON(t, "-x", "0", "-y", "2", "-u", q, "-D", "150", "-q", "10")
	assert.Equal(t, int64(300), r.summary.Received)
	assert.Equal(t, uint64(300), r.summary.LatencySamples)
	_, n = queueExists(t, q)
	assert.Equal(t, 100, n, "messages past -D are requeued")

	r = perfJSON(t, "-x", "0", "-y", "1", "-u", q, "-z", "0.5", "-i", "0.1")
	assert.Equal(t, int64(100), r.summary.Received)
	assert.GreaterOrEqual(t, r.summary.Duration, 0.5, "consumes for the run time")
}

// Several queues from a pattern: producers and consumers are spread over
// them, the queues are kept (the user named them).
func TestQueuePattern(t *testing.T) {
	prefix := randomName(t)
	r := perfJSON(t, "--queue-pattern", prefix+"-%d", "--queue-pattern-from", "1", "--queue-pattern-to", "3",
		"-x", "3", "-y", "3", "-C", "200")
	assert.Equal(t, int64(600), r.summary.Sent)
	assert.Equal(t, int64(600), r.summary.Received)
	assert.Equal(t, []string{prefix + "-1", prefix + "-2", prefix + "-3"}, r.summary.Params.Queues)
	for _, q := range r.summary.Params.Queues {
		exists, n := queueExists(t, q)
		assert.True(t, exists, q)
		assert.Equal(t, 0, n, q)
		deleteQueue(t, q)
	}
}

// With an exchange and a routing key shared by several queues, every queue
// gets every message.
func TestExchangeAndRoutingKey(t *testing.T) {
	prefix := randomName(t)
	r := perfJSON(t, "-e", "amq.direct", "-k", prefix, "--queue-pattern", prefix+"-%d", "--queue-pattern-to", "2",
		"-x", "1", "-y", "2", "-C", "300", "-f", "mandatory")
	assert.Equal(t, int64(300), r.summary.Sent)
	assert.Equal(t, int64(600), r.summary.Received)
	assert.Equal(t, int64(0), r.summary.Returned)
	for _, q := range r.summary.Params.Queues {
		deleteQueue(t, q)
	}
}

func TestPlotFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"run.svg", "run.html"} {
		path := filepath.Join(dir, name)
		perfJSON(t, "-C", "2000", "-r", "4000", "-i", "0.1", "--plot", path)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		checkChart(t, b, strings.HasSuffix(name, ".html"))
		assert.Contains(t, string(b), "1 producer, 1 consumer, 12 B, rate 4000/s")
	}
}

func TestText(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--uri", testbroker.URL(t), "-C", "500", "-c", "10", "-f", "mandatory", "-i", "0.05", "-d", "t1"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	assert.Regexp(t, `(?m)^id t1, time [0-9.]+ s, sent \d+ msg/s, confirmed \d+ msg/s, nacked \d+ msg/s, returned \d+ msg/s, received \d+ msg/s`, out)
	assert.Regexp(t, `(?m)^amqp-perf: id t1, AMQP 0-9-1, 1 producer, 1 consumer, 12 B, confirm 10, mandatory, queue amqp-perf-[0-9a-f]+; running until the message counts are reached$`, out)
	assert.Regexp(t, `(?m)^summary: [0-9.]+ s, sent 500, confirmed 500, returned 0, nacked 0, received 500$`, out)
	assert.Regexp(t, `(?m)^latency: min/median/75th/95th/99th/max consumer latency \d+/\d+/\d+/\d+/\d+/\d+ µs \(500 messages\)$`, out)
}

// A failed connection exits 1 and never shows the password.
func TestConnectionErrorHidesPassword(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"--uri", "amqp://user:s3cr3t-Sentinel@127.0.0.1:1/", "-C", "1"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "amqp-perf: connecting to amqp://user:xxxxx@127.0.0.1:1/")
	assert.NotContains(t, stdout.String()+stderr.String(), "s3cr3t-Sentinel")
}

// A broker error is reported with its code, and exits 1.
func TestBrokerError(t *testing.T) {
	url := testbroker.URL(t)
	var stdout, stderr bytes.Buffer
	code := run([]string{"--uri", url, "-e", "amq.no-such-exchange", "-C", "1"}, &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr.String(), "declaring exchange amq.no-such-exchange: 404 NOT_FOUND")
}
