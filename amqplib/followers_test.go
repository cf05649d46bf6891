package amqplib_test

// Followers of the read turn and consumers registered while another
// goroutine reads: found by a second reading of the engine.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/client091"
)

// countIn counts goroutines whose stack contains frame, blocked in state.
func countIn(state, frame string) int {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	c := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		if strings.Contains(head, "["+state) && strings.Contains(g, frame) {
			c++
		}
	}
	return c
}

// Six WaitConfirm followers on one channel while another goroutine's Wait
// (on channel 2) reads. One ack (multiple) resolves five of them; the sixth
// re-registers while the turn is still held, and one of the five, leaving,
// unfollowed the sixth's registration before registrations had
// generations (the count is per channel and kind, not per goroutine). When
// the Wait leader then left, nobody read: with the idle take-over off, the
// last confirm was never routed.
func TestConfirmFollowerRegistrationKept(t *testing.T) {
	t.Cleanup(amqplib.SetIdleRead(time.Hour)) // no idle take-over: only followers make the background reader read
	for round := range 30 {
		lost := followerRound(t, 1)
		if lost != nil {
			t.Fatalf("round %d: %v", round, lost)
		}
	}
}

func followerRound(t *testing.T, first int) error {
	go1, go2 := make(chan struct{}), make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { return s.OpenChannel(2) },
			answer(s, 1, spec091.IDConfirmSelect, &spec091.ConfirmSelectOK{}),
			func() error { return readPublishes(s, 1, 6) },
			func() error { _, err := await(go1, "go1"); return err },
			func() error { return s.Send(1, &spec091.BasicAck{DeliveryTag: 5, Multiple: true}) },
			func() error { _, err := await(go2, "go2"); return err },
			func() error { return s.Send(1, &spec091.BasicAck{DeliveryTag: 6}) },
		)
		if err != nil {
			return err
		}
		return hold(s)
	})
	conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: time.Second})
	require.NoError(t, err)
	defer srv.Close()
	defer conn.Close()
	ch1, err := conn.Channel()
	require.NoError(t, err)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch1.ConfirmSelect())
	for range 6 {
		require.NoError(t, ch1.Publish("", "q", amqp.NewMessage("m")))
	}
	g1 := make(chan error, 1)
	go func() { g1 <- ch2.WaitTimeout(300 * time.Millisecond) }()
	leading(t, conn)
	results := make([]chan error, 7)
	for i := first; i <= 6; i++ {
		results[i] = make(chan error, 1)
		go func() { results[i] <- ch1.WaitConfirm(uint64(i)) }()
	}
	for countIn("select", "(*Channel).waitConfirms") < 7-first {
		runtime.Gosched()
	}
	close(go1)
	for i := first; i <= 5; i++ {
		require.NoError(t, within(t, results[i], "confirm"))
	}
	require.ErrorIs(t, within(t, g1, "Wait on ch2"), amqp.ErrTimeout)
	close(go2)
	if err := within(t, results[6], "confirm 6"); err != nil {
		if errors.Is(err, amqp.ErrTimeout) {
			return fmt.Errorf("WaitConfirm(6) slept to its timeout although ack 6 was sent: %w", err)
		}
		return err
	}
	return nil
}

