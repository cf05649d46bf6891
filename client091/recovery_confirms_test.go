package client091_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// streaming publishes n numbered messages to a server-named queue while
// the proxy holds them, then resets the connection and lets it recover. It
// returns the channel, the queue's (old) name, the numbers the publishes
// got, and the OnConfirm reports so far.
func streaming(t *testing.T, rec amqp.Recovery, n int) (*client091.Channel, string, []uint64, *[]amqp.Confirmation) {
	t.Helper()
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	rec.MinBackoff, rec.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	conn, err := client091.DialConfig(p.URL(url), amqp.Config{Timeout: recoveryLimit, Recovery: &rec})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ups := make(chan struct{}, 2)
	conn.OnRecovered(func() { ups <- struct{}{} })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	var got []amqp.Confirmation
	ch.OnConfirm(func(c amqp.Confirmation) { got = append(got, c) })
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	p.BlackHole() // the publishes and their confirms wait in the proxy
	var seqs []uint64
	for i := range n {
		require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage(strconv.Itoa(i))))
		seqs = append(seqs, ch.PublishSeq())
	}
	p.Reset() // what the proxy held is lost
	p.Pass()
	next(t, ups, "OnRecovered")
	return ch, q.Name, seqs, &got
}

// dispatchUntil runs Wait until n confirmations were reported.
func dispatchUntil(t *testing.T, ch *client091.Channel, got *[]amqp.Confirmation, n int) {
	t.Helper()
	for len(*got) < n {
		require.NoError(t, ch.WaitTimeout(recoveryLimit), "%d of %d confirmations", len(*got), n)
	}
}

// Without republishing, each number a lost connection left unconfirmed
// is reported to OnConfirm as lost, once, under the number the publish
// got.
func TestBrokerRecoveryLostConfirmations(t *testing.T) {
	ch, _, seqs, got := streaming(t, amqp.Recovery{}, 5)
	dispatchUntil(t, ch, got, len(seqs))
	for i, c := range *got {
		assert.Equal(t, amqp.Confirmation{DeliveryTag: seqs[i], Lost: true}, c)
	}
	require.ErrorIs(t, ch.WaitConfirms(), amqp.ErrClosed, "reported lost to the waits too")
}

// With RepublishUnconfirmed the lost publishes are sent again, in order,
// on the restored channel (to the renamed queue): WaitConfirms and
// WaitConfirm succeed, OnConfirm acks each under its original number, and
// every message is in the queue once.
func TestBrokerRecoveryRepublish(t *testing.T) {
	const n = 20
	ch, queue, seqs, got := streaming(t, amqp.Recovery{RepublishUnconfirmed: true}, n)
	require.NoError(t, ch.WaitConfirms())
	require.NoError(t, ch.WaitConfirm(seqs[n-1]))
	dispatchUntil(t, ch, got, n)
	acked := map[uint64]bool{}
	for _, c := range *got {
		assert.True(t, c.Ack, "confirmation %d", c.DeliveryTag)
		assert.False(t, c.Lost)
		acked[c.DeliveryTag] = true
	}
	for _, s := range seqs {
		assert.True(t, acked[s], "number %d acked", s)
	}
	for i := range n {
		d, ok, err := ch.Get(queue, amqp.GetOptions{NoAck: true})
		require.NoError(t, err)
		require.True(t, ok, "message %d", i)
		assert.Equal(t, strconv.Itoa(i), string(d.Body))
	}
	_, ok, err := ch.Get(queue)
	require.NoError(t, err)
	assert.False(t, ok, "each message once")
	require.NoError(t, ch.Publish("", queue, amqp.NewMessage("after")))
	assert.Greater(t, ch.PublishSeq(), seqs[n-1])
	require.NoError(t, ch.WaitConfirm(ch.PublishSeq()))
}
