package reliability_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
)

// A black-holed connection (open, but nothing comes back) must not hang
// anyone: with Config.Timeout 1 s every call that waits for the broker
// returns within about 1 s with an error matching amqp.ErrTimeout. The
// library's Close also waits at most Timeout for close-ok and then reports
// amqp.ErrTimeout (the socket is closed all the same).
func TestBlackHoledConnection(t *testing.T) {
	const timeout = time.Second
	const bound = timeout + time.Second // slack for a loaded machine
	forEach(t, func(t *testing.T, d dialect) {
		p := proxy(t)
		c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Timeout: timeout})
		declareCh, getCh, confirmCh, closeCh := mustChannel(t, c), mustChannel(t, c), mustChannel(t, c), mustChannel(t, c)
		q, err := declareCh.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		require.NoError(t, err)
		var conf Confirmer
		if d.confirms {
			conf = confirmCh.(Confirmer)
			require.NoError(t, conf.ConfirmSelect())
		}

		p.BlackHole()

		check := func(what string, fn func() error) {
			t.Helper()
			var err error
			took := timed(func() { err = fn() })
			t.Logf("%s: %s: %v", what, took.Round(time.Millisecond), err)
			assert.ErrorIs(t, err, amqp.ErrTimeout, what)
			assert.LessOrEqual(t, took, bound, "%s returns within Timeout + 1 s", what)
		}
		check("channel.open", func() error { _, err := c.Channel(); return err })
		check("queue.declare", func() error { _, err := declareCh.QueueDeclare("", amqp.QueueOptions{Exclusive: true}); return err })
		check("basic.get", func() error { _, _, err := getCh.Get(q.Name); return err })
		if conf != nil {
			require.NoError(t, confirmCh.Publish("", q.Name, amqp.NewMessage("unconfirmed")), "publish does not wait")
			check("WaitConfirm", func() error { return conf.WaitConfirm(conf.PublishSeq()) })
		}
		check("channel.close", closeCh.Close)
		assert.Equal(t, "open", c.State(), "timeouts give up channels, not the connection")
		check("connection.close", c.Close)
		assert.True(t, c.IsClosed(), "Close closes the socket even without close-ok")
		assert.NoError(t, c.Close(), "a second Close returns nil")

		// The proxy heals; a new connection works.
		p.Pass()
		c2 := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Timeout: 5 * time.Second})
		_, err = mustChannel(t, c2).QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		require.NoError(t, err)
	})
}

// A publish whose body cannot leave (the network stalls with the socket
// buffers full) is bounded too: the write deadline is Config.Timeout, after
// which the connection is closed with an error matching amqp.ErrTimeout.
func TestBlackHoledLargePublish(t *testing.T) {
	const timeout = time.Second
	forEach(t, func(t *testing.T, d dialect) {
		p := proxy(t)
		c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Timeout: timeout})
		ch := mustChannel(t, c)
		q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		require.NoError(t, err)
		p.BlackHole()
		big := amqp.NewMessage(make([]byte, 32<<20)) // more than the socket buffers hold
		took := timed(func() { err = ch.Publish("", q.Name, big) })
		t.Logf("publish: %s: %v", took.Round(time.Millisecond), err)
		assert.ErrorIs(t, err, amqp.ErrTimeout)
		assert.ErrorIs(t, err, amqp.ErrClosed)
		assert.LessOrEqual(t, took, timeout+time.Second, "returns within Timeout + 1 s")
		assert.True(t, c.IsClosed(), "a write that timed out ends the connection (the frame stream is cut mid-frame)")
		assert.ErrorIs(t, c.Err(), amqp.ErrTimeout)
	})
}

// Dialing into a black hole (TCP accepted, no connection.start) fails within
// the connection timeout with amqp.ErrHandshake wrapping amqp.ErrTimeout.
func TestDialIntoBlackHole(t *testing.T) {
	const timeout = time.Second
	forEach(t, func(t *testing.T, d dialect) {
		p := proxy(t)
		p.BlackHole()
		var err error
		took := timed(func() { _, err = d.dial(p.URL(brokerURL(t)), amqp.Config{ConnectionTimeout: timeout}) })
		t.Logf("%s: %v", took.Round(time.Millisecond), err)
		assert.ErrorIs(t, err, amqp.ErrHandshake)
		assert.ErrorIs(t, err, amqp.ErrTimeout)
		assert.LessOrEqual(t, took, timeout+time.Second)
	})
}

// Heartbeats catch a black-holed network as they catch a frozen broker:
// reported within 2×heartbeat + 1 s as amqp.ErrHeartbeatTimeout, on both
// protocol versions, while a call waits with a much longer timeout.
func TestBlackHoleHeartbeat(t *testing.T) {
	const hb = time.Second
	forEach(t, func(t *testing.T, d dialect) {
		p := proxy(t)
		c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Heartbeat: hb, Timeout: 30 * time.Second})
		ch := mustChannel(t, c)
		p.BlackHole()
		start := time.Now()
		call := async(func() error { _, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true}); return err })
		took := waitDone(t, c, start, 2*hb+5*time.Second)
		assert.LessOrEqual(t, took, 2*hb+time.Second, "reported within 2×heartbeat + 1 s")
		assert.ErrorIs(t, c.Err(), amqp.ErrHeartbeatTimeout)
		r := await(t, call, 5*time.Second, "queue.declare")
		assert.ErrorIs(t, r.err, amqp.ErrHeartbeatTimeout)
	})
}

// A slow network (150 ms each way) is not a dead one: calls bounded by 2 s
// and a 1 s heartbeat succeed.
func TestLatencyIsNotAFault(t *testing.T) {
	forEach(t, func(t *testing.T, d dialect) {
		p := proxy(t)
		p.SetLatency(150 * time.Millisecond)
		c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Heartbeat: time.Second, Timeout: 2 * time.Second})
		ch := mustChannel(t, c)
		q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		require.NoError(t, err)
		require.NoError(t, ch.TxSelect())
		require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("slow")))
		require.NoError(t, ch.TxCommit())
		time.Sleep(2200 * time.Millisecond) // idle past 2 heartbeat intervals on a slow link
		dl, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "slow", dl.Text())
		assert.Equal(t, "open", c.State())
	})
}
