package client091_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

func TestBrokerConsumeWaitAck(t *testing.T) {
	_, ch := open(t)
	q := tempQueue(t, ch)
	require.NoError(t, ch.Qos(10))
	var got []string
	tag, err := ch.Consume(q, func(d *amqp.Delivery) {
		got = append(got, d.Text())
		require.NoError(t, ch.Ack(d.DeliveryTag))
	})
	require.NoError(t, err)
	assert.NotEmpty(t, tag)
	for i := 0; i < 5; i++ {
		require.NoError(t, ch.Publish("", q, amqp.NewMessage(fmt.Sprint("m", i))))
	}
	for len(got) < 5 {
		require.NoError(t, ch.WaitTimeout(10*time.Second))
	}
	assert.Equal(t, []string{"m0", "m1", "m2", "m3", "m4"}, got)
	require.NoError(t, ch.Cancel(tag))
	info, err := ch.QueueDeclare(q, amqp.QueueOptions{Passive: true})
	require.NoError(t, err)
	assert.Equal(t, amqp.QueueInfo{Name: q}, info, "all acked, no consumer left")
}

func TestBrokerConsumeOwnTagExclusive(t *testing.T) {
	conn, ch := open(t)
	q := tempQueue(t, ch)
	tag, err := ch.Consume(q, func(*amqp.Delivery) {}, amqp.ConsumeOptions{Tag: "my-tag", Exclusive: true, NoAck: true})
	require.NoError(t, err)
	assert.Equal(t, "my-tag", tag)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch2.Consume(q, func(*amqp.Delivery) {})
	assert.ErrorIs(t, err, amqp.ErrAccessRefused, "exclusive consumer refuses others")
}

func TestBrokerServerCancel(t *testing.T) {
	conn, ch := open(t)
	q := testbroker.Name(t, "q")
	_, err := ch.QueueDeclare(q)
	require.NoError(t, err)
	tag, err := ch.Consume(q, func(*amqp.Delivery) {})
	require.NoError(t, err)
	var cancelled string
	ch.OnCancel(func(tag string) { cancelled = tag })
	other, err := conn.Channel()
	require.NoError(t, err)
	_, err = other.QueueDelete(q)
	require.NoError(t, err)
	require.NoError(t, ch.WaitTimeout(10*time.Second))
	assert.Equal(t, tag, cancelled)
}

func TestBrokerNackRejectRecover(t *testing.T) {
	_, ch := open(t)
	q := tempQueue(t, ch)
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("a")))
	d, ok, err := ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	assert.False(t, d.Redelivered)
	require.NoError(t, ch.Nack(d.DeliveryTag, amqp.NackOptions{Requeue: true}))
	d, ok, err = ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, d.Redelivered)
	require.NoError(t, ch.Reject(d.DeliveryTag, amqp.NackOptions{Requeue: true}))
	d, ok, err = ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, ch.Recover())
	d2, ok, err := ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok, "recover requeued the unacked message")
	assert.True(t, d2.Redelivered)
	require.NoError(t, ch.Reject(d2.DeliveryTag))
	_, ok, err = ch.Get(q)
	require.NoError(t, err)
	assert.False(t, ok, "reject without requeue drops it")
	_ = d
}

func TestBrokerConfirms(t *testing.T) {
	_, ch := open(t)
	q := tempQueue(t, ch)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", q, amqp.NewMessage("one")))
	assert.Equal(t, uint64(1), ch.PublishSeq())
	var acks int
	ch.OnConfirm(func(c amqp.Confirmation) {
		assert.True(t, c.Ack)
		acks++
	})
	for i := 0; i < 100; i++ {
		require.NoError(t, ch.Publish("", q, amqp.NewMessage("many")))
	}
	assert.Equal(t, uint64(101), ch.PublishSeq())
	require.NoError(t, ch.WaitConfirm(50))
	require.NoError(t, ch.WaitConfirms())
	assert.Zero(t, acks, "confirm waits run no callbacks")
	for ch.Pending() > 0 {
		require.NoError(t, ch.Wait())
	}
	assert.Equal(t, 100, acks, "one callback per message, inside Wait")
	err := ch.WaitConfirm(500)
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
}

func TestBrokerConfirmNack(t *testing.T) {
	_, ch := open(t)
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true,
		Arguments: amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}})
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", q.Name, amqp.NewMessage("fits")))
	err = ch.PublishConfirmed("", q.Name, amqp.NewMessage("overflows"))
	assert.ErrorIs(t, err, amqp.ErrNacked)
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("overflows too")))
	assert.ErrorIs(t, ch.WaitConfirms(), amqp.ErrNacked)
}

func TestBrokerMandatoryReturnBeforeConfirm(t *testing.T) {
	_, ch := open(t)
	var events []string
	ch.OnReturn(func(r *amqp.Return) {
		events = append(events, fmt.Sprintf("return %d %s %s", r.ReplyCode, r.ReplyText, r.Text()))
	})
	ch.OnConfirm(func(c amqp.Confirmation) { events = append(events, fmt.Sprint("confirm ", c.DeliveryTag, " ", c.Ack)) })
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", "no-such-queue-"+testbroker.Name(t, "x"), amqp.NewMessage("lost"), amqp.PublishOptions{Mandatory: true}))
	for ch.Pending() > 0 {
		require.NoError(t, ch.Wait())
	}
	assert.Equal(t, []string{"return 312 NO_ROUTE lost", "confirm 1 true"}, events)
}

func TestBrokerImmediateRefused(t *testing.T) {
	conn, ch := open(t)
	err := ch.Publish("", "q", amqp.NewMessage("x"), amqp.PublishOptions{Immediate: true})
	assert.ErrorIs(t, err, amqp.ErrUnsupported)
	assert.False(t, ch.IsClosed())
	assert.Equal(t, "open", conn.State())
}

