package reliability_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// A mandatory message nobody can route comes back (basic.return) before its
// confirm, and the confirm is an ack: the broker took responsibility and
// returned it. A routable mandatory message gets only its ack.
func TestMandatoryReturnBeforeConfirm(t *testing.T) {
	c := mustDial(t, v091, brokerURL(t), amqp.Config{Timeout: 10 * time.Second})
	ch := mustChannel(t, c)
	conf := ch.(Confirmer)
	require.NoError(t, conf.ConfirmSelect())
	var events []string
	ch.OnReturn(func(r *amqp.Return) { events = append(events, fmt.Sprintf("return %d %s", r.ReplyCode, r.Body)) })
	conf.OnConfirm(func(cf amqp.Confirmation) {
		events = append(events, fmt.Sprintf("confirm %d %v", cf.DeliveryTag, cf.Ack))
	})

	nowhere := testbroker.Name(t, "nowhere")
	require.NoError(t, ch.Publish("", nowhere, amqp.NewMessage("lost"), amqp.PublishOptions{Mandatory: true}))
	require.NoError(t, conf.WaitConfirm(conf.PublishSeq()), "an unroutable message is acked, not nacked")
	dispatchQueued(t, ch)
	assert.Equal(t, []string{"return 312 lost", "confirm 1 true"}, events, "the return comes before the confirm")

	events = nil
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("routed"), amqp.PublishOptions{Mandatory: true}))
	require.NoError(t, conf.WaitConfirm(conf.PublishSeq()))
	dispatchQueued(t, ch)
	assert.Equal(t, []string{"confirm 2 true"}, events)
}

// Deliveries left unacknowledged come back with redelivered=true once their
// channel closes, whether the client closed it or the broker did for a
// channel error; the error stays on its channel and the connection goes on.
func TestUnackedRedeliveredAfterChannelClose(t *testing.T) {
	forEach(t, func(t *testing.T, d dialect) {
		for _, how := range []string{"Close", "channel error"} {
			t.Run(how, func(t *testing.T) {
				c := mustDial(t, d, brokerURL(t), amqp.Config{Timeout: 10 * time.Second})
				ch := mustChannel(t, c)
				q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true}) // the connection's, not the channel's
				require.NoError(t, err)
				bodies := []string{"one", "two", "three"}
				for _, b := range bodies {
					require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage(b)))
				}
				var got []string
				_, err = ch.Consume(q.Name, func(dl *amqp.Delivery) {
					assert.False(t, dl.Redelivered)
					got = append(got, dl.Text())
				})
				require.NoError(t, err)
				for len(got) < len(bodies) {
					require.NoError(t, ch.WaitTimeout(10*time.Second))
				}
				other := mustChannel(t, c)
				switch how {
				case "Close":
					require.NoError(t, ch.Close())
				case "channel error":
					_, err := ch.QueueDeclare(testbroker.Name(t, "missing"), amqp.QueueOptions{Passive: true})
					require.ErrorIs(t, err, amqp.ErrNotFound)
					assert.True(t, ch.IsClosed())
					assert.ErrorIs(t, ch.Err(), amqp.ErrNotFound)
				}
				assert.Equal(t, "open", c.State(), "a channel error stays on its channel")
				for _, want := range bodies {
					dl, ok, err := other.Get(q.Name)
					require.NoError(t, err)
					require.True(t, ok, "message %q came back", want)
					assert.Equal(t, want, dl.Text())
					assert.True(t, dl.Redelivered, "%q is marked redelivered", want)
					require.NoError(t, other.Ack(dl.DeliveryTag))
				}
			})
		}
	})
}
