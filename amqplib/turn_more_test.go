package amqplib_test

// More tests of the read turn: silence noticed while callers read for
// themselves, Close waits served, and replies routed before a caller
// registers again.

import (
	"runtime"
	"strings"
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

// TestSilenceNoticedWhilePolling: a consumer polls WaitTimeout in a loop on
// a broker that has gone silent. Every poll reads for itself with its own
// deadline; two heartbeat intervals without a byte still end the
// connection with ErrHeartbeatTimeout.
func TestSilenceNoticedWhilePolling(t *testing.T) {
	srv := fake(t, amqptest.Tune{ChannelMax: 10, FrameMax: 4096, Heartbeat: 1}, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
		)
		if err != nil {
			return err
		}
		return hold(s) // silent from now on: no heartbeats
	})
	conn := dial(t, srv.URL, amqp.Config{})
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.Consume("q", func(*amqp.Delivery) {})
	require.NoError(t, err)
	limit := time.Now().Add(5 * time.Second) // 2 intervals = 2 s
	for time.Now().Before(limit) {
		_ = ch.WaitTimeout(50 * time.Millisecond) // ErrTimeout, or closed once detected
		select {
		case <-conn.Done():
			assert.ErrorIs(t, conn.Err(), amqp.ErrHeartbeatTimeout)
			return
		default:
		}
	}
	t.Fatalf("5 s of silence with a 1 s heartbeat went unnoticed while polling; conn.Err()=%v", conn.Err())
}

// goroutineIn waits until some goroutine is blocked in state (e.g. "select")
// with a stack containing every one of frames and none of without.
func goroutineIn(t *testing.T, state string, frames []string, without []string) {
	t.Helper()
	limit := time.Now().Add(waitLimit)
	buf := make([]byte, 1<<20)
	for time.Now().Before(limit) {
		n := runtime.Stack(buf, true)
	next:
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			head, _, _ := strings.Cut(g, "\n")
			if !strings.Contains(head, "["+state) {
				continue
			}
			for _, f := range frames {
				if !strings.Contains(g, f) {
					continue next
				}
			}
			for _, f := range without {
				if strings.Contains(g, f) {
					continue next
				}
			}
			return
		}
		runtime.Gosched()
	}
	t.Fatalf("no goroutine in [%s] with %v", state, frames)
}

// TestCloseServedAmongFollowers: a Close waiting for close-ok (without
// reading itself) keeps the background reader reading, even after that
// reader served the last follower: G1 reads for itself, G2 follows, ch3's
// Close waits, and the broker answers all three at once.
func TestCloseServedAmongFollowers(t *testing.T) {
	goAhead := make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { return s.OpenChannel(2) },
			func() error { return s.OpenChannel(3) },
		)
		if err != nil {
			return err
		}
		for seen := 0; seen < 3; {
			f, err := s.Next()
			if err != nil {
				return err
			}
			if f.Method != nil {
				seen++
			}
		}
		if _, err := await(goAhead, "go-ahead"); err != nil {
			return err
		}
		var f frames
		f.method(1, &spec091.QueueDeclareOK{Queue: "one"})
		f.method(2, &spec091.QueueDeclareOK{Queue: "two"})
		f.method(3, &spec091.ChannelCloseOK{})
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	t.Cleanup(amqplib.SetIdleRead(time.Hour))
	conn := dial(t, srv.URL, amqp.Config{Timeout: 500 * time.Millisecond})
	ch1, err := conn.Channel()
	require.NoError(t, err)
	ch2, err := conn.Channel()
	require.NoError(t, err)
	ch3, err := conn.Channel()
	require.NoError(t, err)

	r1 := make(chan error, 1)
	go func() { _, err := ch1.QueueDeclare("one"); r1 <- err }()
	leading(t, conn)
	r2 := make(chan error, 1)
	go func() { _, err := ch2.QueueDeclare("two"); r2 <- err }()
	goroutineIn(t, "select", []string{"amqplib.(*Channel).call("}, []string{"amqplib.(*Conn).lead("})
	r3 := make(chan error, 1)
	go func() { r3 <- ch3.Close() }()
	goroutineIn(t, "select", []string{"amqplib.(*Channel).Close("}, nil)
	close(goAhead)

	require.NoError(t, within(t, r1, "ch1 declare"))
	require.NoError(t, within(t, r2, "ch2 declare"))
	assert.NoError(t, within(t, r3, "ch3 Close"), "the broker's close-ok was in the read buffer")
}

// TestRepliesRoutedAroundRegistrations: a reply routed just before its
// caller registers as a follower, or the caller's next call registering
// just after, must not leave that next call without a reader (the router
// accounts for a reply before making it visible). Rounds of open + consume,
// with the background reader's idle take-over switched off.
func TestRepliesRoutedAroundRegistrations(t *testing.T) {
	t.Cleanup(amqplib.SetIdleRead(time.Hour))
	for i := 0; i < 40; i++ {
		srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
			err := steps(
				func() error { return s.OpenChannel(1) },
				answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
			)
			if err != nil {
				return err
			}
			return hold(s)
		})
		conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
		require.NoError(t, err)
		ch, err := conn.Channel()
		require.NoError(t, err)
		_, err = ch.Consume("q", func(*amqp.Delivery) {})
		require.NoError(t, err, "round %d", i)
		_ = conn.Close()
		srv.Close()
	}
}
