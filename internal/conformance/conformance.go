// Package conformance is one integration suite for the channel methods both
// protocol versions share, run against a real broker by client08 and
// client091 alike, so the two dialects are held to the same behaviour.
package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// Channel is the API both dialects' channels provide.
type Channel interface {
	ExchangeDeclare(name, kind string, opts ...amqp.ExchangeOptions) error
	ExchangeDelete(name string, opts ...amqp.ExchangeDeleteOptions) error
	QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error)
	QueueBind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error
	QueueUnbind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error
	QueuePurge(name string, opts ...amqp.PurgeOptions) (int, error)
	QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error)
	Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error
	Get(queue string, opts ...amqp.GetOptions) (*amqp.Delivery, bool, error)
	Consume(queue string, fn func(*amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error)
	Cancel(consumerTag string) error
	Ack(deliveryTag uint64, opts ...amqp.AckOptions) error
	Reject(deliveryTag uint64, opts ...amqp.NackOptions) error
	Recover() error
	Qos(prefetchCount int, opts ...amqp.QosOptions) error
	TxSelect() error
	TxCommit() error
	TxRollback() error
	OnReturn(fn func(*amqp.Return))
	OnCancel(fn func(consumerTag string))
	WaitTimeout(d time.Duration) error
	Close() error
	IsClosed() bool
}

// Suite describes the dialect under test.
type Suite struct {
	// Open returns a new channel on a new connection (closed at the test's end).
	Open func(t *testing.T) Channel
	// Headers is a table of every type the dialect encodes by default.
	Headers amqp.Table
}

// Run runs every shared test.
func Run(t *testing.T, s Suite) {
	t.Run("DeclareBindPurgeDelete", s.declareBindPurgeDelete)
	t.Run("AllProperties", s.allProperties)
	t.Run("ConsumeWaitCancel", s.consumeWaitCancel)
	t.Run("RejectRecover", s.rejectRecover)
	t.Run("Tx", s.tx)
	t.Run("MandatoryReturn", s.mandatoryReturn)
	t.Run("ChannelError", s.channelError)
	t.Run("ServerCancel", s.serverCancel)
}

func tempQueue(t *testing.T, ch Channel) string {
	t.Helper()
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	return q.Name
}

func (s Suite) declareBindPurgeDelete(t *testing.T) {
	ch := s.Open(t)
	ex := testbroker.Name(t, "ex")
	require.NoError(t, ch.ExchangeDeclare(ex, "topic"))
	require.NoError(t, ch.ExchangeDeclare(ex, "topic", amqp.ExchangeOptions{Passive: true}))
	q := testbroker.Name(t, "q")
	info, err := ch.QueueDeclare(q, amqp.QueueOptions{AutoDelete: true})
	require.NoError(t, err)
	assert.Equal(t, amqp.QueueInfo{Name: q}, info)
	require.NoError(t, ch.QueueBind(q, ex, "a.*"))
	// A transaction is the sync point: after commit-ok the messages are in
	// their queues (both versions have tx; 0-8 has no confirms).
	require.NoError(t, ch.TxSelect())
	for _, key := range []string{"a.1", "a.2", "b.1", "a.3"} {
		require.NoError(t, ch.Publish(ex, key, amqp.NewMessage(key)))
	}
	require.NoError(t, ch.TxCommit())
	info, err = ch.QueueDeclare(q, amqp.QueueOptions{Passive: true})
	require.NoError(t, err)
	assert.Equal(t, 3, info.Messages)
	n, err := ch.QueuePurge(q)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	require.NoError(t, ch.QueueUnbind(q, ex, "a.*"))
	require.NoError(t, ch.Publish(ex, "a.4", amqp.NewMessage("unbound")))
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("direct")))
	require.NoError(t, ch.TxCommit())
	n, err = ch.QueueDelete(q)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.NoError(t, ch.ExchangeDelete(ex, amqp.ExchangeDeleteOptions{IfUnused: true}))
	_, err = ch.QueueDeclare(q, amqp.QueueOptions{Passive: true})
	assert.ErrorIs(t, err, amqp.ErrNotFound)
}

// FullMessage returns a message with all 14 properties set and headers h.
func FullMessage(h amqp.Table) amqp.Message {
	msg := amqp.NewMessage("body ✓")
	msg.ContentType = "text/plain"
	msg.Headers = h
	msg.DeliveryMode = amqp.Persistent
	msg.Priority = 3
	msg.CorrelationID = "corr-1"
	msg.ReplyTo = "replies"
	msg.Expiration = "60000"
	msg.MessageID = "msg-1"
	msg.Timestamp = time.Unix(1700000000, 0).UTC()
	msg.Type = "kind"
	msg.UserID = "guest"
	msg.AppID = "conformance"
	msg.ClusterID = "cluster"
	return msg
}

