package client08_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

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

// AMQP 0-8 across a connection reset: the access ticket is requested again
// and the one the program holds keeps working; the exchange, the
// server-named exclusive queue (renamed) and its binding are declared
// again; the consumer resumes in the same Wait loop with increasing tags;
// an ack of a delivery from before is refused as stale; a transaction
// begun on the lost connection is reported lost by its commit, and the
// next one commits.
func TestBrokerRecovery08(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	conn, err := client08.DialConfig(p.URL(url), amqp.Config{Timeout: recoveryLimit,
		Recovery: &amqp.Recovery{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}})
	require.NoError(t, err)
	defer conn.Close()
	ups, renames := make(chan struct{}, 4), make(chan string, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	conn.OnQueueRenamed(func(_, name string) { renames <- name })
	x := testbroker.Name(t, "rec08-x")
	defer func() {
		admin, err := client08.Dial(url)
		require.NoError(t, err)
		defer admin.Close()
		ch, err := admin.Channel()
		require.NoError(t, err)
		require.NoError(t, ch.ExchangeDelete(x))
	}()

	ch, err := conn.Channel()
	require.NoError(t, err)
	ticket, err := ch.AccessRequest("/data", amqp.DefaultAccess)
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(x, "direct"))
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(q.Name, x, "k"))
	deliveries := make(chan amqp.Delivery, 8)
	_, err = ch.Consume(q.Name, func(d *amqp.Delivery) { deliveries <- *d })
	require.NoError(t, err)
	go func() {
		for ch.Wait() == nil {
		}
	}()
	pub, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, pub.TxSelect())
	require.NoError(t, pub.Publish(x, "k", amqp.NewMessage("before")))
	require.NoError(t, pub.TxCommit())
	before := next(t, deliveries, "a delivery before the reset")
	require.NoError(t, pub.Publish(x, "k", amqp.NewMessage("lost"))) // in a transaction never committed

	p.Reset()
	renamed := next(t, renames, "OnQueueRenamed")
	next(t, ups, "OnRecovered")
	assert.NotEqual(t, q.Name, renamed)
	assert.Equal(t, ticket, ch.Ticket(), "the program's ticket")

	require.ErrorIs(t, ch.Ack(before.DeliveryTag), amqp.ErrStaleDelivery)
	require.ErrorIs(t, pub.TxCommit(), amqp.ErrClosed, "the transaction went with the connection")
	require.NoError(t, pub.WithTicket(ticket).Publish(x, "k", amqp.NewMessage("after")))
	require.NoError(t, pub.TxCommit())
	d := next(t, deliveries, "a delivery after the recovery")
	assert.Equal(t, "after", string(d.Body))
	assert.Greater(t, d.DeliveryTag, before.DeliveryTag)
	require.NoError(t, ch.Ack(d.DeliveryTag))
	n, err := ch.QueuePurge(q.Name) // the old name reaches the new queue
	require.NoError(t, err)
	assert.Equal(t, 0, n)
}
