package amqplib_test

// Tests of the read turn (turn.go): a waiting caller reads its own reply
// when nobody else reads, stops at its deadline without losing the
// stream's place, and the background reader takes over when nobody waits.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"runtime"
	"sync"
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

// splitDelivery writes the first 10 bytes of a delivery for channel 1 (the
// frame header and 3 payload bytes), then the rest once resume is closed
// (never when resume is nil).
func splitDelivery(s *amqptest.Session, resume <-chan struct{}) error {
	var f frames
	f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "split")
	b := f.bytes()
	if err := s.Write(b[:10]); err != nil {
		return err
	}
	if resume == nil {
		return hold(s)
	}
	if _, err := await(resume, "the test's go-ahead"); err != nil {
		return err
	}
	return s.Write(b[10:])
}

// TestLeaderDeadlineInsideAFrame: the RPC's deadline passes while another
// channel's frame is half read. The caller returns its timeout at once; the
// background reader later finishes the frame, so the connection, the
// delivery and what follows survive. Over TCP and TLS (a TLS read must
// survive a deadline in the middle of a record).
func TestLeaderDeadlineInsideAFrame(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "tls"}[useTLS]
		t.Run(name, func(t *testing.T) {
			timedOut := make(chan struct{})
			script := func(s *amqptest.Session) error {
				err := steps(
					func() error { return s.Handshake(amqptest.DefaultTune) },
					func() error { return s.OpenChannel(1) },
					answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
					func() error { return s.OpenChannel(2) },
					func() error { _, err := s.Expect(2, spec091.IDQueueDeclare); return err },
					func() error { return splitDelivery(s, timedOut) },
					func() error { return s.Send(0, &spec091.ConnectionBlocked{Reason: "after the split frame"}) },
					func() error { _, err := s.Expect(2, spec091.IDChannelClose); return err },
					func() error { return s.Send(2, &spec091.ChannelCloseOK{}) },
					answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "after"}),
				)
				if err != nil {
					return err
				}
				return hold(s)
			}
			cfg := amqp.Config{Timeout: 200 * time.Millisecond}
			var srv *amqptest.Server
			if useTLS {
				cert, pool := amqptest.SelfSigned(t)
				srv = amqptest.NewTLSServer(t, spec091.Protocol, &tls.Config{Certificates: []tls.Certificate{cert}}, script)
				cfg.TLS = &tls.Config{RootCAs: pool}
			} else {
				srv = amqptest.NewServer(t, spec091.Protocol, script)
			}
			conn := dial(t, srv.URL, cfg)
			blocked := make(chan string, 1)
			conn.OnBlocked(func(reason string) { blocked <- reason })
			ch1, err := conn.Channel()
			require.NoError(t, err)
			var got []string
			_, err = ch1.Consume("q", func(d *amqp.Delivery) { got = append(got, d.Text()) })
			require.NoError(t, err)
			ch2, err := conn.Channel()
			require.NoError(t, err)

			_, err = ch2.QueueDeclare("q") // the broker sends half a frame and stalls
			require.ErrorIs(t, err, amqp.ErrTimeout)
			close(timedOut)
			// Nobody waits now: the background reader finishes the frame
			// and reads the notice after it.
			assert.Equal(t, "after the split frame", within(t, blocked, "OnBlocked"))
			require.NoError(t, conn.Err(), "the connection kept its place in the stream")
			require.NoError(t, ch1.WaitTimeout(waitLimit))
			assert.Equal(t, []string{"split"}, got)
			info, err := ch1.QueueDeclare("q")
			require.NoError(t, err)
			assert.Equal(t, "after", info.Name)
		})
	}
}

// TestWaitTimeoutInsideAFrame: WaitTimeout returns at its deadline even
// when the frame being read stalls half-way; the next Wait gets the whole
// delivery.
func TestWaitTimeoutInsideAFrame(t *testing.T) {
	timedOut := make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { return splitDelivery(s, timedOut) },
		)
		if err != nil {
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
	require.ErrorIs(t, ch.WaitTimeout(50*time.Millisecond), amqp.ErrTimeout) // the broker is still stalled
	close(timedOut)
	require.NoError(t, ch.WaitTimeout(waitLimit))
	assert.Equal(t, []string{"split"}, got)
	assert.NoError(t, conn.Err())
}

// TestWaitEndsWhenAnotherGoroutineCloses: a Wait reading for itself, with
// no frame to come, returns once another goroutine's Close gives up on the
// broker's close-ok.
func TestWaitEndsWhenAnotherGoroutineCloses(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
		)
		if err != nil {
			return err
		}
		return hold(s) // never answers channel.close
	})
	t.Cleanup(amqplib.SetIdleRead(time.Hour)) // the background reader stays away (restored after Close)
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("q", func(*amqp.Delivery) {})
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() { waited <- ch.Wait() }()
	leading(t, conn)
	require.ErrorIs(t, ch.Close(), amqp.ErrTimeout)
	assert.ErrorIs(t, within(t, waited, "Wait after Close"), amqp.ErrClosed)
}

