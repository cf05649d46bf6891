package client091_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// republishing dials through a fresh proxy with RepublishUnconfirmed.
func republishing(t *testing.T) (*client091.Conn, *faultproxy.Proxy, chan struct{}) {
	t.Helper()
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	conn, err := client091.DialConfig(p.URL(url), amqp.Config{Timeout: recoveryLimit, Recovery: &amqp.Recovery{
		RepublishUnconfirmed: true, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	return conn, p, ups
}

// A number republished at one recovery and acked there is still answered
// as acked by WaitConfirm after a second recovery.
func TestBrokerRecoveryRepublishedThenRecoveredAgain(t *testing.T) {
	conn, p, ups := republishing(t)
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	p.BlackHole()
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("x")))
	seq := ch.PublishSeq()
	p.Reset()
	p.Pass()
	next(t, ups, "OnRecovered 1")
	require.NoError(t, ch.WaitConfirms())
	require.NoError(t, ch.WaitConfirm(seq))
	p.Reset()
	next(t, ups, "OnRecovered 2")
	assert.NoError(t, ch.WaitConfirm(seq), "republished and acked on the second connection")
}

// A number acked before any loss is answered as acked after two
// recoveries, with a WaitConfirms between them.
func TestBrokerRecoveryAckedNumberAfterTwoRecoveries(t *testing.T) {
	conn, p, ups := recovering(t)
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.Publish("", "", amqp.NewMessage("x")))
	seq := ch.PublishSeq()
	require.NoError(t, ch.WaitConfirm(seq))
	p.Reset()
	next(t, ups, "OnRecovered 1")
	require.NoError(t, ch.WaitConfirms())
	p.Reset()
	next(t, ups, "OnRecovered 2")
	assert.NoError(t, ch.WaitConfirm(seq))
	assert.NoError(t, ch.WaitConfirms(), "nothing was lost")
}

// With RepublishUnconfirmed, a nack the lost connection got that no wait
// reported yet is reported by the next WaitConfirms.
func TestBrokerRecoveryNackBeforeLossReported(t *testing.T) {
	conn, p, ups := republishing(t)
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	var got []amqp.Confirmation
	ch.OnConfirm(func(c amqp.Confirmation) { got = append(got, c) })
	full, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true,
		Arguments: amqp.Table{"x-max-length": int32(0), "x-overflow": "reject-publish"}})
	require.NoError(t, err)
	other, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", full.Name, amqp.NewMessage("nacked")))
	dispatchUntil(t, ch, &got, 1)
	require.False(t, got[0].Ack)
	p.BlackHole()
	require.NoError(t, ch.Publish("", other.Name, amqp.NewMessage("unconfirmed")))
	p.Reset()
	p.Pass()
	next(t, ups, "OnRecovered")
	assert.ErrorIs(t, ch.WaitConfirms(), amqp.ErrNacked, "the nack from before the loss, once")
	assert.NoError(t, ch.WaitConfirms())
}

// A transaction with work on both sides of a recovery: its commit fails
// and nothing of it stays, so redoing the work stores each message once.
func TestBrokerRecoveryTransactionAcrossRecovery(t *testing.T) {
	conn, p, ups := recovering(t)
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare(testbroker.Name(t, "txboth"), amqp.QueueOptions{})
	require.NoError(t, err)
	defer func() { _, _ = ch.QueueDelete(q.Name) }()
	require.NoError(t, ch.TxSelect())
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("A")))
	p.Reset()
	next(t, ups, "OnRecovered")
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("B")))
	require.ErrorIs(t, ch.TxCommit(), amqp.ErrClosed)
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("A")))
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("B")))
	require.NoError(t, ch.TxCommit())
	var bodies []string
	for {
		d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
		require.NoError(t, err)
		if !ok {
			break
		}
		bodies = append(bodies, string(d.Body))
	}
	assert.Equal(t, []string{"A", "B"}, bodies)
}

// A recorded call (Qos) made while a recovery restores keeps to its
// context instead of waiting for the recovery's end.
func TestBrokerRecoveryRecordedCallBoundedDuringRestore(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	inHook := make(chan struct{}, 4)
	release := make(chan struct{})
	first := true
	conn, err := client091.DialContext(context.Background(), p.URL(url), amqp.Config{Timeout: 5 * time.Second,
		Recovery: &amqp.Recovery{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}},
		client091.OnConnect(func(*client091.Conn) error {
			if first {
				first = false
				return nil
			}
			inHook <- struct{}{}
			<-release // a slow set-up on the new connection
			return nil
		}))
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	p.Reset()
	next(t, inHook, "the on-connect hook during the recovery")
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- ch.WithContext(ctx).Qos(5) }()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	case <-time.After(recoveryLimit):
		t.Fatal("Qos with a 200 ms context still blocked")
	}
}
