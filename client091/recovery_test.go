package client091_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// recoveryLimit bounds every wait in these tests (a failure timeout only).
const recoveryLimit = 10 * time.Second

func next[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(recoveryLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// A connection reset under a consumer and a confirming publisher: the
// connection comes back by itself, the channels keep their values, ids and
// confirm mode, the consumer resumes inside the same Wait loop, tags keep
// increasing, an ack of a delivery from before is refused as stale, and the
// unacked message comes back redelivered.
func TestBrokerRecoveryAfterReset(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	queue := testbroker.Name(t, "recovery")
	admin, err := client091.Dial(url)
	require.NoError(t, err)
	defer admin.Close()
	require.NoError(t, admin.WithChannel(func(ch *client091.Channel) error {
		_, err := ch.QueueDeclare(queue)
		return err
	}))
	defer admin.WithChannel(func(ch *client091.Channel) error { _, err := ch.QueueDelete(queue); return err })

	conn, err := client091.DialConfig(p.URL(url), amqp.Config{Timeout: recoveryLimit,
		Recovery: &amqp.Recovery{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}})
	require.NoError(t, err)
	defer conn.Close()
	downs, ups := make(chan error, 4), make(chan struct{}, 4)
	conn.OnDisconnect(func(err error) { downs <- err })
	conn.OnRecovered(func() { ups <- struct{}{} })

	pub, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, pub.ConfirmSelect())
	sub, err := conn.Channel()
	require.NoError(t, err)
	deliveries := make(chan amqp.Delivery, 16)
	_, err = sub.Consume(queue, func(d *amqp.Delivery) { deliveries <- *d })
	require.NoError(t, err)
	waitEnd := make(chan error, 1)
	go func() {
		for {
			if err := sub.Wait(); err != nil {
				waitEnd <- err
				return
			}
		}
	}()

	require.NoError(t, pub.PublishConfirmed("", queue, amqp.NewMessage("one")))
	d1 := next(t, deliveries, "delivery one")
	require.NoError(t, sub.Ack(d1.DeliveryTag))
	require.NoError(t, pub.PublishConfirmed("", queue, amqp.NewMessage("two")))
	d2 := next(t, deliveries, "delivery two") // left unacked
	assert.Equal(t, "two", string(d2.Body))

	p.Reset()
	assert.Error(t, next(t, downs, "OnDisconnect"))
	next(t, ups, "OnRecovered")
	assert.Equal(t, "open", conn.State())

	err = sub.Ack(d2.DeliveryTag)
	require.ErrorIs(t, err, amqp.ErrStaleDelivery, "a tag from before the recovery")
	require.NoError(t, pub.PublishConfirmed("", queue, amqp.NewMessage("three")), "confirm mode was restored")

	got := map[string]amqp.Delivery{}
	for len(got) < 2 {
		d := next(t, deliveries, "deliveries after the recovery")
		got[string(d.Body)] = d
	}
	require.Contains(t, got, "two")
	require.Contains(t, got, "three")
	assert.True(t, got["two"].Redelivered)
	for _, d := range got {
		assert.Greater(t, d.DeliveryTag, d2.DeliveryTag, "tags keep increasing")
		require.NoError(t, sub.Ack(d.DeliveryTag))
	}
	assert.Equal(t, int64(2), p.Accepted())

	require.NoError(t, conn.Close())
	assert.ErrorIs(t, next(t, waitEnd, "the Wait loop's end"), amqp.ErrClosed)
	assert.NoError(t, conn.Err())
}

// A broker that stays away: recovery gives up at its limit, the connection
// ends with an error saying so, and a call blocked meanwhile returns.
func TestBrokerRecoveryGivesUp(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	conn, err := client091.DialConfig(p.URL(url), amqp.Config{Timeout: recoveryLimit,
		Recovery: &amqp.Recovery{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxAttempts: 3}})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	closed := make(chan error, 1)
	conn.OnClose(func(err error) { closed <- err })

	p.SetMode(faultproxy.Reset) // resets the live connection and every new one
	_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.ErrorIs(t, err, amqp.ErrClosed)
	select {
	case <-conn.Done():
	case <-time.After(recoveryLimit):
		t.Fatal("the connection did not end")
	}
	require.Error(t, conn.Err())
	assert.Contains(t, conn.Err().Error(), "gave up after 3 attempts")
	assert.Equal(t, "closed", conn.State())
	assert.Equal(t, conn.Err(), next(t, closed, "OnClose"))
	assert.Equal(t, int64(4), p.Accepted(), "the first connection and 3 attempts")
	assert.False(t, errors.Is(conn.Close(), amqp.ErrTimeout))
}

// An outage longer than Timeout: a call waiting for the recovery gives up
// with ErrTimeout saying the connection is recovering, while a Wait loop
// (which has no bound) waits it out and goes on consuming.
func TestBrokerRecoveryOutageLongerThanTimeout(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	const timeout = 200 * time.Millisecond
	conn, err := client091.DialConfig(p.URL(url), amqp.Config{Timeout: timeout,
		Recovery: &amqp.Recovery{MinBackoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	queue := testbroker.Name(t, "outage")
	_, err = ch.QueueDeclare(queue) // outlives the connection (topology is not replayed yet)
	require.NoError(t, err)
	defer func() {
		if admin, err := client091.Dial(url); err == nil {
			_ = admin.WithChannel(func(c *client091.Channel) error { _, err := c.QueueDelete(queue); return err })
			_ = admin.Close()
		}
	}()
	deliveries := make(chan string, 4)
	_, err = ch.Consume(queue, func(d *amqp.Delivery) { deliveries <- string(d.Body) }, amqp.ConsumeOptions{NoAck: true})
	require.NoError(t, err)
	waitEnd := make(chan error, 1)
	go func() {
		for {
			if err := ch.Wait(); err != nil {
				waitEnd <- err
				return
			}
		}
	}()
	other, err := conn.Channel()
	require.NoError(t, err)
	ups := make(chan time.Time, 1)
	conn.OnRecovered(func() { ups <- time.Now() })

	p.SetMode(faultproxy.Reset)
	start := time.Now()
	_, err = other.QueueDeclare(queue)
	require.ErrorIs(t, err, amqp.ErrTimeout)
	assert.Contains(t, err.Error(), "recovering")
	assert.Equal(t, "recovering", conn.State())
	require.GreaterOrEqual(t, time.Since(start), timeout, "the outage outlasted Timeout")
	passed := time.Now()
	p.SetMode(faultproxy.Pass)
	t.Logf("recovered %s after the network came back", next(t, ups, "OnRecovered").Sub(passed))

	require.NoError(t, other.Publish("", queue, amqp.NewMessage("after the outage")))
	select {
	case body := <-deliveries:
		assert.Equal(t, "after the outage", body)
	case err := <-waitEnd:
		t.Fatalf("the Wait loop ended: %v", err)
	case <-time.After(recoveryLimit):
		t.Fatal("no delivery after the outage")
	}
}

// recovering dials through a fresh proxy with fast recovery and returns the
// connection, the proxy and a channel of OnRecovered events.
func recovering(t *testing.T) (*client091.Conn, *faultproxy.Proxy, chan struct{}) {
	t.Helper()
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	conn, err := client091.DialConfig(p.URL(url), amqp.Config{Timeout: recoveryLimit,
		Recovery: &amqp.Recovery{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	return conn, p, ups
}

// Streaming confirms across a recovery: publishes the lost connection never
// confirmed are reported by the next WaitConfirms (and by WaitConfirm of
// their numbers), never counted as confirmed; numbers keep increasing.
func TestBrokerRecoveryUnconfirmedReported(t *testing.T) {
	conn, p, ups := recovering(t)
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	p.BlackHole() // the publishes and their confirms wait in the proxy
	for range 10 {
		require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("x")))
	}
	last := ch.PublishSeq()
	p.Reset()
	p.Pass()
	next(t, ups, "OnRecovered")
	err = ch.WaitConfirms()
	require.ErrorIs(t, err, amqp.ErrClosed)
	assert.Contains(t, err.Error(), "not confirmed")
	require.ErrorIs(t, ch.WaitConfirm(last), amqp.ErrClosed)
	require.NoError(t, ch.WaitConfirms(), "reported once; nothing new is pending")
	require.NoError(t, ch.Publish("", "", amqp.NewMessage("after")))
	assert.Greater(t, ch.PublishSeq(), last)
	require.NoError(t, ch.WaitConfirm(ch.PublishSeq()))
}

// A transaction open when the connection is lost is reported lost by its
// commit, not committed empty; the next transaction works.
func TestBrokerRecoveryTransactionLost(t *testing.T) {
	conn, p, ups := recovering(t)
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare(testbroker.Name(t, "tx"), amqp.QueueOptions{AutoDelete: false})
	require.NoError(t, err)
	defer func() { _, _ = ch.QueueDelete(q.Name) }()
	require.NoError(t, ch.TxSelect())
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("lost")))
	p.Reset()
	next(t, ups, "OnRecovered")
	err = ch.TxCommit()
	require.ErrorIs(t, err, amqp.ErrClosed)
	assert.Contains(t, err.Error(), "transaction was lost")
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("kept")))
	require.NoError(t, ch.TxCommit())
	d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "kept", string(d.Body))
	_, ok, err = ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	assert.False(t, ok, "the lost transaction's message never arrived")
}
