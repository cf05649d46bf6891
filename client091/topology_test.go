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

// recoveringAdmin dials url through a fault proxy with recovery on; admin is a
// plain connection to the broker itself.
func recoveringAdmin(t *testing.T, opts ...client091.DialOption) (conn, admin *client091.Conn, p *faultproxy.Proxy) {
	t.Helper()
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p = faultproxy.New(t, uri.Addr())
	admin, err = client091.Dial(url)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	conn, err = client091.DialContext(t.Context(), p.URL(url), amqp.Config{Timeout: recoveryLimit,
		Recovery: &amqp.Recovery{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}}, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn, admin, p
}

// exists reports whether a queue exists, by a passive declare on admin.
// (another connection's exclusive queue answers 405: it exists).
func exists(t *testing.T, admin *client091.Conn, queue string) bool {
	t.Helper()
	err := admin.WithChannel(func(ch *client091.Channel) error {
		_, err := ch.QueueDeclare(queue, amqp.QueueOptions{Passive: true})
		return err
	})
	if errors.Is(err, amqp.ErrNotFound) {
		return false
	}
	if errors.Is(err, amqp.ErrResourceLocked) { // exclusive to another connection
		return true
	}
	require.NoError(t, err)
	return true
}

// getBody gets one message from queue on ch, failing when there is none.
func getBody(t *testing.T, ch *client091.Channel, queue string) string {
	t.Helper()
	d, ok, err := ch.Get(queue, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok, "a message in %s", queue)
	return string(d.Body)
}

// What the program declared through a recovering connection is there
// again after a reset, checked by using it: exchanges, an exchange-to-
// exchange binding, a named and a server-named exclusive queue with their
// bindings, and a consumer on the server-named one, which got a new name
// that later calls use by themselves. A deleted queue and an auto-delete
// queue whose consumer was cancelled are not declared again.
func TestBrokerRecoveryTopology(t *testing.T) {
	conn, admin, p := recoveringAdmin(t)
	renames := make(chan [2]string, 4)
	conn.OnQueueRenamed(func(old, name string) { renames <- [2]string{old, name} })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	x, y := testbroker.Name(t, "topo-x"), testbroker.Name(t, "topo-y")
	named, gone, auto := testbroker.Name(t, "topo-q"), testbroker.Name(t, "topo-gone"), testbroker.Name(t, "topo-auto")
	t.Cleanup(func() {
		_ = admin.WithChannel(func(ch *client091.Channel) error {
			_ = ch.ExchangeDelete(x)
			return ch.ExchangeDelete(y)
		})
	})

	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(x, "direct"))
	require.NoError(t, ch.ExchangeDeclare(y, "fanout"))
	require.NoError(t, ch.ExchangeBind(x, y, ""))
	_, err = ch.QueueDeclare(named, amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(named, x, "k"))
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	old := q.Name
	require.NoError(t, ch.QueueBind(old, x, "s"))
	_, err = ch.QueueDeclare(gone)
	require.NoError(t, err)
	_, err = ch.QueueDelete(gone)
	require.NoError(t, err)
	_, err = ch.QueueDeclare(auto, amqp.QueueOptions{AutoDelete: true})
	require.NoError(t, err)
	tag, err := ch.Consume(auto, func(*amqp.Delivery) {})
	require.NoError(t, err)
	require.NoError(t, ch.Cancel(tag)) // the broker deletes auto now

	sub, err := conn.Channel()
	require.NoError(t, err)
	deliveries := make(chan string, 8)
	_, err = sub.Consume(old, func(d *amqp.Delivery) { deliveries <- string(d.Body) }, amqp.ConsumeOptions{NoAck: true})
	require.NoError(t, err)
	go func() {
		for sub.Wait() == nil {
		}
	}()
	require.NoError(t, ch.ConfirmSelect())

	p.Reset()
	r := next(t, renames, "OnQueueRenamed")
	next(t, ups, "OnRecovered")
	assert.Equal(t, old, r[0])
	assert.NotEqual(t, old, r[1])

	require.NoError(t, ch.PublishConfirmed(y, "k", amqp.NewMessage("via y and x")))
	assert.Equal(t, "via y and x", getBody(t, ch, named), "exchanges, e2e binding, queue and binding restored")
	require.NoError(t, ch.PublishConfirmed(x, "s", amqp.NewMessage("to s")))
	assert.Equal(t, "to s", next(t, deliveries, "a delivery to the renamed queue's consumer"))
	require.NoError(t, ch.PublishConfirmed("", old, amqp.NewMessage("by old name")))
	assert.Equal(t, "by old name", next(t, deliveries, "a publish to the old name"))
	info, err := ch.QueueDeclare(old, amqp.QueueOptions{Passive: true})
	require.NoError(t, err, "the old name reaches the new queue")
	assert.Equal(t, 1, info.Consumers)
	assert.True(t, exists(t, admin, r[1]))
	assert.False(t, exists(t, admin, gone), "a deleted queue is not declared again")
	assert.False(t, exists(t, admin, auto), "an auto-delete queue whose consumer went is not declared again")
}

