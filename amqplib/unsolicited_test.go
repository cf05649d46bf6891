package amqplib_test

// Methods nobody asked for: a broker's channel.flow and channel.alert are
// handled where frames are routed; any other unsolicited synchronous method,
// or a frame for a channel never opened, closes the connection at once with
// an error naming it; a late close-ok never closes a reused id.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec08"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
)

// The broker turns a channel's flow off: the client answers flow-ok at
// once, OnFlow reports it, a publish waits until the flow is back (or its
// timeout), and the next RPC is not disturbed.
func TestBrokerChannelFlow(t *testing.T) {
	flowOK := make(chan bool, 2)
	published := make(chan string, 4)
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if err := s.Send(1, &spec091.ChannelFlow{Active: false}); err != nil {
			return err
		}
		m, err := s.Expect(1, spec091.IDChannelFlowOK)
		if err != nil {
			return err
		}
		flowOK <- m.(*spec091.ChannelFlowOK).Active
		if err := answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"})(); err != nil {
			return err
		}
		// The client's publishes wait: the next frame is the flow-ok for on.
		if err := s.Send(1, &spec091.ChannelFlow{Active: true}); err != nil {
			return err
		}
		if m, err = s.Expect(1, spec091.IDChannelFlowOK); err != nil {
			return err
		}
		flowOK <- m.(*spec091.ChannelFlowOK).Active
		for {
			f, err := s.Next()
			if err != nil {
				return nil
			}
			if f.Type == wire.FrameBody {
				published <- string(f.Payload)
			}
			if f.Method != nil && f.Method.ID() == spec091.IDConnectionClose {
				return s.Send(0, &spec091.ConnectionCloseOK{})
			}
		}
	})
	conn := dial(t, srv.URL, amqp.Config{})
	flows := make(chan bool, 2)
	conn.OnFlow(func(channel uint16, active bool) {
		assert.Equal(t, uint16(1), channel)
		flows <- active
	})
	ch, err := conn.Channel()
	require.NoError(t, err)
	assert.False(t, within(t, flowOK, "flow-ok (off)"), "flow-ok echoes active=false")
	assert.False(t, within(t, flows, "OnFlow (off)"))
	_, err = ch.QueueDeclare("q")
	require.NoError(t, err, "an RPC while the flow is off")
	require.NoError(t, ch.Publish("", "q", amqp.NewMessage("after the pause")), "waits for the flow, then goes")
	assert.True(t, within(t, flowOK, "flow-ok (on)"))
	assert.True(t, within(t, flows, "OnFlow (on)"))
	assert.Equal(t, "after the pause", within(t, published, "the publish"))
}

// A publish that waits for the flow longer than Timeout fails with
// ErrTimeout; the channel stays open.
func TestBrokerChannelFlowPublishBounded(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if err := s.Send(1, &spec091.ChannelFlow{Active: false}); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	paused := make(chan bool, 1)
	conn.OnFlow(func(_ uint16, active bool) { paused <- !active })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.True(t, within(t, paused, "OnFlow"))
	err = ch.Publish("", "q", amqp.NewMessage("x"))
	require.ErrorIs(t, err, amqp.ErrTimeout)
	assert.Contains(t, err.Error(), "channel.flow")
	assert.False(t, ch.IsClosed())
}

// A 0-8 channel.alert reaches OnAlert; the channel and its RPCs go on.
func TestBrokerChannelAlert08(t *testing.T) {
	srv := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if err := s.Send(1, &spec08.ChannelAlert{ReplyCode: 310, ReplyText: "slow down"}); err != nil {
			return err
		}
		if err := answer(s, 1, spec08.IDQueueDeclare, &spec08.QueueDeclareOK{Queue: "q"})(); err != nil {
			return err
		}
		return hold(s)
	})
	conn, err := client08.DialConfig(srv.URL, amqp.Config{Timeout: waitLimit})
	require.NoError(t, err)
	defer conn.Close()
	type alert struct {
		ch   uint16
		code int
		text string
	}
	alerts := make(chan alert, 1)
	conn.OnAlert(func(ch uint16, code int, text string) { alerts <- alert{ch, code, text} })
	ch, err := conn.Channel()
	require.NoError(t, err)
	assert.Equal(t, alert{1, 310, "slow down"}, within(t, alerts, "OnAlert"))
	_, err = ch.QueueDeclare("q")
	require.NoError(t, err, "the alert is not taken for the declare's reply")
}