// Control: the sixth waiter alone (nobody else unfollows) is never lost.
func TestConfirmFollowerAloneNotLost(t *testing.T) {
	t.Cleanup(amqplib.SetIdleRead(time.Hour))
	for round := range 10 {
		if err := followerRound(t, 6); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// A consumer loop (Wait) runs on one goroutine while another calls Consume:
// the broker's first delivery follows consume-ok at once. The callback is
// in place before the delivery can be dispatched (before, it was
// registered only after Consume's RPC returned, so the Wait goroutine,
// which routed both frames, dispatched the delivery first and dropped it).
func TestFirstDeliveryAfterConsumeOK(t *testing.T) {
	for _, tag := range []string{"t1", ""} { // the client's tag, the broker's
		t.Run("tag="+tag, func(t *testing.T) { firstDeliveryAfterConsumeOK(t, tag) })
	}
}

func firstDeliveryAfterConsumeOK(t *testing.T, tag string) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if _, err := s.Expect(1, spec091.IDBasicConsume); err != nil {
			return err
		}
		var f frames
		f.method(1, &spec091.BasicConsumeOK{ConsumerTag: "t1"})
		f.content(1, &spec091.BasicDeliver{ConsumerTag: "t1", DeliveryTag: 1, RoutingKey: "q"}, "d")
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	var dropped atomic.Int32
	conn := dial(t, srv.URL, amqp.Config{Logf: func(string, ...any) { dropped.Add(1) }})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got atomic.Int32
	loop := make(chan error, 1)
	go func() { loop <- ch.WaitTimeout(2 * time.Second) }()
	leading(t, conn)
	_, err = ch.Consume("q", func(*amqp.Delivery) { got.Add(1) }, amqp.ConsumeOptions{Tag: tag})
	require.NoError(t, err)
	require.NoError(t, within(t, loop, "the Wait"))
	require.EqualValues(t, 1, got.Load(), "the first delivery reached its callback (dropped: %d log lines)", dropped.Load())
}

// A reply that arrives just as its caller gives up (its context ends) is
// dropped with the abandoned channel; it never closes the connection as
// "unexpected". Before, the router checked the channel before claiming the
// reply, and a give-up in between made a late reply a protocol error.
func TestLateReplyRacesAbandon(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(func() error { return s.OpenChannel(1) }, func() error { return s.OpenChannel(2) },
			answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			answer(s, 1, spec091.IDChannelClose, &spec091.ChannelCloseOK{}), // the give-up
			answer(s, 2, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q2"}),
			func() error { return hold(s) })
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch1, err := conn.Channel()
	require.NoError(t, err)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	go func() { _ = ch2.Wait() }() // leads, so ch1's RPC follows
	leading(t, conn)
	returned := make(chan struct{})
	defer amqplib.SetDeliverReplyHook(func() { <-returned })()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = ch1.WithContext(ctx).QueueDeclare("q")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(returned)
	_, err = ch2.QueueDeclare("q2") // a round trip after the late reply was routed
	require.NoError(t, err, "the late reply closed the connection")
	assert.Equal(t, "open", conn.State())
}

// Opening a channel with a context already done sends nothing, and the id
// stays free. Before, it stayed reserved for a close-ok that never came.
func TestCancelledOpenKeepsIDFree(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(func() error { return s.OpenChannel(5) }, func() error { return hold(s) })
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := conn.WithContext(ctx).ChannelID(5)
	require.ErrorIs(t, err, context.Canceled)
	_, err = conn.ChannelID(5)
	require.NoError(t, err, "nothing was sent for id 5")
}

// A Consume refused because another call is in progress changes nothing:
// the live consumer with the same tag keeps its callback. Before, the
// refused call removed it.
func TestRefusedConsumeKeepsExistingConsumer(t *testing.T) {
	release, inDeclare := make(chan struct{}), make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "t"}),
			func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); close(inDeclare); return err },
			func() error { _, err := await(release, "release"); return err },
			func() error { return s.Send(1, &spec091.QueueDeclareOK{Queue: "q"}) },
			func() error { return hold(s) })
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("q", func(*amqp.Delivery) {}, amqp.ConsumeOptions{Tag: "t"})
	require.NoError(t, err)
	declared := make(chan error, 1)
	go func() { _, err := ch.QueueDeclare("q"); declared <- err }()
	within(t, inDeclare, "the declare in progress")
	_, err = ch.Consume("q2", func(*amqp.Delivery) {}, amqp.ConsumeOptions{Tag: "t"})
	require.ErrorIs(t, err, amqp.ErrInvalidArgument)
	close(release)
	require.NoError(t, within(t, declared, "the declare"))
	assert.True(t, amqplib.ChannelOf(ch).HasConsumer("t"))
}
