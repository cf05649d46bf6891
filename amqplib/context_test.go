package amqplib_test

// Timeouts in every phase match amqp.ErrTimeout; a context's cancellation
// matches context.Canceled and is never a timeout; every error starts with
// "amqp:"; a channel or connection view bound to a context ends each of its
// blocking calls with it; Close can carry a reply code and text; no
// password in %#v output.

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/client091"
)

// silentListener accepts connections and never writes; accepted reports
// each one.
func silentListener(t *testing.T) (addr string, accepted <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	acc := make(chan struct{}, 8)
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			acc <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), acc
}

func assertAMQPError(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "amqp: "), "error text starts with amqp: %q", err.Error())
}

// Each dial phase that runs out of time (TCP connect, TLS, the AMQP
// handshake) matches amqp.ErrTimeout; cancelled, it matches
// context.Canceled and not ErrTimeout.
func TestDialPhasesTimeoutAndCancel(t *testing.T) {
	addr, accepted := silentListener(t)
	blockingDial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: ctx.Err()}
	}
	phases := []struct {
		name string
		url  string
		cfg  amqp.Config
	}{
		{"tcp", "amqp://guest:guest@" + addr, amqp.Config{Dial: blockingDial}},
		{"tls", "amqps://guest:guest@" + addr, amqp.Config{TLS: &tls.Config{InsecureSkipVerify: true}}},
		{"handshake", "amqp://guest:guest@" + addr, amqp.Config{}},
	}
	for _, ph := range phases {
		t.Run(ph.name+"/timeout", func(t *testing.T) {
			cfg := ph.cfg
			cfg.ConnectionTimeout = 100 * time.Millisecond
			_, err := client091.DialConfig(ph.url, cfg)
			assertAMQPError(t, err)
			assert.ErrorIs(t, err, amqp.ErrTimeout)
			assert.NotErrorIs(t, err, context.Canceled)
		})
		t.Run(ph.name+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			if ph.cfg.Dial == nil {
				go func() { <-accepted; cancel() }()
			} else {
				time.AfterFunc(20*time.Millisecond, cancel) // the dial blocks until then
			}
			defer cancel()
			_, err := client091.DialContext(ctx, ph.url, ph.cfg)
			assertAMQPError(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.NotErrorIs(t, err, amqp.ErrTimeout, "a cancellation is not a timeout: %v", err)
		})
	}
}

// A frozen broker: answers the handshake and channel.open, then nothing.
func frozen(t *testing.T) *amqptest.Server {
	return fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		for {
			if _, err := s.Next(); err != nil {
				return nil
			}
		}
	})
}

// Every blocking call of a channel view bound to a context ends when the
// context is cancelled, with an error matching context.Canceled (never
// ErrTimeout), well before the connection timeout.
func TestChannelViewCancelled(t *testing.T) {
	calls := []struct {
		name string
		call func(ch *client091.Channel) error
	}{
		{"rpc", func(ch *client091.Channel) error { _, err := ch.QueueDeclare("q"); return err }},
		{"get", func(ch *client091.Channel) error { _, _, err := ch.Get("q"); return err }},
		{"wait", func(ch *client091.Channel) error { return ch.Wait() }},
		{"close", func(ch *client091.Channel) error { return ch.Close() }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			srv := frozen(t)
			conn := dial(t, srv.URL, amqp.Config{Timeout: time.Hour}) // only the context can end the calls
			ch, err := conn.Channel()
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan error, 1)
			go func() { got <- tc.call(ch.WithContext(ctx)) }()
			time.AfterFunc(20*time.Millisecond, cancel)
			err = within(t, got, tc.name)
			assertAMQPError(t, err)
			assert.ErrorIs(t, err, context.Canceled)
			assert.NotErrorIs(t, err, amqp.ErrTimeout)
			// The broker answers nothing: close without waiting an hour.
			assert.ErrorIs(t, conn.WithContext(ctx).Close(), context.Canceled)
		})
	}
}

// A context deadline on a view matches both context.DeadlineExceeded and
// amqp.ErrTimeout; the confirm waits take the view's context too.
func TestChannelViewDeadline(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDConfirmSelect, &spec091.ConfirmSelectOK{}),
			func() error { return hold(s) }, // never confirms
		)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: time.Hour})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	got := make(chan error, 1)
	go func() { got <- ch.WithContext(ctx).PublishConfirmed("", "q", amqp.NewMessage("x")) }()
	err = within(t, got, "PublishConfirmed")
	assertAMQPError(t, err)
	assert.ErrorIs(t, err, amqp.ErrTimeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, ch.IsClosed(), "a confirm wait that gives up leaves the channel open")
}

// A connection view bound to a context ends opening a channel and Close.
func TestConnViewCancelled(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		for { // answers nothing, not even channel.open
			if _, err := s.Next(); err != nil {
				return nil
			}
		}
	})
	conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: time.Hour})
	require.NoError(t, err)
	for _, call := range []func(c *client091.Conn) error{
		func(c *client091.Conn) error { _, err := c.Channel(); return err },
		func(c *client091.Conn) error { return c.Close() },
	} {
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() { got <- call(conn.WithContext(ctx)) }()
		time.AfterFunc(20*time.Millisecond, cancel)
		err := within(t, got, "the call")
		assertAMQPError(t, err)
		assert.ErrorIs(t, err, context.Canceled)
		assert.NotErrorIs(t, err, amqp.ErrTimeout)
	}
	assert.Equal(t, "closed", conn.State())
}

// CloseWith sends the reply code and text given, on a channel and on the
// connection; a text the protocol cannot carry is refused first.
func TestCloseWithReplyCodeAndText(t *testing.T) {
	type closed struct {
		code int
		text string
	}
	got := make(chan closed, 2)
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		m, err := s.Expect(1, spec091.IDChannelClose)
		if err != nil {
			return err
		}
		cc := m.(*spec091.ChannelClose)
		got <- closed{int(cc.ReplyCode), cc.ReplyText}
		if err := s.Send(1, &spec091.ChannelCloseOK{}); err != nil {
			return err
		}
		code, text, err := closeCode(s)
		got <- closed{code, text}
		return err
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.ErrorIs(t, ch.CloseWith(320, strings.Repeat("x", 256)), amqp.ErrInvalidArgument)
	assert.False(t, ch.IsClosed())
	require.NoError(t, ch.CloseWith(320, "shutting down the worker"))
	assert.Equal(t, closed{320, "shutting down the worker"}, within(t, got, "channel.close"))
	require.NoError(t, conn.CloseWith(200, "maintenance"))
	assert.Equal(t, closed{200, "maintenance"}, within(t, got, "connection.close"))
}

// No password in the %#v or %v output of a URI, a Config or a Conn.
func TestNoPasswordInDebugOutput(t *testing.T) {
	const secret = "s3cr3t-Sentinel-42"
	uri, err := amqp.ParseURI("amqp://user:" + secret + "@localhost:5672/vh?heartbeat=5")
	require.NoError(t, err)
	srv := fake(t, amqptest.DefaultTune, hold)
	conn := dial(t, strings.Replace(srv.URL, "guest:guest", "guest:"+secret, 1), amqp.Config{})
	for _, v := range []any{uri, &uri, amqp.Config{}, conn, *conn} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, v)
			assert.NotContains(t, out, secret, "%s of %T", verb, v)
		}
	}
	assert.Contains(t, fmt.Sprintf("%#v", uri), `Password:"xxxxx"`)
	assert.Contains(t, fmt.Sprintf("%#v", uri), `Username:"user"`)
}