// OnConnect runs at the first connection and again on every new one,
// before the recorded consumers resume: a consumer on a queue the hook
// declares is restored. A queue declared again with other arguments is
// reported to OnTopologyError and forgotten, and recovery goes on.
func TestBrokerRecoveryOnConnect(t *testing.T) {
	hooked := testbroker.Name(t, "hooked")
	refused := testbroker.Name(t, "refused")
	calls := make(chan struct{}, 4)
	conn, admin, p := recoveringAdmin(t, client091.OnConnect(func(c *client091.Conn) error {
		calls <- struct{}{}
		return c.WithChannel(func(ch *client091.Channel) error {
			_, err := ch.QueueDeclare(hooked, amqp.QueueOptions{Exclusive: true})
			return err
		})
	}))
	next(t, calls, "OnConnect at the first connection")
	failures := make(chan *amqp.TopologyError, 4)
	conn.OnTopologyError(func(err *amqp.TopologyError) { failures <- err })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	t.Cleanup(func() {
		_ = admin.WithChannel(func(ch *client091.Channel) error { _, err := ch.QueueDelete(refused); return err })
	})

	ch, err := conn.Channel()
	require.NoError(t, err)
	deliveries := make(chan string, 4)
	_, err = ch.Consume(hooked, func(d *amqp.Delivery) { deliveries <- string(d.Body) }, amqp.ConsumeOptions{NoAck: true})
	require.NoError(t, err)
	_, err = ch.QueueDeclare(refused)
	require.NoError(t, err)
	// Meanwhile someone else declares it with other arguments.
	require.NoError(t, admin.WithChannel(func(ach *client091.Channel) error {
		if _, err := ach.QueueDelete(refused); err != nil {
			return err
		}
		_, err := ach.QueueDeclare(refused, amqp.QueueOptions{Arguments: amqp.Table{"x-max-length": int32(5)}})
		return err
	}))

	p.Reset()
	next(t, calls, "OnConnect after the recovery")
	f := next(t, failures, "OnTopologyError")
	next(t, ups, "OnRecovered")
	assert.Equal(t, "queue", f.Kind)
	assert.Equal(t, refused, f.Name)
	assert.ErrorIs(t, f, amqp.ErrPreconditionFailed)

	pub, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, pub.Publish("", hooked, amqp.NewMessage("after")))
	go func() {
		for ch.Wait() == nil {
		}
	}()
	assert.Equal(t, "after", next(t, deliveries, "a delivery to the consumer on the hook's queue"))
	assert.Len(t, calls, 0, "OnConnect ran once per connection")
}

// An error from OnConnect fails the first dial, with the hook's error.
func TestBrokerOnConnectFailsDial(t *testing.T) {
	url := testbroker.URL(t)
	boom := errors.New("not today")
	_, err := client091.DialContext(t.Context(), url, amqp.Config{}, client091.OnConnect(func(*client091.Conn) error { return boom }))
	require.ErrorIs(t, err, boom)
}