func (s Suite) allProperties(t *testing.T) {
	ch := s.Open(t)
	q := tempQueue(t, ch)
	msg := FullMessage(s.Headers)
	require.NoError(t, ch.Publish("", q, msg))
	d, ok, err := ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, msg.Properties, d.Properties)
	assert.Equal(t, msg.Body, d.Body)
	assert.Equal(t, "UTF-8", d.ContentEncoding)
	assert.Equal(t, q, d.RoutingKey)
	require.NoError(t, ch.Ack(d.DeliveryTag))
	_, ok, err = ch.Get(q)
	require.NoError(t, err)
	assert.False(t, ok)
}

func (s Suite) consumeWaitCancel(t *testing.T) {
	ch := s.Open(t)
	q := tempQueue(t, ch)
	require.NoError(t, ch.Qos(2))
	var got []string
	tag, err := ch.Consume(q, func(d *amqp.Delivery) {
		got = append(got, d.Text())
		assert.NoError(t, ch.Ack(d.DeliveryTag))
	}, amqp.ConsumeOptions{Tag: "conformance"})
	require.NoError(t, err)
	assert.Equal(t, "conformance", tag)
	for i := 0; i < 5; i++ {
		require.NoError(t, ch.Publish("", q, amqp.NewMessage(fmt.Sprint(i))))
	}
	for len(got) < 5 {
		require.NoError(t, ch.WaitTimeout(10*time.Second))
	}
	assert.Equal(t, []string{"0", "1", "2", "3", "4"}, got)
	require.NoError(t, ch.Cancel(tag))
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("after cancel")))
	d, ok, err := ch.Get(q, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok, "no consumer took it after cancel")
	assert.Equal(t, "after cancel", d.Text())
}

func (s Suite) rejectRecover(t *testing.T) {
	ch := s.Open(t)
	q := tempQueue(t, ch)
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("x")))
	d, ok, err := ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, ch.Reject(d.DeliveryTag, amqp.NackOptions{Requeue: true}))
	d, ok, err = ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, d.Redelivered)
	require.NoError(t, ch.Recover())
	d, ok, err = ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok, "recover put the unacked message back")
	require.NoError(t, ch.Reject(d.DeliveryTag))
	_, ok, err = ch.Get(q)
	require.NoError(t, err)
	assert.False(t, ok)
}

func (s Suite) tx(t *testing.T) {
	ch := s.Open(t)
	q := tempQueue(t, ch)
	require.NoError(t, ch.TxSelect())
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("rolled back")))
	require.NoError(t, ch.TxRollback())
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("committed")))
	require.NoError(t, ch.TxCommit())
	d, ok, err := ch.Get(q, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "committed", d.Text())
}

func (s Suite) mandatoryReturn(t *testing.T) {
	ch := s.Open(t)
	var ret *amqp.Return
	ch.OnReturn(func(r *amqp.Return) { ret = r })
	require.NoError(t, ch.Publish("", testbroker.Name(t, "nowhere"), amqp.NewMessage("lost"), amqp.PublishOptions{Mandatory: true}))
	require.NoError(t, ch.WaitTimeout(10*time.Second))
	require.NotNil(t, ret)
	assert.Equal(t, amqp.NoRoute, ret.ReplyCode)
	assert.Equal(t, "NO_ROUTE", ret.ReplyText)
	assert.Equal(t, "lost", ret.Text())
}

func (s Suite) channelError(t *testing.T) {
	ch := s.Open(t)
	_, err := ch.QueueDeclare(testbroker.Name(t, "missing"), amqp.QueueOptions{Passive: true})
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrNotFound)
	assert.True(t, ch.IsClosed())
	_, err = ch.QueueDeclare("x")
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.NoError(t, ch.Close())
}

func (s Suite) serverCancel(t *testing.T) {
	ch := s.Open(t)
	other := s.Open(t)
	q := testbroker.Name(t, "q")
	_, err := ch.QueueDeclare(q)
	require.NoError(t, err)
	tag, err := ch.Consume(q, func(*amqp.Delivery) {})
	require.NoError(t, err)
	var cancelled string
	ch.OnCancel(func(tag string) { cancelled = tag })
	_, err = other.QueueDelete(q)
	require.NoError(t, err)
	require.NoError(t, ch.WaitTimeout(10*time.Second))
	assert.Equal(t, tag, cancelled, "consumer_cancel_notify works on this protocol version")
}
