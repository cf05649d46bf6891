package client091_test

import (
	"errors"
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
		if f.Method != nil && f.Method.ID() == spec091.IDConnectionClose {
			return s.Send(0, &spec091.ConnectionCloseOK{})
		}
	}
}

func TestHandshakeNegotiation(t *testing.T) {
	done := make(chan *amqptest.Session, 1)
	srv := fake(t, amqptest.Tune{ChannelMax: 2047, FrameMax: 131072, Heartbeat: 60}, func(s *amqptest.Session) error {
		done <- s
		return s.ServeClose()
	})
	conn, err := client091.Dial(srv.URL + "?frame_max=8192&channel_max=100&heartbeat=5")
	require.NoError(t, err)
	s := <-done
	assert.Equal(t, "PLAIN", s.Mechanism)
	assert.Equal(t, "\x00guest\x00guest", s.Response)
	assert.Equal(t, amqptest.Tune{ChannelMax: 100, FrameMax: 8192, Heartbeat: 5}, s.TuneOK)
	assert.Equal(t, "/", s.Vhost)
	caps, _ := s.ClientProperties["capabilities"].(amqp.Table)
	for _, c := range []string{"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
		"consumer_cancel_notify", "connection.blocked", "authentication_failure_close"} {
		assert.Equal(t, true, caps[c], c)
	}
	assert.Equal(t, uint16(100), conn.ChannelMax())
	assert.Equal(t, uint32(8192), conn.FrameMax())
	assert.Equal(t, 5*time.Second, conn.Heartbeat())
	assert.True(t, conn.PublisherConfirms())
	require.NoError(t, conn.Close())
	require.NoError(t, conn.Close(), "Close is idempotent")
	assert.Equal(t, "closed", conn.State())
}

func TestHandshakeServerLimitsWin(t *testing.T) {
	done := make(chan *amqptest.Session, 1)
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 0}, func(s *amqptest.Session) error {
		done <- s
		return s.ServeClose()
	})
	conn, err := client091.DialConfig(srv.URL+"?auth_mechanism=amqplain", amqp.Config{FrameMax: 65536})
	require.NoError(t, err)
	defer conn.Close()
	s := <-done
	assert.Equal(t, "AMQPLAIN", s.Mechanism)
	assert.Equal(t, "\x05LOGINS\x00\x00\x00\x05guest\x08PASSWORDS\x00\x00\x00\x05guest", s.Response)
	// The broker's smaller limits win; heartbeat 0 from the broker yields the client's default.
	assert.Equal(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 60}, s.TuneOK)
}

func TestProtocolHeaderRefused(t *testing.T) {
	srv := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		if _, err := s.ReadProtocolHeader(); err != nil {
			return err
		}
		return s.Write([]byte("AMQP\x01\x01\x00\x0a"))
	})
	_, err := client091.Dial(srv.URL)
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrUnsupported)
	assert.Contains(t, err.Error(), "41 4D 51 50 01 01 00 0A")
}

// eofAfterLogin plays a broker that drops the socket after start-ok,
// announcing caps in connection.start.
func eofAfterLogin(caps amqp.Table) amqptest.Script {
	return func(s *amqptest.Session) error {
		if _, err := s.ReadProtocolHeader(); err != nil {
			return err
		}
		if err := s.SendStart(caps); err != nil {
			return err
		}
		_, err := s.ExpectRaw(0, spec091.IDConnectionStartOK)
		return err // closes the socket
	}
}

func TestEOFAfterLoginIsAuthError(t *testing.T) {
	// Without authentication_failure_close a broker refuses a login by
	// dropping the socket, as RabbitMQ does.
	srv := amqptest.NewServer(t, spec091.Protocol, eofAfterLogin(amqp.Table{}))
	_, err := client091.Dial(strings.Replace(srv.URL, "guest:guest", "guest:s3cr3t-sentinel", 1))
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrAuth)
	assert.NotContains(t, err.Error(), "s3cr3t-sentinel")
}

func TestEOFAfterLoginWithFailureCloseIsNotAuth(t *testing.T) {
	// A broker that promised a 403 for a bad login did not refuse this one:
	// the connection was lost.
	srv := amqptest.NewServer(t, spec091.Protocol, eofAfterLogin(nil))
	_, err := client091.Dial(srv.URL)
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrHandshake)
	assert.False(t, errors.Is(err, amqp.ErrAuth))
}