// closeCode reads until connection.close and returns its reply code and
// text, answering close-ok.
func closeCode(s *amqptest.Session) (int, string, error) {
	for {
		f, err := s.Next()
		if err != nil {
			return 0, "", err
		}
		if f.Method != nil && f.Method.ID() == spec091.IDConnectionClose {
			m := f.Method.(*spec091.ConnectionClose)
			return int(m.ReplyCode), m.ReplyText, s.Send(0, &spec091.ConnectionCloseOK{})
		}
	}
}

// A synchronous method no call waits for is a connection error at once,
// naming the method; before, it sat in the reply slot and the next RPC
// failed with a protocol error about itself.
func TestUnsolicitedSyncMethodFailsConnection(t *testing.T) {
	for _, tc := range []struct {
		name string
		ch   uint16
		m    wire.Method
		code int
		want string
	}{
		{"a reply nobody asked for", 1, &spec091.QueueDeclareOK{Queue: "q"}, amqp.UnexpectedFrame, "queue.declare-ok"},
		{"open-ok for a channel never opened", 7, &spec091.ChannelOpenOK{}, amqp.ChannelError, "channel 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes := make(chan int, 1)
			srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
				if err := s.OpenChannel(1); err != nil {
					return err
				}
				if err := s.Send(tc.ch, tc.m); err != nil {
					return err
				}
				code, _, err := closeCode(s)
				codes <- code
				return err
			})
			conn := dial(t, srv.URL, amqp.Config{})
			_, err := conn.Channel()
			require.NoError(t, err)
			within(t, conn.Done(), "the connection to close")
			assert.Equal(t, tc.code, within(t, codes, "connection.close"))
			require.ErrorIs(t, conn.Err(), amqp.ErrProtocol)
			assert.Contains(t, conn.Err().Error(), tc.want)
		})
	}
}

// After a channel Close timed out, the id stays out of use until the late
// close-ok; that close-ok frees it and closes nothing else.
func TestLateCloseOKAfterCloseTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDChannelClose); return err },
			func() error { return s.OpenChannel(2) }, // the next free id, not 1
			func() error { _, err := await(release, "release"); return err },
			func() error { return s.Send(1, &spec091.ChannelCloseOK{}) }, // late
			answer(s, 2, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return s.OpenChannel(1) }, // free again after its close-ok
			answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q1"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	first, err := conn.Channel()
	require.NoError(t, err)
	require.ErrorIs(t, first.Close(), amqp.ErrTimeout)
	_, err = conn.ChannelID(1)
	require.ErrorIs(t, err, amqp.ErrInvalidArgument, "id 1 waits for its close-ok")
	second, err := conn.Channel()
	require.NoError(t, err)
	assert.Equal(t, uint16(2), second.ID())
	close(release)
	_, err = second.QueueDeclare("q")
	require.NoError(t, err, "the late close-ok for 1 closed nothing else")
	// The close-ok came before the declare's reply, so it has been routed.
	reopened, err := conn.ChannelID(1)
	require.NoError(t, err, "id 1 is free once its close-ok arrived")
	info, err := reopened.QueueDeclare("q1")
	require.NoError(t, err)
	assert.Equal(t, "q1", info.Name)
}

// After a channel Close timed out, the broker's own channel.close crosses
// it: the id still waits for the close-ok of our close, so that late
// close-ok cannot close a channel that reused the id. Before, the crossing
// freed the id at once.
func TestCrossingCloseAfterCloseTimeout(t *testing.T) {
	release, crossed, late := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDChannelClose); return err }, // unanswered for now
			func() error { _, err := await(release, "release"); return err },
			func() error {
				return s.Send(1, &spec091.ChannelClose{ReplyCode: 320, ReplyText: "CONNECTION_FORCED - going away"})
			},
			func() error { _, err := s.Expect(1, spec091.IDChannelCloseOK); close(crossed); return err },
			func() error { _, err := await(late, "late"); return err },
			func() error { return s.Send(1, &spec091.ChannelCloseOK{}) }, // the answer to our close, late
			func() error { return s.OpenChannel(1) },                     // only now may id 1 be reused
			answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.ErrorIs(t, ch.Close(), amqp.ErrTimeout)
	close(release)
	within(t, crossed, "the crossing close to be answered")
	_, err = conn.ChannelID(1)
	require.ErrorIs(t, err, amqp.ErrInvalidArgument, "id 1 is in use until the close-ok of our close")
	close(late)
	var again *client091.Channel
	for { // the late close-ok frees it
		if again, err = conn.ChannelID(1); err == nil {
			break
		}
		require.ErrorIs(t, err, amqp.ErrInvalidArgument)
		select {
		case <-conn.Done():
			t.Fatalf("connection closed: %v", conn.Err())
		case <-time.After(time.Millisecond):
		}
	}
	_, err = again.QueueDeclare("q")
	require.NoError(t, err)
}
