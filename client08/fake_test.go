package client08_test

import (
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec08"
	"github.com/amqplib-go/amqp/client08"
)

// hold answers the client's connection.close and otherwise stays silent.
func hold(s *amqptest.Session) error {
	for {
		f, err := s.Next()
		if err != nil {
			return nil
		}
		if f.Method != nil && f.Method.ID() == spec08.IDConnectionClose {
			return s.Send(0, &spec08.ConnectionCloseOK{})
		}
	}
}

func TestWireHeaderAndLogin08(t *testing.T) {
	done := make(chan *amqptest.Session, 1)
	srv := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		done <- s
		return hold(s)
	})
	conn, err := client08.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	s := <-done
	assert.Equal(t, "AMQPLAIN", s.Mechanism)
	caps, _ := s.ClientProperties["capabilities"].(amqp.Table)
	assert.Equal(t, true, caps["consumer_cancel_notify"])
	assert.Nil(t, caps["connection.blocked"], "0-8 must not announce connection.blocked")
	assert.Nil(t, caps["publisher_confirms"])
}

func TestTicketsOnTheWire(t *testing.T) {
	tickets := make(chan []uint16, 1)
	srv := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		m, err := s.Expect(1, spec08.IDAccessRequest)
		if err != nil {
			return err
		}
		ar := m.(*spec08.AccessRequest)
		if ar.Realm != "/data" || !ar.Active || !ar.Write || !ar.Read || ar.Exclusive || ar.Passive {
			return assert.AnError
		}
		if err := s.Send(1, &spec08.AccessRequestOK{Ticket: 7}); err != nil {
			return err
		}
		var seen []uint16
		for i := 0; i < 3; i++ {
			m, err := s.Expect(1, spec08.IDQueueDeclare)
			if err != nil {
				return err
			}
			seen = append(seen, m.(*spec08.QueueDeclare).Ticket)
			if err := s.Send(1, &spec08.QueueDeclareOK{Queue: "q"}); err != nil {
				return err
			}
		}
		f, err := s.Next()
		if err != nil {
			return err
		}
		seen = append(seen, f.Method.(*spec08.BasicPublish).Ticket)
		tickets <- seen
		return hold(s)
	})
	conn, err := client08.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	tk, err := ch.AccessRequest("/data", amqp.DefaultAccess)
	require.NoError(t, err)
	assert.Equal(t, amqp.Ticket(7), tk)
	_, err = ch.QueueDeclare("q")
	require.NoError(t, err)
	_, err = ch.WithTicket(9).QueueDeclare("q")
	require.NoError(t, err)
	_, err = ch.QueueDeclare("q")
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", "q", amqp.NewMessage("x")))
	assert.Equal(t, []uint16{7, 9, 7, 7}, <-tickets, "last ticket by default, WithTicket overrides one call")
}

func TestRedirectFollowedOnce(t *testing.T) {
	target := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		return hold(s)
	})
	redirectTo := func(host string) amqptest.Script {
		return func(s *amqptest.Session) error {
			if _, err := s.ReadProtocolHeader(); err != nil {
				return err
			}
			if err := s.SendStart(amqp.Table{}); err != nil {
				return err
			}
			if _, err := s.ExpectRaw(0, spec08.IDConnectionStartOK); err != nil {
				return err
			}
			if err := s.Send(0, &spec08.ConnectionTune{ChannelMax: 10, FrameMax: 4096}); err != nil {
				return err
			}
			if _, err := s.ExpectRaw(0, spec08.IDConnectionTuneOK); err != nil {
				return err
			}
			if _, err := s.ExpectRaw(0, spec08.IDConnectionOpen); err != nil {
				return err
			}
			return s.Send(0, &spec08.ConnectionRedirect{Host: host})
		}
	}
	first := amqptest.NewServer(t, spec08.Protocol, redirectTo(target.Addr))
	conn, err := client08.Dial(first.URL)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	var self atomic.Pointer[string] // the looping server redirects to itself
	loop := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error { return redirectTo(*self.Load())(s) })
	self.Store(&loop.Addr)
	_, err = client08.Dial(loop.URL)
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrHandshake)
	assert.Contains(t, err.Error(), "redirected twice")
}

// The 0-9-1 extensions must not exist on client08 types: calling them is a
// compile error, not a connection reset.
func TestNo091OnlyMethods(t *testing.T) {
	for _, name := range []string{"ConfirmSelect", "PublishConfirmed", "WaitConfirm", "WaitConfirms", "OnConfirm",
		"PublishSeq", "Nack", "ExchangeBind", "ExchangeUnbind"} {
		_, ok := reflect.TypeOf(&client08.Channel{}).MethodByName(name)
		assert.False(t, ok, "client08.Channel has %s", name)
	}
	for _, name := range []string{"OnBlocked", "OnUnblocked", "Blocked", "PublisherConfirms", "BasicNack", "ExchangeBindings"} {
		_, ok := reflect.TypeOf(&client08.Conn{}).MethodByName(name)
		assert.False(t, ok, "client08.Conn has %s", name)
	}
	assert.Zero(t, spec08.Known.BasicNack)
	assert.Zero(t, spec08.Known.ConnectionBlocked)
	assert.Equal(t, "10.60", spec08.Known.ConnectionClose.String(), "0-8 connection.close is 10.60")
}

func TestSilentBrokerDetected08(t *testing.T) {
	srv := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 1}); err != nil {
			return err
		}
		return hold(s)
	})
	conn, err := client08.Dial(srv.URL)
	require.NoError(t, err)
	defer conn.Close()
	select {
	case <-conn.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("silence not detected")
	}
	assert.ErrorIs(t, conn.Err(), amqp.ErrHeartbeatTimeout)
}

func TestRPCTimeout08(t *testing.T) {
	srv := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return hold(s) // never answers access.request
	})
	conn, err := client08.DialConfig(srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.AccessRequest("/data", amqp.DefaultAccess)
	assert.ErrorIs(t, err, amqp.ErrTimeout)
	_, err = ch.QueueDeclare("q")
	assert.ErrorIs(t, err, amqp.ErrClosed)
}
