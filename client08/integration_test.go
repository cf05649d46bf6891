package client08_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/conformance"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// headers08 holds every type AMQP 0-8 defines.
var headers08 = amqp.Table{
	"str": "text ✓", "int": int32(-5), "dec": amqp.Decimal{Scale: 3, Value: 1234},
	"time": time.Unix(1700000000, 0).UTC(), "table": amqp.Table{"n": int32(1), "s": "x"},
}

func open(t *testing.T, cfg amqp.Config) (*client08.Conn, *client08.Channel) {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	conn, err := client08.DialConfig(testbroker.URL(t), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return conn, ch
}

func TestBrokerConformance08(t *testing.T) {
	conformance.Run(t, conformance.Suite{
		Open:    func(t *testing.T) conformance.Channel { _, ch := open(t, amqp.Config{}); return ch },
		Headers: headers08,
	})
}

func TestBrokerHandshake08(t *testing.T) {
	conn, _ := open(t, amqp.Config{Heartbeat: 5 * time.Second})
	assert.Equal(t, 5*time.Second, conn.Heartbeat())
	assert.Equal(t, uint8(8), amqplib.ConnOf(conn).Tuned().VersionMajor, "RabbitMQ reports 0-8 as 8-0")
	assert.Equal(t, uint8(0), amqplib.ConnOf(conn).Tuned().VersionMinor)
	assert.Equal(t, "AMQPLAIN", amqplib.ConnOf(conn).Tuned().Mechanism)
	conn2, err := client08.Dial(testbroker.URL(t) + "?auth_mechanism=plain")
	require.NoError(t, err)
	assert.Equal(t, "PLAIN", amqplib.ConnOf(conn2).Tuned().Mechanism)
	require.NoError(t, conn2.Close())
}

func TestBrokerAccessRequest(t *testing.T) {
	_, ch := open(t, amqp.Config{})
	assert.Equal(t, amqp.Ticket(0), ch.Ticket())
	tk, err := ch.AccessRequest("/data", amqp.DefaultAccess)
	require.NoError(t, err)
	assert.Equal(t, amqp.Ticket(1), tk, "RabbitMQ grants ticket 1 for any realm")
	assert.Equal(t, tk, ch.Ticket())
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.WithTicket(0).Publish("", q.Name, amqp.NewMessage("with ticket 0")))
	d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "with ticket 0", d.Text())
}

func TestBrokerTables08(t *testing.T) {
	_, ch := open(t, amqp.Config{})
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	for _, v := range []any{true, int64(1 << 40), 1.5, []byte{1}, []any{"a"}, nil} {
		msg := amqp.NewMessage("x")
		msg.Headers = amqp.Table{"v": v}
		err := ch.Publish("", q.Name, msg)
		assert.ErrorIs(t, err, amqp.ErrInvalidArgument, "%T", v)
		assert.Contains(t, err.Error(), "0-8")
	}
	assert.False(t, ch.IsClosed(), "refused before anything was sent")

	// With ExtendedTables the full RabbitMQ set goes through on 0-8.
	_, ext := open(t, amqp.Config{ExtendedTables: true})
	q2, err := ext.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	msg := amqp.NewMessage("x")
	msg.Headers = amqp.Table{"b": true, "l": int64(1 << 40), "a": []any{"a", int64(2)}, "f": 1.5}
	require.NoError(t, ext.Publish("", q2.Name, msg))
	d, ok, err := ext.Get(q2.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, msg.Headers, d.Headers)
}

// RabbitMQ sends arrays and int64 in x-death to 0-8 clients too.
func TestBrokerDeadLetterHeaders08(t *testing.T) {
	_, ch := open(t, amqp.Config{})
	dead, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	src, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true, Arguments: amqp.Table{
		"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead.Name}})
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", src.Name, amqp.NewMessage("doomed")))
	d, ok, err := ch.Get(src.Name)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, ch.Reject(d.DeliveryTag))
	var got *amqp.Delivery
	for got == nil { // dead-lettering is asynchronous; poll with a bounded number of gets
		got, _, err = ch.Get(dead.Name, amqp.GetOptions{NoAck: true})
		require.NoError(t, err)
		if got == nil {
			_, err := ch.QueueDeclare(dead.Name, amqp.QueueOptions{Passive: true})
			require.NoError(t, err)
		}
	}
	deaths, ok := got.Headers["x-death"].([]any)
	require.True(t, ok, "x-death is an array: %#v", got.Headers["x-death"])
	first := deaths[0].(amqp.Table)
	assert.Equal(t, int64(1), first["count"])
	assert.Equal(t, "rejected", first["reason"])
	assert.IsType(t, time.Time{}, first["time"])
}

func TestBrokerCrossVersion(t *testing.T) {
	_, ch08 := open(t, amqp.Config{})
	conn91, err := client091.Dial(testbroker.URL(t))
	require.NoError(t, err)
	defer conn91.Close()
	ch91, err := conn91.Channel()
	require.NoError(t, err)
	q, err := ch91.QueueDeclare(testbroker.Name(t, "cross"), amqp.QueueOptions{AutoDelete: true})
	require.NoError(t, err)
	defer ch91.QueueDelete(q.Name)

	// Sync points across connections: a committed transaction on 0-8, a
	// confirm on 0-9-1; after either, the message is in the queue.
	from08 := conformance.FullMessage(headers08)
	require.NoError(t, ch08.TxSelect())
	require.NoError(t, ch08.Publish("", q.Name, from08))
	require.NoError(t, ch08.TxCommit())
	d, ok, err := ch91.Get(q.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, from08.Properties, d.Properties)
	assert.Equal(t, from08.Body, d.Body)

	from91 := conformance.FullMessage(amqp.Table{"l": int64(-1 << 40), "a": []any{true, "x"}, "s": int16(-2), "t": true})
	require.NoError(t, ch91.ConfirmSelect())
	require.NoError(t, ch91.PublishConfirmed("", q.Name, from91))
	d, ok, err = ch08.Get(q.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, from91.Properties, d.Properties, "0-8 decodes RabbitMQ's full table set")
	assert.Equal(t, from91.Body, d.Body)
}

func TestBrokerConsumeArgumentsRefused08(t *testing.T) {
	_, ch := open(t, amqp.Config{})
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	_, err = ch.Consume(q.Name, func(*amqp.Delivery) {}, amqp.ConsumeOptions{Arguments: amqp.Table{"x-priority": int32(1)}})
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.False(t, ch.IsClosed())
}
