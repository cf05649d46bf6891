package amqplib_test

// Adversarial tests of channel closing: broker closes with queued events,
// content in flight while closing, late replies, crossing closes, id reuse,
// and a message over the size limit.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

func TestServerChannelCloseDrainsQueuedDeliveries(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
		)
		if err != nil {
			return err
		}
		var f frames
		for i := 1; i <= 3; i++ {
			f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: uint64(i)}, fmt.Sprint("m", i))
		}
		f.method(1, &spec091.ChannelClose{ReplyCode: 406, ReplyText: "PRECONDITION_FAILED - unknown delivery tag 42", ClassID: 60, MethodID: 80})
		// In flight after the close: dropped by the client.
		f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 4}, "late")
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return steps(
			func() error {
				_, err := s.Expect(1, spec091.IDChannelCloseOK)
				return err
			},
			func() error { return s.OpenChannel(1) }, // the id is reused
			answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "again"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got []string
	_, err = ch.Consume("q", func(d *amqp.Delivery) { got = append(got, d.Text()) })
	require.NoError(t, err)
	within(t, ch.Done(), "the channel to close")
	for len(got) < 3 {
		require.NoError(t, ch.WaitTimeout(waitLimit), "queued deliveries come first")
	}
	err = ch.Wait()
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.ErrorIs(t, err, amqp.ErrPreconditionFailed)
	assert.Contains(t, err.Error(), "unknown delivery tag 42")
	assert.Equal(t, []string{"m1", "m2", "m3"}, got)
	var ae *amqp.Error
	require.ErrorAs(t, ch.Err(), &ae)
	assert.Equal(t, 406, ae.Code)
	assert.True(t, ae.Server)

	again, err := conn.ChannelID(1)
	require.NoError(t, err, "the channel id is free once Done is closed")
	info, err := again.QueueDeclare("again")
	require.NoError(t, err)
	assert.Equal(t, "again", info.Name)
	assert.Equal(t, "open", conn.State())
}

// TestServerCloseThenReopenAtOnce reopens a channel id the moment the
// broker's channel.close is seen, many times, racing the reader.
func TestServerCloseThenReopenAtOnce(t *testing.T) {
	const rounds = 100
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		for i := 0; i < rounds; i++ {
			err := steps(
				func() error { return s.OpenChannel(1) },
				func() error {
					return s.Send(1, &spec091.ChannelClose{ReplyCode: 404, ReplyText: "NOT_FOUND - gone"})
				},
				func() error { _, err := s.Expect(1, spec091.IDChannelCloseOK); return err },
			)
			if err != nil {
				return fmt.Errorf("round %d: %w", i, err)
			}
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	for i := 0; i < rounds; i++ {
		ch, err := conn.ChannelID(1)
		require.NoError(t, err, "round %d", i)
		within(t, ch.Done(), "channel.close")
		assert.ErrorIs(t, ch.Err(), amqp.ErrNotFound)
	}
}

func TestGetOKLargerThanMaxMessageSize(t *testing.T) {
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096}, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDBasicGet); return err },
			func() error {
				msg := amqp.NewMessage(make([]byte, 5000))
				return s.SendContent(1, &spec091.BasicGetOK{DeliveryTag: 1, RoutingKey: "q"}, &msg, 4096)
			},
		)
		if err != nil {
			return err
		}
		m, err := s.Expect(1, spec091.IDChannelClose)
		if err != nil {
			return fmt.Errorf("the client did not give the channel up: %w", err)
		}
		if text := m.(*spec091.ChannelClose).ReplyText; !strings.Contains(text, "exceeds") {
			return fmt.Errorf("channel.close says %q", text)
		}
		return steps(
			func() error { return s.Send(1, &spec091.ChannelCloseOK{}) },
			func() error { return s.OpenChannel(2) },
			answer(s, 2, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{MaxMessageSize: 1000})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, ok, err := ch.Get("q")
	require.Error(t, err)
	assert.False(t, ok)
	assert.ErrorIs(t, err, amqp.ErrTooLarge)
	assert.True(t, ch.IsClosed())
	assert.ErrorIs(t, ch.Err(), amqp.ErrTooLarge)

	ch2, err := conn.Channel()
	require.NoError(t, err, "the connection stays usable")
	_, err = ch2.QueueDeclare("q")
	require.NoError(t, err)
	assert.Equal(t, "open", conn.State())
	assert.NoError(t, conn.Err())
}

