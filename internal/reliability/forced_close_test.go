package reliability_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/node2"
)

// When the broker closes the connection (rabbitmqctl close_all_connections),
// calls blocked waiting for events and every later call fail within 1 s
// with the broker's 320 CONNECTION_FORCED and its text.
func TestForcedCloseByBroker(t *testing.T) {
	const bound = time.Second
	forEach(t, func(t *testing.T, d dialect) {
		url := node2.Start(t)
		c := mustDial(t, d, url, amqp.Config{Timeout: 10 * time.Second})
		consumeCh, waitCh, laterCh := mustChannel(t, c), mustChannel(t, c), mustChannel(t, c)
		q, err := consumeCh.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		require.NoError(t, err)
		_, err = consumeCh.Consume(q.Name, func(*amqp.Delivery) { t.Error("no message was published") })
		require.NoError(t, err)
		// Two calls blocked waiting for events, each on its own channel.
		waiting := async(consumeCh.Wait)
		waitingTimeout := async(func() error { return waitCh.WaitTimeout(time.Minute) })

		reason := "reliability test " + d.name
		node2.CloseAllConnections(t, reason)
		ctlDone := time.Now() // the broker has sent connection.close by now

		check := func(what string, err error) {
			t.Helper()
			var ae *amqp.Error
			if assert.True(t, errors.As(err, &ae), "%s: want *amqp.Error, got %v", what, err) {
				assert.Equal(t, amqp.ConnectionForced, ae.Code, what)
				assert.Contains(t, ae.Text, reason, what)
				assert.True(t, ae.Server, "%s: raised by the broker", what)
			}
			assert.ErrorIs(t, err, amqp.ErrConnectionForced, what)
		}
		for name, ch := range map[string]<-chan result{"consumer Wait": waiting, "WaitTimeout": waitingTimeout} {
			r := await(t, ch, bound+5*time.Second, name)
			assert.LessOrEqual(t, r.at.Sub(ctlDone), bound, "%s returns within 1 s", name)
			check(name, r.err)
			assert.ErrorIs(t, r.err, amqp.ErrClosed, name)
		}
		waitDone(t, c, ctlDone, bound)
		check("Conn.Err", c.Err())

		later := map[string]func() error{
			"Channel":      func() error { _, err := c.Channel(); return err },
			"QueueDeclare": func() error { _, err := laterCh.QueueDeclare("", amqp.QueueOptions{Exclusive: true}); return err },
			"Publish":      func() error { return laterCh.Publish("", q.Name, amqp.NewMessage("late")) },
			"Get":          func() error { _, _, err := laterCh.Get(q.Name); return err },
			"Consume":      func() error { _, err := laterCh.Consume(q.Name, func(*amqp.Delivery) {}); return err },
			"Ack":          func() error { return laterCh.Ack(1) },
			"TxSelect":     laterCh.TxSelect,
			"Wait":         laterCh.Wait,
			"WaitTimeout":  func() error { return laterCh.WaitTimeout(time.Minute) },
		}
		for name, fn := range later {
			var err error
			took := timed(func() { err = fn() })
			assert.LessOrEqual(t, took, bound, "%s returns at once", name)
			check(name, err)
			assert.ErrorIs(t, err, amqp.ErrClosed, name)
		}
		// Closing what the broker closed is not an error.
		assert.NoError(t, laterCh.Close())
		assert.NoError(t, c.Close())
	})
}
