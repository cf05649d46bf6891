package amqplib_test

// Callbacks, confirms and events under concurrency: callbacks never nest,
// confirm waits run no callbacks, no confirm is lost whichever goroutine
// reads, handlers may change while Wait runs, and the confirm bookkeeping
// stays bounded.

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/client091"
)

// confirmEach answers the client's publishes on ch (one body frame each)
// with an ack per message, or a nack when nack says so; it answers
// basic.consume with consume-ok (the client's tag, else "ctag"), the first
// followed by deliveries for "ctag"; confirm.select with select-ok and
// connection.close with close-ok.
func confirmEach(s *amqptest.Session, ch uint16, deliveries int, nack func(seq uint64) bool) error {
	var seq uint64
	for {
		f, err := s.Next()
		if err != nil {
			return nil
		}
		switch {
		case f.Type == wire.FrameBody && f.Channel == ch:
			seq++
			var m wire.Method = &spec091.BasicAck{DeliveryTag: seq}
			if nack != nil && nack(seq) {
				m = &spec091.BasicNack{DeliveryTag: seq}
			}
			if err := s.Send(ch, m); err != nil {
				return err
			}
		case f.Method == nil:
		case f.Method.ID() == spec091.IDConfirmSelect:
			if err := s.Send(ch, &spec091.ConfirmSelectOK{}); err != nil {
				return err
			}
		case f.Method.ID() == spec091.IDBasicConsume:
			tag := f.Method.(*spec091.BasicConsume).ConsumerTag
			if tag == "" {
				tag = "ctag"
			}
			var fr frames
			fr.method(ch, &spec091.BasicConsumeOK{ConsumerTag: tag})
			for i := 1; i <= deliveries; i++ {
				fr.content(ch, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: uint64(i), RoutingKey: "q"}, "d")
			}
			deliveries = 0
			if err := s.Write(fr.bytes()); err != nil {
				return err
			}
		case f.Method.ID() == spec091.IDConnectionClose:
			return s.Send(0, &spec091.ConnectionCloseOK{})
		}
	}
}

// A consumer callback that calls PublishConfirmed while many deliveries
// are queued: the confirm wait dispatches none of them, so callbacks never
// nest (before, each wait ran the next callback inside itself: the depth
// grew with the backlog, and a mutex held across the call deadlocked).
func TestCallbackPublishConfirmedDoesNotNest(t *testing.T) {
	const n = 2000
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return confirmEach(s, 1, n, nil)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	var mu sync.Mutex
	depth, maxDepth, handled := 0, 0, 0
	var cbErr error
	_, err = ch.Consume("q", func(d *amqp.Delivery) {
		mu.Lock() // held across PublishConfirmed: a nested callback would deadlock here
		defer mu.Unlock()
		depth++
		maxDepth = max(maxDepth, depth)
		if err := ch.PublishConfirmed("", "out", amqp.NewMessage("r")); err != nil && cbErr == nil {
			cbErr = err
		}
		handled++
		depth--
	})
	require.NoError(t, err)
	finished := make(chan error, 1)
	go func() {
		for handled < n {
			if err := ch.WaitTimeout(waitLimit); err != nil {
				finished <- err
				return
			}
		}
		finished <- nil
	}()
	require.NoError(t, within(t, finished, "the consumer loop (a nested callback deadlocks it)"))
	require.NoError(t, cbErr)
	assert.Equal(t, 1, maxDepth, "callbacks never nest")
	assert.Equal(t, uint64(n), ch.PublishSeq())
}

// Wait from inside a callback is refused, and so is a second Wait while one
// runs; the channel stays usable.
func TestNestedWaitRefused(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return confirmEach(s, 1, 2, nil)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var nested error
	calls := 0
	_, err = ch.Consume("q", func(*amqp.Delivery) {
		calls++
		if calls == 1 {
			nested = ch.WaitTimeout(time.Millisecond)
		}
	})
	require.NoError(t, err)
	require.NoError(t, ch.WaitTimeout(waitLimit))
	require.ErrorIs(t, nested, amqp.ErrInvalidArgument)
	assert.Contains(t, nested.Error(), "callback")
	assert.Equal(t, 1, calls, "the nested Wait dispatched nothing")
	require.NoError(t, ch.WaitTimeout(waitLimit), "the second delivery, dispatched by the outer loop")
	assert.Equal(t, 2, calls)
	assert.False(t, ch.IsClosed())
}

// A goroutine in Wait on a channel never takes the confirm that
// PublishConfirmed on another goroutine waits for. Before, whichever of the
// two popped the confirm event resolved it, and the PublishConfirmed waiter
// slept until its timeout; each round here had even odds of that.
func TestConfirmNotLostToAnotherGoroutinesWait(t *testing.T) {
	const rounds = 20
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return confirmEach(s, 1, 0, nil)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 2 * time.Second})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	stop := make(chan struct{})
	waiter := make(chan error, 1)
	go func() { // a consumer loop with nothing to consume
		for {
			select {
			case <-stop:
				waiter <- nil
				return
			default:
			}
			if err := ch.WaitTimeout(20 * time.Millisecond); err != nil && !errors.Is(err, amqp.ErrTimeout) {
				waiter <- err
				return
			}
		}
	}()
	for i := range rounds {
		require.NoError(t, ch.PublishConfirmed("", "q", amqp.NewMessage("m")), "round %d", i)
	}
	close(stop)
	require.NoError(t, within(t, waiter, "the Wait loop"))
}

