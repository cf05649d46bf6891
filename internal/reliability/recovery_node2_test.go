package reliability_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/node2"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// Real faults on the throwaway node, with recovery on and one address: a
// publisher that waits for each message to be stored (PublishConfirmed on
// 0-9-1, a transaction per message on 0-8) and a consumer with manual acks,
// each on its own connection, keep running through the fault with no code
// for the outage. No message the publisher saw stored is missing at the
// end; duplicates are counted (at-least-once) and reported.
func TestRecoveryNode2Faults(t *testing.T) {
	faults := []struct {
		name   string
		inject func(t *testing.T, s *faultRun)
	}{
		{"close_connection", func(t *testing.T, s *faultRun) {
			node2.CloseAllConnections(t, "recovery test")
			s.faulted()
		}},
		{"stop_app", func(t *testing.T, s *faultRun) {
			node2.StopApp(t)
			s.faulted()
			node2.StartApp(t)
		}},
		{"kill -9", func(t *testing.T, s *faultRun) {
			node2.Kill(t)
			s.faulted()

			node2.Restart(t)
		}},
		{"freeze", func(t *testing.T, s *faultRun) {
			node2.Freeze(t)
			s.faulted()
			next(t, s.downs, "the heartbeat noticing the freeze")
			node2.Thaw(t)
		}},
	}
	for _, d := range []string{"0-9-1", "0-8"} {
		for _, f := range faults {
			t.Run(d+"/"+f.name, func(t *testing.T) {
				url := node2.Start(t)
				s := startRun(t, d, url, "")
				s.publishUntil(t, 20)
				f.inject(t, s)
				s.publishUntil(t, s.confirmedCount()+20)
				s.stop(t)
				lost, dups := s.check(t)
				t.Logf("%s %s, one address: fault to next stored publish %s, %d lost, %d duplicates delivered",
					d, f.name, s.recoveredIn().Round(time.Millisecond), lost, dups)
			})
		}
	}
	// With a second address that stays up (the main broker, which is not
	// clustered with node2: only the time to the next stored publish is
	// measured, with no consumer).
	for _, f := range faults {
		t.Run("0-9-1/"+f.name+"/two addresses", func(t *testing.T) {
			url := node2.Start(t)
			s := startRun(t, "0-9-1", url, brokerAddr(t))
			s.publishUntil(t, 20)
			f.inject(t, s)
			s.publishUntil(t, s.confirmedCount()+20)
			s.stop(t)
			for _, c := range s.closers {
				assert.NoError(t, c())
			}
			t.Logf("0-9-1 %s, two addresses: fault to next stored publish %s", f.name, s.recoveredIn().Round(time.Millisecond))
		})
	}
}

// faultRun is one publisher and one consumer on node2.
type faultRun struct {
	queue   string
	publish func(id int) error // returns once the broker stored it
	closers []func() error
	downs   chan error

	mu        sync.Mutex
	confirmed []int
	at        []time.Time // when each confirmed publish returned
	faultAt   time.Time   // when the fault's command returned
	downAt    time.Time   // when the publisher first saw its connection lost
	received  map[int]int
	pubErr    error
	done      chan struct{}
	halt      chan struct{} // closed to stop the publisher
}

