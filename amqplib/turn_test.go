package amqplib_test

// Tests of the read turn (turn.go): a waiting caller reads its own reply
// when nobody else reads, stops at its deadline without losing the
// stream's place, and the background reader takes over when nobody waits.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/client091"
)

// deliveryThenStall writes the first half of a delivery for ch 1, stalls
// for stall, then writes the rest (or nothing more when rest is false).
func deliveryThenStall(s *amqptest.Session, stall time.Duration, rest bool) error {
	var f frames
	f.content(1, &client091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "split")
	b := f.bytes()
	if err := s.Write(b[:10]); err != nil { // the frame header and 3 payload bytes
		return err
	}
	time.Sleep(stall) // the stimulus: a broker silent in the middle of a frame
	if !rest {
		return hold(s)
	}
	return s.Write(b[10:])
}

// TestLeaderDeadlineInsideAFrame: the RPC's deadline passes while another
// channel's frame is half read. The caller finishes that frame, then
// reports its timeout; the connection and the delivery survive.
func TestLeaderDeadlineInsideAFrame(t *testing.T) {
	const timeout = 500 * time.Millisecond
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, client091.IDBasicConsume, &client091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { return s.OpenChannel(2) },
			func() error { _, err := s.Expect(2, client091.IDQueueDeclare); return err },
			// Past the caller's deadline, within the one extra timeout.
			func() error { return deliveryThenStall(s, timeout*8/5, true) },
			func() error { _, err := s.Expect(2, client091.IDChannelClose); return err },
			func() error { return s.Send(2, &client091.ChannelCloseOK{}) },
			answer(s, 1, client091.IDQueueDeclare, &client091.QueueDeclareOK{Queue: "after"}),
		)
		if err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: timeout})
	ch1, err := conn.Channel()
	require.NoError(t, err)
	var got []string
	_, err = ch1.Consume("q", func(d *amqp.Delivery) { got = append(got, d.Text()) })
	require.NoError(t, err)
	ch2, err := conn.Channel()
	require.NoError(t, err)

	_, err = ch2.QueueDeclare("q")
	require.ErrorIs(t, err, amqp.ErrTimeout)
	require.NoError(t, conn.Err(), "the connection kept its place in the stream")
	require.NoError(t, ch1.WaitTimeout(waitLimit))
	assert.Equal(t, []string{"split"}, got)
	info, err := ch1.QueueDeclare("q")
	require.NoError(t, err)
	assert.Equal(t, "after", info.Name)
}

// TestLeaderStalledInsideAFrame: a broker that stops in the middle of a
// frame for longer than the extra timeout ends the connection with a
// timeout error; the caller is not left waiting.
func TestLeaderStalledInsideAFrame(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, client091.IDBasicConsume, &client091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { _, err := s.Expect(1, client091.IDQueueDeclare); return err },
		)
		if err != nil {
			return err
		}
		return deliveryThenStall(s, 0, false)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("q", func(*amqp.Delivery) {})
	require.NoError(t, err)
	rpc := make(chan error, 1)
	go func() { _, err := ch.QueueDeclare("q"); rpc <- err }()
	err = within(t, rpc, "the RPC")
	require.ErrorIs(t, err, amqp.ErrClosed)
	within(t, conn.Done(), "the connection's end")
	require.ErrorIs(t, conn.Err(), amqp.ErrTimeout)
	assert.Contains(t, conn.Err().Error(), "middle of a frame")
}

// TestInputAfterTheLastCall: once nobody waits, the background reader
// takes the turn back, so a broker's notice is handled with no call in
// progress.
func TestInputAfterTheLastCall(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, client091.IDQueueDeclare, &client091.QueueDeclareOK{Queue: "q"}),
			func() error { return s.Send(0, &client091.ConnectionBlocked{Reason: "disk"}) },
			func() error {
				return s.Send(0, &client091.ConnectionClose{ReplyCode: amqp.ConnectionForced, ReplyText: "bye"})
			},
		)
		if err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	blocked := make(chan string, 1)
	conn.OnBlocked(func(reason string) { blocked <- reason })
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("q") // read by this goroutine
	require.NoError(t, err)
	assert.Equal(t, "disk", within(t, blocked, "OnBlocked"))
	within(t, conn.Done(), "the broker's connection.close")
	assert.ErrorIs(t, conn.Err(), amqp.ErrConnectionForced)
}

// TestWaitContextWhileIdle: a Wait that a context can cancel does not read
// itself; the background reader serves it even right after a call.
func TestWaitContextWhileIdle(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, client091.IDBasicConsume, &client091.BasicConsumeOK{ConsumerTag: "ctag"}),
		)
		if err != nil {
			return err
		}
		var f frames
		f.content(1, &client091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "one")
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got []string
	_, err = ch.Consume("q", func(d *amqp.Delivery) { got = append(got, d.Text()) })
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	require.NoError(t, ch.WaitContext(ctx))
	assert.Equal(t, []string{"one"}, got)

	// Nothing more comes: cancelling the context ends the wait.
	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ch.WaitContext(ctx2) }()
	cancel2()
	assert.ErrorIs(t, within(t, errc, "the cancelled Wait"), context.Canceled)
	assert.NoError(t, conn.Err())
}

// TestManyCallersOneConnection: RPCs and a consumer on several goroutines
// share one connection; whoever reads routes everyone's replies.
func TestManyCallersOneConnection(t *testing.T) {
	const callers, rounds = 4, 200
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		// Answer every declare and open; deliver once per consume.
		for {
			f, err := s.Next()
			if err != nil {
				return nil
			}
			if f.Method == nil {
				continue
			}
			switch f.Method.ID() {
			case client091.IDChannelOpen:
				err = s.Send(f.Channel, &client091.ChannelOpenOK{})
			case client091.IDQueueDeclare:
				err = s.Send(f.Channel, &client091.QueueDeclareOK{Queue: f.Method.(*client091.QueueDeclare).Queue})
			case client091.IDBasicPublish:
				// echo each publish back as a delivery on channel 1
				var fr frames
				fr.content(1, &client091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "x")
				err = s.Write(fr.bytes())
			case client091.IDBasicConsume:
				err = s.Send(f.Channel, &client091.BasicConsumeOK{ConsumerTag: "ctag"})
			case client091.IDConnectionClose:
				return s.Send(0, &client091.ConnectionCloseOK{})
			}
			if err != nil {
				return err
			}
		}
	})
	conn := dial(t, srv.URL, amqp.Config{})
	consumer, err := conn.Channel()
	require.NoError(t, err)
	received := 0
	_, err = consumer.Consume("q", func(*amqp.Delivery) { received++ })
	require.NoError(t, err)

	var wg sync.WaitGroup
	errs := make(chan error, callers+1)
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := conn.Channel()
			if err != nil {
				errs <- err
				return
			}
			for r := 0; r < rounds; r++ {
				name := "q" + string(rune('a'+i))
				info, err := ch.QueueDeclare(name)
				if err == nil && info.Name != name {
					err = errors.New("got the reply for " + info.Name + " on the channel declaring " + name)
				}
				if err == nil && r%10 == 0 {
					err = ch.Publish("", "q", amqp.NewMessage("x"))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for received < callers*rounds/10 {
			if err := consumer.WaitTimeout(waitLimit); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Equal(t, callers*rounds/10, received)
	assert.NoError(t, conn.Err())
}