// leading waits until a caller reads for itself on conn.
func leading(t *testing.T, conn *client091.Conn) {
	t.Helper()
	limit := time.Now().Add(waitLimit)
	for !amqplib.Leading(amqplib.ConnOf(conn)) {
		if time.Now().After(limit) {
			t.Fatal("no caller took the read turn")
		}
		runtime.Gosched()
	}
}

// TestLeaderStopsInsideAFrame: a broker that stops in the middle of a frame
// does not hold the caller past its deadline, and the stream keeps its
// place for whoever reads next.
func TestLeaderStopsInsideAFrame(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); return err },
		)
		if err != nil {
			return err
		}
		return splitDelivery(s, nil)
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("q", func(*amqp.Delivery) {})
	require.NoError(t, err)
	rpc := make(chan error, 1)
	go func() { _, err := ch.QueueDeclare("q"); rpc <- err }()
	err = within(t, rpc, "the RPC")
	require.ErrorIs(t, err, amqp.ErrTimeout)
	assert.NoError(t, conn.Err(), "a stall is not a broken stream")
}

// TestInputAfterTheLastCall: once nobody waits, the background reader
// takes the turn back, so a broker's notice is handled with no call in
// progress.
func TestInputAfterTheLastCall(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDQueueDeclare, &spec091.QueueDeclareOK{Queue: "q"}),
			func() error { return s.Send(0, &spec091.ConnectionBlocked{Reason: "disk"}) },
			func() error {
				return s.Send(0, &spec091.ConnectionClose{ReplyCode: amqp.ConnectionForced, ReplyText: "bye"})
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

// TestWaitContextWhileIdle: a Wait bounded by a context reads for itself
// and stops when the context is cancelled.
func TestWaitContextWhileIdle(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
		)
		if err != nil {
			return err
		}
		var f frames
		f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "one")
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	t.Cleanup(amqplib.SetIdleRead(time.Hour)) // the background reader stays away (restored after Close)
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

	// Nothing more comes: cancelling the context ends the wait, also when
	// the Wait reads for itself.
	ctx2, cancel2 := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ch.WaitContext(ctx2) }()
	leading(t, conn)
	cancel2()
	assert.ErrorIs(t, within(t, errc, "the cancelled Wait"), context.Canceled)
	assert.NoError(t, conn.Err())
}

// TestManyCallersOneConnection: declares, gets with bodies and publishes on
// several goroutines, and a consumer polling WaitTimeout(1ms) (its
// deadline passes all the time, at any point of a frame), share one
// connection; whoever reads routes everyone's replies.
func TestManyCallersOneConnection(t *testing.T) {
	const callers, rounds = 4, 150
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		for {
			f, err := s.Next()
			if err != nil {
				return nil
			}
			if f.Method == nil {
				continue
			}
			switch m := f.Method.(type) {
			case *spec091.ChannelOpen:
				err = s.Send(f.Channel, &spec091.ChannelOpenOK{})
			case *spec091.QueueDeclare:
				err = s.Send(f.Channel, &spec091.QueueDeclareOK{Queue: m.Queue})
			case *spec091.BasicGet:
				var fr frames
				fr.content(f.Channel, &spec091.BasicGetOK{DeliveryTag: 1, RoutingKey: m.Queue}, "got:"+m.Queue)
				err = s.Write(fr.bytes())
			case *spec091.BasicPublish: // echoed to the consumer on channel 1
				var fr frames
				fr.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "x")
				err = s.Write(fr.bytes())
			case *spec091.BasicConsume:
				err = s.Send(f.Channel, &spec091.BasicConsumeOK{ConsumerTag: "ctag"})
			case *spec091.ConnectionClose:
				return s.Send(0, &spec091.ConnectionCloseOK{})
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

	const published = callers * rounds / 3
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
			name := fmt.Sprintf("q%d", i)
			for r := 0; r < rounds && err == nil; r++ {
				switch r % 3 {
				case 0:
					var info amqp.QueueInfo
					if info, err = ch.QueueDeclare(name); err == nil && info.Name != name {
						err = fmt.Errorf("declare-ok for %s on the channel declaring %s", info.Name, name)
					}
				case 1:
					var d *amqp.Delivery
					var ok bool
					if d, ok, err = ch.Get(name); err == nil && (!ok || d.Text() != "got:"+name) {
						err = fmt.Errorf("get from %s: ok=%v", name, ok)
					}
				case 2:
					err = ch.Publish("", "q", amqp.NewMessage("x"))
				}
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		limit := time.Now().Add(waitLimit)
		for received < published && time.Now().Before(limit) {
			if err := consumer.WaitTimeout(time.Millisecond); err != nil && !errors.Is(err, amqp.ErrTimeout) {
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
	assert.Equal(t, published, received)
	assert.NoError(t, conn.Err())
}