// startRun starts the publisher and, with one address, the consumer; other
// is a second address for the publisher (none when empty).
func startRun(t *testing.T, dialect, url, other string) *faultRun {
	s := &faultRun{queue: testbroker.Name(t, "faults"), received: map[int]int{}, downs: make(chan error, 16),
		done: make(chan struct{}), halt: make(chan struct{})}
	cfg := amqp.Config{Timeout: time.Minute, Heartbeat: time.Second, ConnectionTimeout: 2 * time.Second,
		Recovery: &amqp.Recovery{MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond}}
	if other != "" {
		cfg.Addresses = []string{other}
	}
	msg := func(id int) amqp.Message {
		m := amqp.NewMessage(strconv.Itoa(id))
		m.DeliveryMode = amqp.Persistent
		return m
	}
	record := func(d *amqp.Delivery) {
		id, err := strconv.Atoi(string(d.Body))
		if err != nil {
			t.Errorf("a foreign message %q", d.Body)
		}
		s.mu.Lock()
		s.received[id]++
		s.mu.Unlock()
	}
	switch dialect {
	case "0-9-1":
		pc := dialNode2First(t, url, cfg)
		cc, err := client091.DialConfig(url, cfg)
		require.NoError(t, err)
		s.closers = append(s.closers, pc.Close, cc.Close)
		pc.OnDisconnect(s.down)
		pub, err := pc.Channel()
		require.NoError(t, err)
		_, err = pub.QueueDeclare(s.queue, amqp.QueueOptions{Durable: true})
		require.NoError(t, err)
		require.NoError(t, pub.ConfirmSelect())
		s.publish = func(id int) error { return pub.PublishConfirmed("", s.queue, msg(id)) }
		if other != "" {
			break
		}
		sub, err := cc.Channel()
		require.NoError(t, err)
		require.NoError(t, sub.Qos(50))
		_, err = sub.Consume(s.queue, func(d *amqp.Delivery) {
			record(d)
			if err := sub.Ack(d.DeliveryTag); err != nil && !errors.Is(err, amqp.ErrStaleDelivery) {
				t.Errorf("ack: %v", err)
			}
		})
		require.NoError(t, err)
		go func() {
			for sub.Wait() == nil {
			}
		}()
	case "0-8":
		pc, err := client08.DialConfig(url, cfg)
		require.NoError(t, err)
		cc, err := client08.DialConfig(url, cfg)
		require.NoError(t, err)
		s.closers = append(s.closers, pc.Close, cc.Close)
		pc.OnDisconnect(s.down)
		pub, err := pc.Channel()
		require.NoError(t, err)
		_, err = pub.QueueDeclare(s.queue, amqp.QueueOptions{Durable: true})
		require.NoError(t, err)
		require.NoError(t, pub.TxSelect())
		s.publish = func(id int) error {
			// A commit whose connection was lost did not store the message
			// (or its answer was lost): roll back what the new connection
			// may have of it, and publish it again.
			for try := 0; ; try++ {
				err := pub.Publish("", s.queue, msg(id))
				if err == nil {
					err = pub.TxCommit()
				}
				if err == nil || try == 5 || !errors.Is(err, amqp.ErrClosed) {
					return err
				}
				if err := pub.TxRollback(); err != nil && !errors.Is(err, amqp.ErrClosed) {
					return err
				}
			}
		}
		sub, err := cc.Channel()
		require.NoError(t, err)
		require.NoError(t, sub.Qos(50))
		_, err = sub.Consume(s.queue, func(d *amqp.Delivery) {
			record(d)
			if err := sub.Ack(d.DeliveryTag); err != nil && !errors.Is(err, amqp.ErrStaleDelivery) {
				t.Errorf("ack: %v", err)
			}
		})
		require.NoError(t, err)
		go func() {
			for sub.Wait() == nil {
			}
		}()
	}
	t.Cleanup(func() {
		for _, u := range []string{url, brokerURL(t)} {
			if c, err := client091.Dial(u); err == nil {
				_ = c.WithChannel(func(ch *client091.Channel) error { _, err := ch.QueueDelete(s.queue); return err })
				_ = c.Close()
			}
		}
	})
	go s.run()
	return s
}

// dialNode2First dials until the connection is on node2 (the first dial
// picks one of the addresses at random).
func dialNode2First(t *testing.T, url string, cfg amqp.Config) *client091.Conn {
	t.Helper()
	u, err := amqp.ParseURI(url)
	require.NoError(t, err)
	for {
		c, err := client091.DialConfig(url, cfg)
		require.NoError(t, err)
		if c.RemoteAddr().String() == u.Addr() {
			return c
		}
		require.NoError(t, c.Close())
	}
}

// run publishes ids 0, 1, … until halted, through every fault.
func (s *faultRun) run() {
	defer close(s.done)
	for id := 0; ; id++ {
		select {
		case <-s.halt:
			return
		default:
		}
		if err := s.publish(id); err != nil {
			s.mu.Lock()
			s.pubErr = err
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		s.confirmed = append(s.confirmed, id)
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
	}
}

func (s *faultRun) confirmedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.confirmed)
}

// publishUntil waits until n publishes are stored.
func (s *faultRun) publishUntil(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for s.confirmedCount() < n {
		s.mu.Lock()
		err := s.pubErr
		s.mu.Unlock()
		require.NoError(t, err, "a publish failed")
		require.True(t, time.Now().Before(deadline), "only %d of %d publishes stored in 2 minutes", s.confirmedCount(), n)
		time.Sleep(5 * time.Millisecond)
	}
}

// down notes when the publisher's connection was lost.
func (s *faultRun) down(err error) {
	s.mu.Lock()
	if s.downAt.IsZero() {
		s.downAt = time.Now()
	}
	s.mu.Unlock()
	s.downs <- err
}

// faulted notes when the fault took effect.
func (s *faultRun) faulted() {
	s.mu.Lock()
	s.faultAt = time.Now()
	s.mu.Unlock()
}

// recoveredIn is the time from the fault (its command's return, or the
// publisher seeing it if that came first) to the next stored publish.
func (s *faultRun) recoveredIn() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := s.faultAt
	if !s.downAt.IsZero() && s.downAt.Before(from) {
		from = s.downAt
	}
	for _, at := range s.at {
		if at.After(from) {
			return at.Sub(from)
		}
	}
	return -1
}

// stop ends the publisher.
func (s *faultRun) stop(t *testing.T) {
	close(s.halt)
	next(t, s.done, "the publisher's end")
}

// check waits until every stored publish was delivered and returns how
// many are missing (after a bound) and how many came more than once.
func (s *faultRun) check(t *testing.T) (lost, dups int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		lost, dups = 0, 0
		for _, id := range s.confirmed {
			if s.received[id] == 0 {
				lost++
			}
		}
		for _, n := range s.received {
			dups += max(n-1, 0)
		}
		s.mu.Unlock()
		if lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.Zero(t, lost, "stored publishes never delivered")
	for _, c := range s.closers {
		assert.NoError(t, c())
	}
	return lost, dups
}

func next[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}
