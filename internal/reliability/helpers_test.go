package reliability_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/conformance"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// Conn is the connection API both dialects share.
type Conn interface {
	Channel() (Channel, error)
	Close() error
	Err() error
	Done() <-chan struct{}
	IsClosed() bool
	State() string
	Heartbeat() time.Duration
}

// Channel is the channel API both dialects share.
type Channel interface {
	conformance.Channel
	ID() uint16
	Wait() error
	Pending() int
	Err() error
	Done() <-chan struct{}
}

// dispatchQueued runs the callbacks of every event already queued on ch
// (inside Wait, where callbacks run), even after the channel closed.
func dispatchQueued(t *testing.T, ch Channel) {
	t.Helper()
	for ch.Pending() > 0 {
		if err := ch.Wait(); err != nil {
			t.Fatalf("Wait with %d event(s) queued: %v", ch.Pending(), err)
		}
	}
}

// Confirmer is what a 0-9-1 channel adds for publisher confirms.
type Confirmer interface {
	ConfirmSelect() error
	PublishSeq() uint64
	WaitConfirm(seq uint64) error
	WaitConfirms() error
	OnConfirm(fn func(amqp.Confirmation))
}

// dialect is one protocol version under test.
type dialect struct {
	name     string
	dial     func(url string, cfg amqp.Config) (Conn, error)
	confirms bool // publisher confirms (0-9-1 only)
}

type conn091 struct{ *client091.Conn }

func (c conn091) Channel() (Channel, error) {
	ch, err := c.Conn.Channel()
	if err != nil {
		return nil, err
	}
	return ch, nil
}

type conn08 struct{ *client08.Conn }

func (c conn08) Channel() (Channel, error) {
	ch, err := c.Conn.Channel()
	if err != nil {
		return nil, err
	}
	return ch, nil
}

var (
	v091 = dialect{name: "0-9-1", confirms: true, dial: func(url string, cfg amqp.Config) (Conn, error) {
		c, err := client091.DialConfig(url, cfg)
		if err != nil {
			return nil, err
		}
		return conn091{c}, nil
	}}
	v08 = dialect{name: "0-8", dial: func(url string, cfg amqp.Config) (Conn, error) {
		c, err := client08.DialConfig(url, cfg)
		if err != nil {
			return nil, err
		}
		return conn08{c}, nil
	}}
	dialects = []dialect{v091, v08}
)

// forEach runs fn as a subtest per protocol version.
func forEach(t *testing.T, fn func(t *testing.T, d dialect)) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) { fn(t, d) })
	}
}

// brokerURL is the main broker's URL.
func brokerURL(t *testing.T) string {
	t.Helper()
	return testbroker.URL(t)
}

// brokerAddr is the main broker's host:port.
func brokerAddr(t *testing.T) string {
	t.Helper()
	u, err := amqp.ParseURI(brokerURL(t))
	require.NoError(t, err)
	return u.Addr()
}

// proxy starts a fault proxy in front of the main broker.
func proxy(t *testing.T) *faultproxy.Proxy {
	t.Helper()
	return faultproxy.New(t, brokerAddr(t))
}

// mustDial dials and closes the connection when the test ends.
func mustDial(t *testing.T, d dialect, url string, cfg amqp.Config) Conn {
	t.Helper()
	c, err := d.dial(url, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func mustChannel(t *testing.T, c Conn) Channel {
	t.Helper()
	ch, err := c.Channel()
	require.NoError(t, err)
	return ch
}

// timed runs fn and returns how long it took.
func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// waitDone waits up to limit for a connection to close and returns how long
// it took.
func waitDone(t *testing.T, c Conn, since time.Time, limit time.Duration) time.Duration {
	t.Helper()
	select {
	case <-c.Done():
		return time.Since(since)
	case <-time.After(limit - time.Since(since)):
		t.Fatalf("the connection was still %s %s after the fault", c.State(), time.Since(since).Round(time.Millisecond))
		return 0
	}
}

// result is what a call running on another goroutine returned, and when.
type result struct {
	err error
	at  time.Time
}

// async runs fn on a goroutine; the channel yields its result.
func async(fn func() error) <-chan result {
	out := make(chan result, 1)
	go func() {
		err := fn()
		out <- result{err: err, at: time.Now()}
	}()
	return out
}

// await waits up to limit for an async result.
func await(t *testing.T, ch <-chan result, limit time.Duration, what string) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("%s did not return within %s", what, limit)
		return result{}
	}
}

// body returns the i-th message body of a numbered series.
func body(i int) string { return fmt.Sprintf("msg-%05d", i) }

// noSecret fails when s contains the secret.
func noSecret(t *testing.T, secret, where, s string) {
	t.Helper()
	if strings.Contains(s, secret) {
		t.Errorf("the password appears in %s: %q", where, s)
	}
}