// TestContentInFlightWhileClosingChannel: deliveries keep arriving between
// the client's channel.close and the broker's close-ok. They are dropped,
// content frames included, without harming the connection.
func TestContentInFlightWhileClosingChannel(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { _, err := s.Expect(1, spec091.IDChannelClose); return err },
		)
		if err != nil {
			return err
		}
		var f frames
		f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "in flight")
		f.method(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 2}).header(1, 60, 6).body(1, "in ").body(1, "fli")
		f.method(1, &spec091.ChannelCloseOK{})
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return steps(
			func() error { return s.OpenChannel(2) },
			answer(s, 2, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("q", func(*amqp.Delivery) { t.Error("a delivery after Close was dispatched") })
	require.NoError(t, err)
	require.NoError(t, ch.Close())
	ch2, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch2.QueueDeclare("q")
	require.NoError(t, err, "the connection survives content for a closing channel")
	assert.NoError(t, conn.Err())
	assert.True(t, errors.Is(ch.Wait(), amqp.ErrClosed))
}

// TestLateGetOKAfterRPCTimeout: the broker answers basic.get after the
// client gave the channel up; the late message is dropped.
func TestLateGetOKAfterRPCTimeout(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDBasicGet); return err },
			func() error { _, err := s.Expect(1, spec091.IDChannelClose); return err },
		)
		if err != nil {
			return err
		}
		var f frames
		f.content(1, &spec091.BasicGetOK{DeliveryTag: 1, RoutingKey: "q"}, "too late")
		f.method(1, &spec091.ChannelCloseOK{})
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return steps(
			func() error { return s.OpenChannel(2) },
			answer(s, 2, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, _, err = ch.Get("q")
	require.ErrorIs(t, err, amqp.ErrTimeout)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch2.QueueDeclare("q")
	require.NoError(t, err, "the connection survives the late get-ok")
	assert.NoError(t, conn.Err())
}

// TestReplyThenServerClose: a reply followed at once by channel.close. The
// RPC succeeded on the broker, so it must return the reply, not the close,
// even when the caller looks only after both arrived (a race each round).
func TestReplyThenServerClose(t *testing.T) {
	const rounds = 50
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		for i := uint16(1); i <= rounds; i++ {
			if err := s.OpenChannel(i); err != nil {
				return err
			}
			if _, err := s.Expect(i, spec091.IDQueueDelete); err != nil {
				return err
			}
			var f frames
			f.method(i, &spec091.QueueDeleteOK{MessageCount: 3})
			f.method(i, &spec091.ChannelClose{ReplyCode: 406, ReplyText: "PRECONDITION_FAILED - later"})
			if err := s.Write(f.bytes()); err != nil {
				return err
			}
			if _, err := s.Expect(i, spec091.IDChannelCloseOK); err != nil {
				return err
			}
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	for i := 0; i < rounds; i++ {
		ch, err := conn.Channel()
		require.NoError(t, err)
		n, err := ch.QueueDelete("q")
		require.NoError(t, err, "round %d", i)
		assert.Equal(t, 3, n)
		within(t, ch.Done(), "channel.close")
		assert.ErrorIs(t, ch.Err(), amqp.ErrPreconditionFailed)
	}
}

// TestCrossingChannelCloses: the client's channel.close and the broker's
// cross on the wire. The broker's close-ok for the client's close comes
// late; until it does the id must stay taken, or that close-ok would close
// a channel reopened with the id (the broker would think it open).
func TestCrossingChannelCloses(t *testing.T) {
	crossed, release := make(chan struct{}), make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDChannelClose); return err },
			func() error {
				return s.Send(1, &spec091.ChannelClose{ReplyCode: 406, ReplyText: "PRECONDITION_FAILED - crossed"})
			},
			func() error { _, err := s.Expect(1, spec091.IDChannelCloseOK); return err },
		)
		if err != nil {
			return err
		}
		close(crossed)
		if _, err := await(release, "the test"); err != nil {
			return err
		}
		return steps(
			func() error { return s.Send(1, &spec091.ChannelCloseOK{}) }, // for the client's close
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: time.Second})
	ch, err := conn.Channel()
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- ch.Close() }()
	within(t, crossed, "the crossing closes")
	within(t, ch.Done(), "the channel to close")
	_, err = conn.ChannelID(1)
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument, "the id is taken until the close-ok")
	select {
	case <-closed:
		t.Error("Close returned before the broker's close-ok")
	default:
	}
	close(release)
	assert.NoError(t, within(t, closed, "Close"))
	again, err := conn.ChannelID(1)
	require.NoError(t, err, "the id is free once Close returned")
	_, err = again.QueueDeclare("q")
	require.NoError(t, err)
	assert.ErrorIs(t, ch.Err(), amqp.ErrPreconditionFailed)
}