func TestHandshakeSilenceIsBounded(t *testing.T) {
	srv := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		_, _ = s.ReadProtocolHeader()
		return hold(s)
	})
	start := time.Now()
	_, err := client091.DialConfig(srv.URL, amqp.Config{ConnectionTimeout: 300 * time.Millisecond})
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrTimeout)
	assert.ErrorIs(t, err, amqp.ErrHandshake)
	assert.Contains(t, err.Error(), "connection.start")
	assert.Less(t, time.Since(start), 10*time.Second) // sanity bound only; the error type is the assertion
}

func TestHeartbeatSentWhenIdle(t *testing.T) {
	got := make(chan uint8, 1)
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 1}, func(s *amqptest.Session) error {
		f, err := s.Next()
		if err != nil {
			return err
		}
		got <- f.Type
		return hold(s)
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	select {
	case typ := <-got:
		assert.Equal(t, uint8(wire.FrameHeartbeat), typ)
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat from an idle client")
	}
}

func TestSilentBrokerDetected(t *testing.T) {
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 1}, hold)
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	select {
	case <-conn.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("silence not detected")
	}
	assert.ErrorIs(t, conn.Err(), amqp.ErrHeartbeatTimeout)
	_, err = conn.Channel()
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.ErrorIs(t, err, amqp.ErrHeartbeatTimeout)
}

func TestRPCTimeout(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return hold(s) // never answers queue.declare
	})
	conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("q")
	assert.ErrorIs(t, err, amqp.ErrTimeout)
	_, err = ch.QueueDeclare("q")
	assert.ErrorIs(t, err, amqp.ErrClosed, "a channel that lost an RPC is given up")
}

func TestServerConnectionCloseWakesCalls(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if _, err := s.Expect(1, spec091.IDQueueDeclare); err != nil {
			return err
		}
		return s.CloseConnection(&amqp.Error{Code: 320, Text: "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"})
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("q")
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrConnectionForced)
	var ae *amqp.Error
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 320, ae.Code)
	assert.Contains(t, ae.Text, "CONNECTION_FORCED")
	<-conn.Done()
	err = ch.Publish("", "q", amqp.NewMessage("x"))
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.ErrorIs(t, err, amqp.ErrConnectionForced)
	assert.NoError(t, conn.Close())
}

func TestMalformedFrameEnd(t *testing.T) {
	closeCode := make(chan uint16, 1)
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		// A heartbeat with a bad end octet.
		if err := s.Write([]byte{8, 0, 0, 0, 0, 0, 0, 0xCD}); err != nil {
			return err
		}
		_, m, err := s.Recv()
		if err != nil {
			return err
		}
		closeCode <- uint16(m.(*spec091.ConnectionClose).ReplyCode)
		return nil
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	<-conn.Done()
	assert.ErrorIs(t, conn.Err(), amqp.ErrProtocol)
	assert.Equal(t, uint16(501), <-closeCode)
}

func TestOversizeFrameRefused(t *testing.T) {
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 0}, func(s *amqptest.Session) error {
		// Announce a 1 GiB frame; the client must refuse it from the header alone.
		return s.Write([]byte{1, 0, 1, 0x40, 0, 0, 0})
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	<-conn.Done()
	assert.ErrorIs(t, conn.Err(), amqp.ErrProtocol)
	assert.Contains(t, conn.Err().Error(), "exceeds frame_max")
}

func TestBodySplitAtFrameMax(t *testing.T) {
	sizes := make(chan []int, 1)
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 0}, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		var got []int
		for {
			f, err := s.Next()
			if err != nil {
				return err
			}
			if f.Type == wire.FrameBody {
				got = append(got, len(f.Payload))
			}
			if len(got) == 3 {
				sizes <- got
				return hold(s)
			}
		}
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", "q", amqp.NewMessage(make([]byte, 10000))))
	assert.Equal(t, []int{4088, 4088, 1824}, <-sizes)
}

func TestConcurrentRPCIsRefused(t *testing.T) {
	received, release := make(chan struct{}), make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if _, err := s.Expect(1, spec091.IDQueueDeclare); err != nil {
			return err
		}
		close(received)
		<-release
		if err := s.Send(1, &spec091.QueueDeclareOK{Queue: "q"}); err != nil {
			return err
		}
		return hold(s)
	})
	conn, err := client091.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	first := make(chan error, 1)
	go func() { _, err := ch.QueueDeclare("q"); first <- err }()
	<-received // the first call is on the wire and waiting for its reply
	_, err = ch.QueueDeclare("q2")
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "another call is in progress")
	close(release)
	assert.NoError(t, <-first)
}

func TestDialRefusedPortIsQuickAndSecret(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = client091.Dial("amqp://bob:s3cr3t-sentinel@" + addr + "/")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-sentinel")
	assert.False(t, errors.Is(err, amqp.ErrAuth))
}
