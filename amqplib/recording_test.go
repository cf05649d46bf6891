package amqplib_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// A consumer whose basic.consume-ok arrived just as the connection was
// lost is restored: the recovery waits until the call has recorded it, so
// it is in the replay (the call holds the recording lock from its attempt
// to its record; the recovery takes it before its snapshot). Without it the
// recovery could run in that window and restore the channel without the
// consumer.
func TestBrokerRecoveryRecordsCallInFlight(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	ctx := context.Background()
	cc, err := amqplib.DialURL(ctx, spec091.Protocol, p.URL(url), amqp.Config{Timeout: 10 * time.Second,
		Recovery: &amqp.Recovery{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}}, amqplib.DialHooks{})
	require.NoError(t, err)
	defer cc.Close()
	ups := make(chan struct{}, 2)
	cc.OnRecovered(func() { ups <- struct{}{} })
	ch, err := amqplib.OpenChannel(ctx, cc, 0, func(c *amqplib.Chan) *amqplib.Chan { return c })
	require.NoError(t, err)
	q, err := ch.DeclareQueue(ctx, &spec091.QueueDeclare{Exclusive: true}, "", false, spec091.IDQueueDeclareOK)
	require.NoError(t, err)

	var fired, held atomic.Bool
	defer amqplib.SetAttemptHook(func() {
		if fired.Swap(true) {
			return
		}
		held.Store(amqplib.RecordingHeld(cc))
		p.Reset()
		deadline := time.Now().Add(10 * time.Second)
		for !amqplib.RestoreWaiting(cc) && len(ups) == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond) // until the recovery has begun restoring, or is done
		}
	})()
	got := make(chan string, 1)
	_, err = ch.StartConsumer(ctx, &spec091.BasicConsume{Queue: q.Name, NoAck: true}, amqp.ConsumeOptions{NoAck: true},
		spec091.IDBasicConsumeOK, func(d *amqp.Delivery) { got <- string(d.Body) })
	require.NoError(t, err)
	require.True(t, fired.Load())
	assert.True(t, held.Load(), "the call holds the recording lock between its success and its record")
	select {
	case <-ups:
	case <-time.After(10 * time.Second):
		t.Fatal("no recovery")
	}
	_, err = ch.PublishContentNow(ctx, &spec091.BasicPublish{RoutingKey: q.Name}, &amqp.Message{Body: []byte("x")})
	require.NoError(t, err)
	for len(got) == 0 {
		require.NoError(t, ch.Engine().WaitTimeout(ctx, 5*time.Second), "the consumer is on the new channel")
	}
	assert.Equal(t, "x", <-got)
}

// Setting a callback holds the recording lock, so a restore (which copies
// the callbacks to the new channel under it) never runs between the
// setter's choice of channel and its write.
func TestBrokerRecoveryCallbackSetUnderRecordingLock(t *testing.T) {
	url := testbroker.URL(t)
	ctx := context.Background()
	cc, err := amqplib.DialURL(ctx, spec091.Protocol, url, amqp.Config{Timeout: 10 * time.Second,
		Recovery: &amqp.Recovery{}}, amqplib.DialHooks{})
	require.NoError(t, err)
	defer cc.Close()
	ch, err := amqplib.OpenChannel(ctx, cc, 0, func(c *amqplib.Chan) amqplib.Common { return amqplib.NewCommon(c) })
	require.NoError(t, err)
	var held, called atomic.Bool
	defer amqplib.SetAttemptHook(func() {
		called.Store(true)
		held.Store(amqplib.RecordingHeld(cc))
	})()
	ch.OnReturn(func(*amqp.Return) {})
	require.True(t, called.Load())
	assert.True(t, held.Load(), "OnReturn holds the recording lock")
}
