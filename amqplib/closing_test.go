package amqplib_test

// Closing under concurrency: the order of closes on the wire, and a clean
// Close while other goroutines call.

import (
	"strings"
	"sync"
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

// responder answers channel.open, queue.declare, channel.close and
// connection.close, whoever asks.
func responder(s *amqptest.Session) error {
	k := &s.Proto.Known
	for {
		ch, m, err := s.Recv()
		if err != nil {
			return nil
		}
		switch m.ID() {
		case k.ChannelOpen:
			err = s.Send(ch, &spec091.ChannelOpenOK{})
		case spec091.IDQueueDeclare:
			err = s.Send(ch, &spec091.QueueDeclareOK{Queue: "q"})
		case k.ChannelClose:
			err = s.Send(ch, &spec091.ChannelCloseOK{})
		case k.ConnectionClose:
			return s.Send(0, &spec091.ConnectionCloseOK{})
		}
		if err != nil {
			return nil
		}
	}
}

// The broker's channel.close crossing our Close: on the wire our close
// comes first, then the router's close-ok, never the other way round (the
// broker would end its handshake at the close-ok, then see a channel.close
// for a channel it no longer has: RabbitMQ closes the connection with 504).
// The trace callback holds Close's goroutine right after its close was
// handed to the writer, where the window used to be. Found by a review.
func TestCrossingCloseWireOrder(t *testing.T) {
	goClose := make(chan struct{})
	first := make(chan wire.MethodID, 1)
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if _, err := await(goClose, "Close to start"); err != nil {
			return err
		}
		if err := s.Send(1, &spec091.ChannelClose{ReplyCode: 406, ReplyText: "PRECONDITION_FAILED - async"}); err != nil {
			return err
		}
		_, m, err := s.Recv()
		if err != nil {
			return err
		}
		first <- m.ID()
		if m.ID() == spec091.IDChannelClose { // answer ours, as RabbitMQ does
			if err := s.Send(1, &spec091.ChannelCloseOK{}); err != nil {
				return err
			}
		}
		return hold(s)
	})
	var once sync.Once
	gotFirst := make(chan struct{})
	var firstID wire.MethodID
	trace := func(line string) {
		if strings.HasPrefix(line, "-> ch 1 channel.close &") {
			once.Do(func() {
				close(goClose)
				select { // the window between closeSent and the append
				case firstID = <-first:
				case <-time.After(2 * time.Second):
				}
				close(gotFirst)
			})
		}
	}
	conn := dial(t, srv.URL, amqp.Config{Timeout: time.Second, Trace: trace})
	ch, err := conn.Channel()
	require.NoError(t, err)
	err = ch.Close()
	<-gotFirst
	if firstID == 0 {
		select {
		case firstID = <-first:
		case <-time.After(2 * time.Second):
		}
	}
	assert.Equal(t, spec091.IDChannelClose, firstID, "first frame after the broker's close: %v (close-ok before our close)", firstID)
	assert.NoError(t, err)
}

// Close while other goroutines still call is a clean close. Before, the
// calls' frames went out after connection.close, so Close's own flush wrote
// them to the socket the close-ok had just closed and reported ErrClosed.
// Now nothing but close-ok may follow our connection.close. Found by a
// review.
func TestCloseCleanWhileOthersCall(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, responder)
	for i := 0; i < 1000; i++ {
		conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: waitLimit})
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		for g := 0; g < 3; g++ {
			ch, err := conn.Channel()
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := ch.QueueDeclare("q"); err != nil {
						return
					}
				}
			}()
		}
		err = conn.Close()
		close(stop)
		if err != nil {
			t.Fatalf("iteration %d: Close = %v, conn.Err() = %v (a clean close)", i, err, conn.Err())
		}
	}
}
