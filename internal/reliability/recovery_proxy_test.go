package reliability_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
)

// fastRecovery is a recovery policy for proxied tests.
var fastRecovery = &amqp.Recovery{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}

// 100 recoveries of a connection with a confirming publisher and a
// consumer leave no goroutine and no file descriptor behind once it is
// closed, and every recovery leaves it working.
func TestNoLeakRecoveries(t *testing.T) {
	const rounds = 100
	g0, f0 := baseline(t, v091)
	p := proxy(t)
	conn, err := client091.DialConfig(p.URL(brokerURL(t)), amqp.Config{Timeout: 10 * time.Second, Recovery: fastRecovery})
	require.NoError(t, err)
	ups := make(chan struct{}, 1)
	conn.OnRecovered(func() { ups <- struct{}{} })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	got := make(chan struct{}, rounds+1)
	_, err = ch.Consume(q.Name, func(*amqp.Delivery) { got <- struct{}{} }, amqp.ConsumeOptions{NoAck: true})
	require.NoError(t, err)
	for i := range rounds {
		p.Reset()
		next(t, ups, "a recovery")
		require.NoError(t, ch.PublishConfirmed("", q.Name, amqp.NewMessage("x")), "round %d", i)
		for len(got) == 0 {
			require.NoError(t, ch.WaitTimeout(10*time.Second), "round %d", i)
		}
		<-got
	}
	assert.Equal(t, int64(rounds+1), p.Accepted())
	require.NoError(t, conn.Close())
	p.Close()
	settles(t, g0, f0)
}

// A reset while the recovery is replaying (channels, consumers, queues) is
// one more failed attempt: the next connection is restored whole, and
// OnRecovered runs once.
func TestRecoveryResetDuringReplay(t *testing.T) {
	const channels = 20
	p := proxy(t)
	conn, err := client091.DialConfig(p.URL(brokerURL(t)), amqp.Config{Timeout: 10 * time.Second, Recovery: fastRecovery})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	handshake := p.Forwarded(faultproxy.Upstream) // what a connection sends before any channel
	var ups atomic.Int32
	recovered := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups.Add(1); recovered <- struct{}{} })

	chans := make([]*client091.Channel, channels)
	queues := make([]string, channels)
	got := make(chan int, channels)
	for i := range chans {
		ch, err := conn.Channel()
		require.NoError(t, err)
		require.NoError(t, ch.Qos(10))
		q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		require.NoError(t, err)
		_, err = ch.Consume(q.Name, func(*amqp.Delivery) { got <- i }, amqp.ConsumeOptions{NoAck: true})
		require.NoError(t, err)
		chans[i], queues[i] = ch, q.Name
		go func() {
			for ch.Wait() == nil {
			}
		}()
	}

	// Reset the connection again once the new one has sent its handshake
	// and a little of the replay.
	var mu sync.Mutex
	sent, armed, fired := int64(0), true, false
	p.Tap(func(dir faultproxy.Direction, b []byte) {
		mu.Lock()
		defer mu.Unlock()
		if dir != faultproxy.Upstream || !armed {
			return
		}
		sent += int64(len(b))
		if sent > handshake+300 && !fired {
			fired = true
			go p.Reset()
		}
	})
	p.Reset()
	mu.Lock()
	sent = 0 // counted from the first recovery's connection on
	mu.Unlock()
	next(t, recovered, "the recovery")
	mu.Lock()
	armed = false
	assert.True(t, fired, "the replay was reset")
	mu.Unlock()
	assert.Equal(t, int64(3), p.Accepted(), "the first connection, the one reset in its replay, the restored one")
	assert.Equal(t, int32(1), ups.Load())

	pub, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, pub.ConfirmSelect())
	for _, q := range queues {
		require.NoError(t, pub.PublishConfirmed("", q, amqp.NewMessage("x")))
	}
	seen := map[int]bool{}
	for len(seen) < channels {
		select {
		case i := <-got:
			seen[i] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d consumers got their message", len(seen), channels)
		}
	}
}
