package amqplib_test

// Hostile or broken brokers: each case ends at once with a clear typed
// error and bounded memory, never a hang.

import (
	"net"
	"strings"
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

// A get-ok whose header announces 2^62 bytes fails the Get at once with
// ErrTooLarge (before, the Get waited for a body that never came and
// ended with "no reply to basic.get"). The channel is given up; the
// connection stays open.
func TestAbsurdBodySizeFailsAtOnce(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDBasicGet); return err },
		)
		if err != nil {
			return err
		}
		var f frames
		f.method(1, &spec091.BasicGetOK{DeliveryTag: 1, RoutingKey: "q"}).header(1, 60, 1<<62)
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return steps(
			answer(s, 1, spec091.IDChannelClose, &spec091.ChannelCloseOK{}),
			func() error { return s.OpenChannel(2) },
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: time.Minute})
	ch, err := conn.Channel()
	require.NoError(t, err)
	got := make(chan error, 1)
	go func() { _, _, err := ch.Get("q"); got <- err }()
	err = within(t, got, "Get") // a minute's Timeout: only the size check can end it in time
	require.ErrorIs(t, err, amqp.ErrTooLarge)
	assert.Contains(t, err.Error(), "4611686018427387904-byte message")
	_, err = conn.Channel()
	require.NoError(t, err, "the connection stays open")
}

// connection.tune with frame_max 0 ("no limit"): the client sets its own
// limit, tells the broker in tune-ok, and refuses a larger frame from its
// header alone (before, a broker could make it allocate ~1 GB).
func TestFrameMaxZeroGetsALimit(t *testing.T) {
	tuned := make(chan uint32, 1)
	codes := make(chan int, 1)
	srv := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.Tune{ChannelMax: 2047, FrameMax: 0, Heartbeat: 60}); err != nil {
			return err
		}
		tuned <- s.TuneOK.FrameMax
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		// A method frame announcing 1 GB of payload, and nothing of it.
		if err := s.Write([]byte{wire.FrameMethod, 0, 1, 0x40, 0, 0, 0}); err != nil {
			return err
		}
		code, _, err := closeCode(s)
		codes <- code
		return err
	})
	conn := dial(t, srv.URL, amqp.Config{})
	assert.Equal(t, uint32(128<<10), within(t, tuned, "tune-ok"))
	assert.Equal(t, uint32(128<<10), conn.FrameMax())
	_, err := conn.Channel()
	require.NoError(t, err)
	within(t, conn.Done(), "the connection to close")
	assert.Equal(t, amqp.FrameError, within(t, codes, "connection.close"))
	require.ErrorIs(t, conn.Err(), amqp.ErrProtocol)
	assert.Contains(t, conn.Err().Error(), "exceeds frame_max 131072")
}

// A peer that is not an AMQP broker is reported as such, quoting what it
// sent (before: "unknown frame type 72").
func TestNonAMQPPeer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			_ = c.Close()
		}
	}()
	_, err = client091.DialConfig("amqp://guest:guest@"+ln.Addr().String(), amqp.Config{Timeout: waitLimit})
	require.ErrorIs(t, err, amqp.ErrHandshake)
	require.ErrorIs(t, err, amqp.ErrProtocol)
	assert.Contains(t, err.Error(), "not an AMQP broker")
	assert.Contains(t, err.Error(), `"HTTP/1.1 400 Bad Request\r\n`)
	assert.True(t, strings.HasPrefix(err.Error(), "amqp: "), err.Error())
}

// Control characters in a broker's reply text are escaped before they
// reach an error string: a newline or an escape sequence cannot forge a
// log line or recolour a terminal.
func TestReplyTextControlCharactersEscaped(t *testing.T) {
	const text = "NOT_FOUND - no queue 'q'\nERROR forged line \x1b[31mred"
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDQueueDeclare, &spec091.ChannelClose{ReplyCode: 404, ReplyText: text, ClassID: 50, MethodID: 10}),
			func() error { _, err := s.Expect(1, spec091.IDChannelCloseOK); return err },
			func() error { return hold(s) },
		)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("q", amqp.QueueOptions{Passive: true})
	require.ErrorIs(t, err, amqp.ErrNotFound)
	msg := err.Error()
	assert.NotContains(t, msg, "\n")
	assert.NotContains(t, msg, "\x1b")
	assert.Contains(t, msg, `no queue 'q'\nERROR forged line \x1b[31mred`)
	var ae *amqp.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, text, ae.Text, "the field keeps the broker's text as it was")
}

// After an RPC timed out with nothing at all from the broker, Close does
// not wait another Timeout for a close-ok: the whole sequence is bounded by
// about one Timeout.
func TestCloseAfterRPCTimeoutBoundedByOneTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	srv := fake(t, amqptest.Tune{ChannelMax: 2047, FrameMax: 131072}, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		for { // frozen: reads, answers nothing
			if _, err := s.Next(); err != nil {
				return nil
			}
		}
	})
	conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: timeout, Heartbeat: amqp.NoHeartbeat})
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	start := time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := ch.QueueDeclare("q")
		assert.ErrorIs(t, err, amqp.ErrTimeout)
		done <- conn.Close()
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, amqp.ErrTimeout)
		assert.Contains(t, err.Error(), "without waiting")
	case <-time.After(timeout + timeout/2):
		t.Fatalf("the RPC and Close took over %s: Close waited another Timeout", time.Since(start))
	}
	assert.Equal(t, "closed", conn.State())
}