// Handlers change while another goroutine is in Wait, and consumers are
// added while deliveries are dispatched: -race stays silent.
func TestHandlersChangeWhileWaiting(t *testing.T) {
	const n = 200
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return confirmEach(s, 1, n, nil)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got atomic.Int32
	_, err = ch.Consume("q", func(*amqp.Delivery) { got.Add(1) })
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		for got.Load() < n {
			if err := ch.WaitTimeout(waitLimit); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range 50 {
		ch.OnReturn(func(*amqp.Return) {})
		ch.OnConfirm(func(amqp.Confirmation) {})
		ch.OnCancel(func(string) {})
		_, err := ch.Consume("q", func(*amqp.Delivery) {}, amqp.ConsumeOptions{Tag: fmt.Sprint("extra-", i)})
		require.NoError(t, err)
	}
	require.NoError(t, within(t, done, "the deliveries"))
}

// 200,000 nacked publishes leave the channel's bookkeeping as small as
// before: the nacked sequence numbers are not kept forever.
func TestNackBookkeepingBounded(t *testing.T) {
	const n = 200_000
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return confirmEach(s, 1, 0, func(uint64) bool { return true })
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	publish := func(count int) {
		for range count {
			require.NoError(t, ch.Publish("", "q", amqp.NewMessage("x")))
		}
		require.ErrorIs(t, ch.WaitConfirms(), amqp.ErrNacked)
	}
	publish(1000) // the fixed-size state, allocated at the first nack
	before := heapInUse()
	publish(n)
	grown := int64(heapInUse()) - int64(before)
	assert.Less(t, grown, int64(1<<20), "heap grew by %d bytes over %d nacks", grown, n)
	require.NoError(t, ch.WaitConfirms(), "every nack was reported")
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A nack returned by PublishConfirmed is not reported again by a later
// WaitConfirms; WaitConfirm of that message still reports its outcome.
func TestNackReportedOnce(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return confirmEach(s, 1, 0, func(seq uint64) bool { return seq == 2 })
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", "q", amqp.NewMessage("1")))
	require.ErrorIs(t, ch.PublishConfirmed("", "q", amqp.NewMessage("2")), amqp.ErrNacked)
	require.NoError(t, ch.Publish("", "q", amqp.NewMessage("3")))
	assert.NoError(t, ch.WaitConfirms(), "the nack of message 2 was reported by PublishConfirmed")
	assert.ErrorIs(t, ch.WaitConfirm(2), amqp.ErrNacked)
	assert.NoError(t, ch.WaitConfirm(3))
}

// Confirm and tx modes exclude each other: the second is refused locally
// and the channel stays open.
func TestConfirmAndTxModesRefusedLocally(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDTxSelect, &spec091.TxSelectOK{}),
			func() error { return s.OpenChannel(2) },
			answer(s, 2, spec091.IDConfirmSelect, &spec091.ConfirmSelectOK{}),
			answer(s, 1, spec091.IDBasicQos, &spec091.BasicQosOK{}),
			answer(s, 2, spec091.IDBasicQos, &spec091.BasicQosOK{}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	tx, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, tx.TxSelect())
	err = tx.ConfirmSelect()
	require.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "tx mode")

	cf, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, cf.ConfirmSelect())
	err = cf.TxSelect()
	require.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "confirm mode")

	require.NoError(t, tx.Qos(1), "both channels are still open")
	require.NoError(t, cf.Qos(1))
}

// Concurrent ChannelID calls for one id, one of them while the channel
// waits for its open-ok, open it once and all return the same channel.
func TestChannelIDConcurrentSameID(t *testing.T) {
	gotOpen, release := make(chan struct{}), make(chan struct{})
	opens := make(chan int, 1)
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if _, err := s.Expect(5, spec091.IDChannelOpen); err != nil {
			return err
		}
		close(gotOpen)
		if _, err := await(release, "release"); err != nil {
			return err
		}
		if err := s.Send(5, &spec091.ChannelOpenOK{}); err != nil {
			return err
		}
		n := 1
		for {
			f, err := s.Next()
			if err != nil {
				opens <- n
				return nil
			}
			if f.Method != nil && f.Method.ID() == spec091.IDChannelOpen {
				n++
			}
			if f.Method != nil && f.Method.ID() == spec091.IDConnectionClose {
				opens <- n
				return s.Send(0, &spec091.ConnectionCloseOK{})
			}
		}
	})
	conn := dial(t, srv.URL, amqp.Config{})
	const callers = 8
	type result struct {
		ch  *client091.Channel
		err error
	}
	results := make(chan result, callers)
	go func() { ch, err := conn.ChannelID(5); results <- result{ch, err} }()
	within(t, gotOpen, "the first channel.open")
	for range callers - 1 {
		go func() { ch, err := conn.ChannelID(5); results <- result{ch, err} }()
	}
	close(release)
	var first *client091.Channel
	for range callers {
		r := within(t, results, "ChannelID")
		require.NoError(t, r.err)
		if first == nil {
			first = r.ch
		}
		assert.Same(t, first, r.ch, "one channel for the id")
	}
	require.NoError(t, conn.Close())
	assert.Equal(t, 1, within(t, opens, "the count of channel.open"))
}
