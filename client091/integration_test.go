package client091_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// open dials the test broker and opens a channel; both close at the end.
func open(t *testing.T, query ...string) (*client091.Conn, *client091.Channel) {
	t.Helper()
	addr := testbroker.URL(t)
	if len(query) > 0 {
		addr += "?" + strings.Join(query, "&")
	}
	conn, err := client091.DialConfig(addr, amqp.Config{Timeout: 10 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return conn, ch
}

// tempQueue declares an exclusive server-named queue.
func tempQueue(t *testing.T, ch *client091.Channel) string {
	t.Helper()
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(q.Name, "amq.gen-"), q.Name)
	return q.Name
}

func TestBrokerHandshake(t *testing.T) {
	conn, _ := open(t, "heartbeat=7", "frame_max=8192", "channel_max=64")
	assert.Equal(t, 7*time.Second, conn.Heartbeat())
	assert.Equal(t, uint32(8192), conn.FrameMax())
	assert.Equal(t, uint16(64), conn.ChannelMax())
	assert.True(t, strings.HasPrefix(conn.ServerVersion(), "RabbitMQ "), conn.ServerVersion())
	assert.True(t, conn.PublisherConfirms())
	assert.True(t, conn.BasicNack())
	assert.True(t, conn.ExchangeBindings())
	assert.True(t, conn.ConsumerCancelNotify())
	assert.Equal(t, "open", conn.State())
}

func TestBrokerAMQPLAINLogin(t *testing.T) {
	open(t, "auth_mechanism=amqplain")
}

func TestBrokerWrongPassword(t *testing.T) {
	u, err := url.Parse(testbroker.URL(t))
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "wrong-s3ntinel")
	_, err = client091.Dial(u.String())
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrAuth)
	assert.ErrorIs(t, err, amqp.ErrAccessRefused, "authentication_failure_close gives a 403, not an EOF")
	assert.NotContains(t, err.Error(), "wrong-s3ntinel")
}

func TestBrokerMissingVhost(t *testing.T) {
	u, err := url.Parse(testbroker.URL(t))
	require.NoError(t, err)
	u.Path = "/no-such-vhost"
	_, err = client091.Dial(u.String())
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrNotAllowed)
}

func TestBrokerQueueLifecycle(t *testing.T) {
	_, ch := open(t)
	ex := testbroker.Name(t, "ex")
	require.NoError(t, ch.ExchangeDeclare(ex, "direct", amqp.ExchangeOptions{Durable: false}))
	require.NoError(t, ch.ExchangeDeclare(ex, "direct", amqp.ExchangeOptions{Passive: true}))
	q := testbroker.Name(t, "q")
	info, err := ch.QueueDeclare(q, amqp.QueueOptions{AutoDelete: true, Arguments: amqp.Table{"x-max-length": int32(100)}})
	require.NoError(t, err)
	assert.Equal(t, amqp.QueueInfo{Name: q}, info)
	require.NoError(t, ch.QueueBind(q, ex, "key"))
	// Confirms are the sync point: a confirmed message is in its queues,
	// while a passive declare may count before earlier publishes landed.
	require.NoError(t, ch.ConfirmSelect())
	for i := 0; i < 3; i++ {
		require.NoError(t, ch.Publish(ex, "key", amqp.NewMessage("m")))
	}
	require.NoError(t, ch.Publish(ex, "other", amqp.NewMessage("unrouted")))
	require.NoError(t, ch.WaitConfirms())
	info = queueMessages(t, ch, q, 3)
	assert.Equal(t, 3, info.Messages)
	n, err := ch.QueuePurge(q)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	require.NoError(t, ch.QueueUnbind(q, ex, "key"))
	require.NoError(t, ch.Publish(ex, "key", amqp.NewMessage("after unbind")))
	require.NoError(t, ch.Publish("", q, amqp.NewMessage("direct")))
	require.NoError(t, ch.WaitConfirms())
	info = queueMessages(t, ch, q, 1)
	assert.Equal(t, 1, info.Messages)
	_, err = ch.QueueDelete(q, amqp.QueueDeleteOptions{IfEmpty: true})
	assert.ErrorIs(t, err, amqp.ErrPreconditionFailed)
	_, ch = open(t)
	n, err = ch.QueueDelete(q)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	require.NoError(t, ch.ExchangeDelete(ex, amqp.ExchangeDeleteOptions{IfUnused: true}))
}

// queueMessages checks the queue holds n messages.
func queueMessages(t *testing.T, ch *client091.Channel, q string, n int) amqp.QueueInfo {
	t.Helper()
	info, err := ch.QueueDeclare(q, amqp.QueueOptions{Passive: true})
	require.NoError(t, err)
	require.Equal(t, n, info.Messages)
	return info
}

