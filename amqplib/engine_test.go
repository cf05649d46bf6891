package amqplib_test

// Adversarial tests of the engine, driven by the scripted fake broker:
// confirms, content assembly, interleaving and framing errors. Channel
// closing is in channelclose_test.go; hooks, floods, leaks, connection
// closes and secrets are in lifecycle_test.go.

import (
	"fmt"
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

// waitLimit bounds every wait on an event in these tests; it is a failure
// timeout only, never a way to synchronise.
const waitLimit = 5 * time.Second

// fake starts a scripted broker whose script runs after the handshake.
func fake(t *testing.T, tune amqptest.Tune, script amqptest.Script) *amqptest.Server {
	return amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(tune); err != nil {
			return err
		}
		return script(s)
	})
}

// hold keeps a fake connection open, answering nothing but the client's
// connection.close, until the client goes away.
func hold(s *amqptest.Session) error {
	for {
		f, err := s.Next()
		if err != nil {
			return nil
		}
		if k := &s.Proto.Known; f.Method != nil && f.Method.ID() == k.ConnectionClose {
			return s.Send(0, s.Proto.NewMethod(k.ConnectionCloseOK))
		}
	}
}

// dial connects to the fake (Timeout waitLimit unless cfg says otherwise)
// and closes the connection when the test ends.
func dial(t *testing.T, url string, cfg amqp.Config) *client091.Conn {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = waitLimit
	}
	conn, err := client091.DialConfig(url, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// within returns the next value from c, failing the test after waitLimit.
func within[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// await is within for scripts: a fake broker never blocks forever.
func await[T any](c <-chan T, what string) (T, error) {
	select {
	case v := <-c:
		return v, nil
	case <-time.After(waitLimit):
		var zero T
		return zero, fmt.Errorf("script timed out waiting for %s", what)
	}
}

// steps runs script steps in order, stopping at the first error.
func steps(fns ...func() error) error {
	for _, fn := range fns {
		if err := fn(); err != nil {
			return err
		}
	}
	return nil
}

// answer expects id on ch and replies with m.
func answer(s *amqptest.Session, ch uint16, id wire.MethodID, m wire.Method) func() error {
	return func() error {
		if _, err := s.Expect(ch, id); err != nil {
			return err
		}
		return s.Send(ch, m)
	}
}

// frames builds raw frame sequences, well-formed or not.
type frames struct{ e wire.Encoder }

func (f *frames) method(ch uint16, m wire.Method) *frames { f.e.MethodFrame(ch, m); return f }

func (f *frames) header(ch uint16, class uint16, size uint64) *frames {
	s := f.e.BeginFrame(wire.FrameHeader, ch)
	f.e.ContentHeader(class, size, nil)
	f.e.EndFrame(s)
	return f
}

func (f *frames) raw(typ uint8, ch uint16, payload []byte) *frames {
	s := f.e.BeginFrame(typ, ch)
	f.e.Buf = append(f.e.Buf, payload...)
	f.e.EndFrame(s)
	return f
}

func (f *frames) body(ch uint16, b string) *frames { return f.raw(wire.FrameBody, ch, []byte(b)) }

func (f *frames) heartbeat() *frames { f.e.Heartbeat(); return f }

// content appends a whole content method: method, header, one body frame.
func (f *frames) content(ch uint16, m wire.Method, body string) *frames {
	f.method(ch, m).header(ch, 60, uint64(len(body)))
	if body != "" {
		f.body(ch, body)
	}
	return f
}

func (f *frames) bytes() []byte { return f.e.Buf }

// readPublishes reads frames until n published messages (each with a
// non-empty body) arrived on ch.
func readPublishes(s *amqptest.Session, ch uint16, n int) error {
	methods, bodies := 0, 0
	for bodies < n {
		f, err := s.Next()
		if err != nil {
			return fmt.Errorf("after %d publishes: %w", bodies, err)
		}
		switch {
		case f.Type == wire.FrameHeartbeat:
		case f.Channel != ch:
			return fmt.Errorf("frame type %d on channel %d while reading publishes", f.Type, f.Channel)
		case f.Type == wire.FrameMethod:
			if f.Method.ID() != spec091.IDBasicPublish {
				return fmt.Errorf("got %s while reading publishes", f.Method.Name())
			}
			methods++
		case f.Type == wire.FrameBody:
			bodies++
		}
	}
	if methods != n {
		return fmt.Errorf("%d publish methods for %d bodies", methods, n)
	}
	return nil
}

func TestConfirmsOutOfOrder(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDConfirmSelect, &spec091.ConfirmSelectOK{}),
			func() error { return readPublishes(s, 1, 5) },
		)
		if err != nil {
			return err
		}
		for _, m := range []wire.Method{
			&spec091.BasicAck{DeliveryTag: 4},
			&spec091.BasicAck{DeliveryTag: 5},
			&spec091.BasicNack{DeliveryTag: 2, Requeue: true},
			&spec091.BasicAck{DeliveryTag: 3, Multiple: true}, // covers 1 and 3
			&spec091.BasicAck{DeliveryTag: 5, Multiple: true}, // a duplicate: changes nothing
		} {
			if err := s.Send(1, m); err != nil {
				return err
			}
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got []amqp.Confirmation
	ch.OnConfirm(func(c amqp.Confirmation) { got = append(got, c) })
	require.NoError(t, ch.ConfirmSelect())
	for i := 1; i <= 5; i++ {
		require.NoError(t, ch.Publish("", "q", amqp.NewMessage(fmt.Sprint("m", i))))
	}
	require.Equal(t, uint64(5), ch.PublishSeq())

	require.NoError(t, ch.WaitConfirm(1))
	err = ch.WaitConfirm(2)
	require.ErrorIs(t, err, amqp.ErrNacked)
	assert.Contains(t, err.Error(), "message 2")
	for seq := uint64(3); seq <= 5; seq++ {
		require.NoError(t, ch.WaitConfirm(seq), "seq %d", seq)
	}
	assert.Empty(t, got, "confirm waits run no callbacks")
	for ch.Pending() > 0 {
		require.NoError(t, ch.WaitTimeout(waitLimit))
	}
	assert.Equal(t, []amqp.Confirmation{
		{DeliveryTag: 4, Ack: true}, {DeliveryTag: 5, Ack: true}, {DeliveryTag: 2, Ack: false},
		{DeliveryTag: 1, Ack: true}, {DeliveryTag: 3, Ack: true},
	}, got, "one callback per message, in the order the broker resolved them; the duplicate ack changes nothing")

	assert.NoError(t, ch.WaitConfirms(), "WaitConfirm(2) reported the nack already: reported once")
	assert.ErrorIs(t, ch.WaitConfirm(2), amqp.ErrNacked, "the outcome of message 2 stays known")
	assert.ErrorIs(t, ch.WaitConfirm(6), amqp.ErrInvalidArgument, "never published")
}

func TestReturnDispatchedBeforeItsConfirm(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDConfirmSelect, &spec091.ConfirmSelectOK{}),
			func() error { return readPublishes(s, 1, 1) },
		)
		if err != nil {
			return err
		}
		var f frames
		f.content(1, &spec091.BasicReturn{ReplyCode: 312, ReplyText: "NO_ROUTE", RoutingKey: "nowhere"}, "lost")
		f.method(1, &spec091.BasicAck{DeliveryTag: 1})
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var events []string
	ch.OnReturn(func(r *amqp.Return) {
		events = append(events, fmt.Sprintf("return %d %s %s %s", r.ReplyCode, r.ReplyText, r.RoutingKey, r.Text()))
	})
	ch.OnConfirm(func(c amqp.Confirmation) { events = append(events, fmt.Sprint("confirm ", c.DeliveryTag, " ", c.Ack)) })
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", "nowhere", amqp.NewMessage("lost"), amqp.PublishOptions{Mandatory: true}))
	assert.Empty(t, events, "PublishConfirmed runs no callbacks")
	require.Equal(t, 2, ch.Pending())
	require.NoError(t, ch.WaitTimeout(waitLimit))
	require.NoError(t, ch.WaitTimeout(waitLimit))
	assert.Equal(t, []string{"return 312 NO_ROUTE nowhere lost", "confirm 1 true"}, events)
}