func TestBrokerTx(t *testing.T) {
	_, ch := open(t)
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
	_, ok, err = ch.Get(q)
	require.NoError(t, err)
	assert.False(t, ok)
	err = ch.ConfirmSelect()
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument, "tx and confirm mode exclude each other: refused before the broker closes the channel")
	assert.False(t, ch.IsClosed())
	require.NoError(t, ch.TxCommit(), "the channel is still usable")
}

func TestBrokerFlow(t *testing.T) {
	_, ch := open(t)
	require.NoError(t, ch.Flow(amqp.FlowOptions{}))
	assert.ErrorIs(t, ch.Flow(amqp.FlowOptions{Stop: true}), amqp.ErrUnsupported)
	assert.False(t, ch.IsClosed())
}

func TestBrokerChannelErrorStaysOnChannel(t *testing.T) {
	conn, ch := open(t)
	_, err := ch.QueueDeclare("missing-"+testbroker.Name(t, "q"), amqp.QueueOptions{Passive: true})
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrNotFound)
	var ae *amqp.Error
	require.True(t, errors.As(err, &ae))
	assert.Equal(t, 404, ae.Code)
	assert.Equal(t, uint16(50), ae.ClassID)
	assert.Equal(t, uint16(10), ae.MethodID)
	assert.Contains(t, err.Error(), "queue.declare")
	assert.True(t, ch.IsClosed())
	_, err = ch.QueueDeclare("x")
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.ErrorIs(t, err, amqp.ErrNotFound, "later calls say why the channel closed")
	assert.ErrorIs(t, ch.Publish("", "x", amqp.NewMessage("x")), amqp.ErrClosed)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	tempQueue(t, ch2)

	// A double ack is a 406 on that channel only.
	q := tempQueue(t, ch2)
	require.NoError(t, ch2.Publish("", q, amqp.NewMessage("x")))
	d, ok, err := ch2.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, ch2.Ack(d.DeliveryTag))
	require.NoError(t, ch2.Ack(d.DeliveryTag))
	_, err = ch2.QueueDeclare(q, amqp.QueueOptions{Passive: true})
	assert.ErrorIs(t, err, amqp.ErrPreconditionFailed)
	assert.Equal(t, "open", conn.State())
}

func TestBrokerConnectionError(t *testing.T) {
	conn, ch := open(t)
	other, err := conn.Channel()
	require.NoError(t, err)
	err = ch.ExchangeDeclare(testbroker.Name(t, "ex"), "no-such-type")
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrCommandInvalid)
	select {
	case <-conn.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("connection not closed after a hard error")
	}
	assert.ErrorIs(t, conn.Err(), amqp.ErrCommandInvalid)
	_, err = other.QueueDeclare("x")
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.ErrorIs(t, err, amqp.ErrCommandInvalid)
	_, err = conn.Channel()
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.NoError(t, conn.Close())
}

func TestBrokerChannelsAndScopes(t *testing.T) {
	conn, ch := open(t)
	ch5, err := conn.ChannelID(5)
	require.NoError(t, err)
	assert.Equal(t, uint16(5), ch5.ID())
	again, err := conn.ChannelID(5)
	require.NoError(t, err)
	assert.Same(t, amqplib.ChannelOf(ch5), amqplib.ChannelOf(again))
	_, err = conn.ChannelID(conn.ChannelMax() + 1)
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
	var inside uint16
	err = conn.WithChannel(func(c *client091.Channel) error {
		inside = c.ID()
		_, err := c.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		return err
	})
	require.NoError(t, err)
	assert.NotZero(t, inside)
	require.NoError(t, ch.Close())
	require.NoError(t, ch.Close(), "closing twice is fine")
	_, err = ch.QueueDeclare("x")
	assert.ErrorIs(t, err, amqp.ErrClosed)
	reopened, err := conn.ChannelID(ch.ID())
	require.NoError(t, err, "a closed channel's id can be reused")
	require.NoError(t, reopened.Close())
}

func TestBrokerCloseHookAndState(t *testing.T) {
	conn, err := client091.Dial(testbroker.URL(t))
	require.NoError(t, err)
	closed := make(chan error, 1)
	conn.OnClose(func(err error) { closed <- err })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	assert.Equal(t, "closed", conn.State())
	assert.NoError(t, <-closed)
	assert.True(t, ch.IsClosed())
	assert.ErrorIs(t, ch.Publish("", "q", amqp.NewMessage("x")), amqp.ErrClosed)
	_, err = conn.Channel()
	assert.ErrorIs(t, err, amqp.ErrClosed)
}

func TestBrokerBadInputRefusedBeforeSending(t *testing.T) {
	conn, ch := open(t)
	long := string(make([]byte, 256))
	_, err := ch.QueueDeclare(long)
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
	_, err = ch.QueueDeclare("bad\xff")
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
	msg := amqp.NewMessage("x")
	msg.Headers = amqp.Table{"chan": make(chan int)}
	assert.ErrorIs(t, ch.Publish("", "q", msg), amqp.ErrInvalidArgument)
	assert.ErrorIs(t, ch.Qos(-1), amqp.ErrInvalidArgument)
	// The channel and connection are still usable.
	tempQueue(t, ch)
	assert.Equal(t, "open", conn.State())
}

func TestBrokerQosPrefetchSizeRefused(t *testing.T) {
	conn, ch := open(t)
	err := ch.Qos(10, amqp.QosOptions{PrefetchSize: 4096})
	assert.ErrorIs(t, err, amqp.ErrUnsupported)
	require.NoError(t, ch.Qos(10, amqp.QosOptions{Global: true}))
	assert.Equal(t, "open", conn.State(), "refused before sending: RabbitMQ would have closed the connection")
}