func TestBrokerExchangeBind(t *testing.T) {
	_, ch := open(t)
	src, dst := testbroker.Name(t, "src"), testbroker.Name(t, "dst")
	require.NoError(t, ch.ExchangeDeclare(src, "fanout"))
	defer func() { require.NoError(t, ch.ExchangeDelete(src)) }()
	require.NoError(t, ch.ExchangeDeclare(dst, "fanout", amqp.ExchangeOptions{AutoDelete: true}))
	q := tempQueue(t, ch)
	require.NoError(t, ch.QueueBind(q, dst, ""))
	require.NoError(t, ch.ExchangeBind(dst, src, ""))
	require.NoError(t, ch.Publish(src, "", amqp.NewMessage("via e2e")))
	d, ok, err := ch.Get(q, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "via e2e", d.Text())
	assert.Equal(t, src, d.Exchange)
	require.NoError(t, ch.ExchangeUnbind(dst, src, ""))
	require.NoError(t, ch.Publish(src, "", amqp.NewMessage("dropped")))
	_, ok, err = ch.Get(q)
	require.NoError(t, err)
	assert.False(t, ok)
}

func TestBrokerMessageRoundTrip(t *testing.T) {
	_, ch := open(t)
	q := tempQueue(t, ch)
	ts := time.Unix(1700000000, 0).UTC()
	headers := amqp.Table{
		"bool": true, "i8": int8(-8), "u8": uint8(8), "i16": int16(-16), "u16": uint16(16),
		"i32": int32(-32), "u32": uint32(32), "i64": int64(-1 << 40), "f32": float32(1.5), "f64": 2.25,
		"dec": amqp.Decimal{Scale: 2, Value: -12345}, "str": "text ✓", "bytes": []byte{0, 1, 2},
		"time": ts, "nested": amqp.Table{"a": "b"}, "array": []any{int64(1), "two", true}, "void": nil,
	}
	msg := amqp.NewMessage("héllo")
	msg.ContentType = "text/plain"
	msg.Headers = headers
	msg.DeliveryMode = amqp.Persistent
	msg.Priority = 5
	msg.CorrelationID = "corr"
	msg.ReplyTo = "reply"
	msg.Expiration = "60000"
	msg.MessageID = "id-1"
	msg.Timestamp = ts
	msg.Type = "kind"
	msg.UserID = "guest"
	msg.AppID = "app"
	msg.ClusterID = "cluster"
	require.NoError(t, ch.Publish("", q, msg))
	d, ok, err := ch.Get(q)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, msg.Properties, d.Properties)
	assert.Equal(t, []byte("héllo"), d.Body)
	assert.Equal(t, "UTF-8", d.ContentEncoding)
	assert.Equal(t, "", d.Exchange)
	assert.Equal(t, q, d.RoutingKey)
	assert.Equal(t, uint32(0), d.MessageCount)
	require.NoError(t, ch.Ack(d.DeliveryTag))

	raw := amqp.NewMessage([]byte{0xff, 0})
	require.NoError(t, ch.Publish("", q, raw))
	d, ok, err = ch.Get(q, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []byte{0xff, 0}, d.Body)
	assert.Equal(t, "", d.ContentEncoding, "byte bodies carry no encoding")
}

func TestBrokerBodies(t *testing.T) {
	_, ch := open(t, "frame_max=4096")
	q := tempQueue(t, ch)
	for _, size := range []int{0, 1, 4087, 4088, 4089, 10240, 1 << 20} {
		body := make([]byte, size)
		for i := range body {
			body[i] = byte(i * 7)
		}
		require.NoError(t, ch.Publish("", q, amqp.NewMessage(body)))
		d, ok, err := ch.Get(q, amqp.GetOptions{NoAck: true})
		require.NoError(t, err, size)
		require.True(t, ok, size)
		assert.Equal(t, size, len(d.Body))
		assert.Equal(t, body, d.Body, "size %d", size)
	}
}

func TestBrokerGetEmpty(t *testing.T) {
	_, ch := open(t)
	q := tempQueue(t, ch)
	d, ok, err := ch.Get(q)
	assert.NoError(t, err)
	assert.False(t, ok)
	assert.Nil(t, d)
}

func TestBrokerMaxMessageSize(t *testing.T) {
	conn, err := client091.DialConfig(testbroker.URL(t), amqp.Config{MaxMessageSize: 1000})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	q := tempQueue(t, ch)
	require.NoError(t, ch.Publish("", q, amqp.NewMessage(make([]byte, 2000))))
	_, _, err = ch.Get(q)
	assert.ErrorIs(t, err, amqp.ErrTooLarge)
	ch2, err := conn.Channel()
	require.NoError(t, err, "the connection survives")
	require.NoError(t, ch2.Close())
}