func TestDeliveryBeforeRPCReply(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); return err },
		)
		if err != nil {
			return err
		}
		var f frames
		f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1, RoutingKey: "q"}, "early")
		f.method(1, &spec091.QueueDeclareOK{Queue: "q", MessageCount: 7, ConsumerCount: 1})
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got []*amqp.Delivery
	_, err = ch.Consume("q", func(d *amqp.Delivery) { got = append(got, d) })
	require.NoError(t, err)
	info, err := ch.QueueDeclare("q")
	require.NoError(t, err)
	assert.Equal(t, amqp.QueueInfo{Name: "q", Messages: 7, Consumers: 1}, info)
	assert.Empty(t, got, "callbacks run only inside Wait")
	assert.Equal(t, 1, ch.Pending())
	require.NoError(t, ch.WaitTimeout(waitLimit))
	require.Len(t, got, 1)
	assert.Equal(t, "early", got[0].Text())
	assert.Equal(t, "ctag", got[0].ConsumerTag)
	assert.Equal(t, uint64(1), got[0].DeliveryTag)
}

func TestContentInterleavedAcrossChannels(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { return s.OpenChannel(2) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "c1"}),
			answer(s, 2, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "c2"}),
			func() error { _, err := s.Expect(2, spec091.IDQueueDeclare); return err },
		)
		if err != nil {
			return err
		}
		// Channel 1's message is split around everything channel 2 does,
		// including the reply to its RPC and a whole message of its own.
		var f frames
		f.method(1, &spec091.BasicDeliver{ConsumerTag: "c1", DeliveryTag: 1, RoutingKey: "one"})
		f.header(1, 60, 11)
		f.heartbeat()
		f.method(2, &spec091.QueueDeclareOK{Queue: "q2"})
		f.body(1, "hello")
		f.method(2, &spec091.BasicDeliver{ConsumerTag: "c2", DeliveryTag: 1, RoutingKey: "two"})
		f.header(2, 60, 3)
		f.body(1, " ")
		f.body(2, "abc")
		f.heartbeat()
		f.body(1, "world")
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch1, err := conn.Channel()
	require.NoError(t, err)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	var got1, got2 []*amqp.Delivery
	_, err = ch1.Consume("q1", func(d *amqp.Delivery) { got1 = append(got1, d) })
	require.NoError(t, err)
	_, err = ch2.Consume("q2", func(d *amqp.Delivery) { got2 = append(got2, d) })
	require.NoError(t, err)
	info, err := ch2.QueueDeclare("q2")
	require.NoError(t, err)
	assert.Equal(t, "q2", info.Name)
	require.NoError(t, ch1.WaitTimeout(waitLimit))
	require.NoError(t, ch2.WaitTimeout(waitLimit))
	require.Len(t, got1, 1)
	require.Len(t, got2, 1)
	assert.Equal(t, "hello world", got1[0].Text())
	assert.Equal(t, "one", got1[0].RoutingKey)
	assert.Equal(t, "c1", got1[0].ConsumerTag)
	assert.Equal(t, "abc", got2[0].Text())
	assert.Equal(t, "two", got2[0].RoutingKey)
	assert.Equal(t, "c2", got2[0].ConsumerTag)
	assert.Equal(t, "open", conn.State())
}

func TestContentFramingErrors(t *testing.T) {
	deliver := &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}
	cases := []struct {
		name   string
		code   int
		frames func(f *frames)
	}{
		{"body overshoots body-size", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).header(1, 60, 5).body(1, "0123456789")
		}},
		{"second body frame overshoots", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).header(1, 60, 5).body(1, "012").body(1, "345")
		}},
		{"header without a content method", amqp.UnexpectedFrame, func(f *frames) {
			f.header(1, 60, 5)
		}},
		{"body without a content method", amqp.UnexpectedFrame, func(f *frames) {
			f.body(1, "stray")
		}},
		{"body before the header", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).body(1, "early")
		}},
		{"method while a body is expected", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).header(1, 60, 10).body(1, "012")
			f.method(1, &spec091.QueueDeclareOK{Queue: "q"})
		}},
		{"method while the header is expected", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).method(1, &spec091.QueueDeclareOK{Queue: "q"})
		}},
		{"body frame after a zero-size header", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).header(1, 60, 0).body(1, "")
		}},
		{"header for another class", amqp.UnexpectedFrame, func(f *frames) {
			f.method(1, deliver).header(1, 50, 3)
		}},
		{"truncated content header", amqp.FrameError, func(f *frames) {
			f.method(1, deliver).raw(wire.FrameHeader, 1, []byte{0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5})
		}},
		{"content header with a property cut short", amqp.FrameError, func(f *frames) {
			// content-type flagged, then a short string that runs past the frame
			f.method(1, deliver).raw(wire.FrameHeader, 1, []byte{0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0x80, 0, 9, 'a'})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			closeCode := make(chan int, 1)
			srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
				err := steps(
					func() error { return s.OpenChannel(1) },
					func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); return err },
				)
				if err != nil {
					return err
				}
				var f frames
				tc.frames(&f)
				if err := s.Write(f.bytes()); err != nil {
					return err
				}
				for {
					ch, m, err := s.Recv()
					if err != nil {
						return fmt.Errorf("no connection.close from the client: %w", err)
					}
					if ch == 0 && m.ID() == spec091.IDConnectionClose {
						closeCode <- int(m.(*spec091.ConnectionClose).ReplyCode)
						return nil
					}
				}
			})
			conn := dial(t, srv.URL, amqp.Config{})
			ch, err := conn.Channel()
			require.NoError(t, err)
			// The caller blocked in the RPC is woken by the connection's end.
			_, err = ch.QueueDeclare("q")
			require.Error(t, err)
			assert.ErrorIs(t, err, amqp.ErrClosed)
			assert.ErrorIs(t, err, amqp.ErrProtocol)
			within(t, conn.Done(), "the connection to close")
			assert.ErrorIs(t, conn.Err(), amqp.ErrProtocol)
			assert.Equal(t, tc.code, within(t, closeCode, "connection.close"))
			assert.NoError(t, conn.Close())
		})
	}
}

// A nack stays reported: WaitConfirms reporting it does not turn a later
// WaitConfirm of that message into a success.
func TestNackReportedAgain(t *testing.T) {
	srv := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if _, err := s.Expect(1, spec091.IDConfirmSelect); err != nil {
			return err
		}
		if err := s.Send(1, &spec091.ConfirmSelectOK{}); err != nil {
			return err
		}
		if _, err := s.Expect(1, spec091.IDBasicPublish); err != nil {
			return err
		}
		if err := s.Send(1, &spec091.BasicNack{DeliveryTag: 1}); err != nil {
			return err
		}
		return hold(s)
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.Publish("", "q", amqp.NewMessage("x")))
	assert.ErrorIs(t, ch.WaitConfirms(), amqp.ErrNacked)
	assert.ErrorIs(t, ch.WaitConfirm(1), amqp.ErrNacked)
	assert.ErrorIs(t, ch.WaitConfirm(1), amqp.ErrNacked)
	assert.NoError(t, ch.WaitConfirms(), "no new nack since the last WaitConfirms")
}
