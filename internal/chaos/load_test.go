package chaos_test

import (
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/cluster"
	"github.com/amqplib-go/amqp/internal/faultproxy"
)

// protocol is one protocol version's load.
type protocol struct {
	name   string
	quorum bool
	start  func(r *run)
}

// run is one chaos run: its clients and what they saw.
type run struct {
	t       *testing.T
	c       *cluster.Cluster
	proto   protocol
	queue   string
	proxies map[int]*faultproxy.Proxy
	times   map[string][]time.Duration

	pub     interface{ RemoteAddr() string }   // the per-message publisher's connection
	others  []interface{ RemoteAddr() string } // the other clients' connections (faults rotate over them in long runs)
	closers []func() error
	halt    chan struct{}
	wg      sync.WaitGroup

	mu          sync.Mutex
	cond        *sync.Cond
	confirmed   []string    // ids the broker confirmed, in order
	pubAt       []time.Time // when each per-message publish was confirmed
	downAt      time.Time   // when the per-message publisher last saw its connection lost
	received    map[string]int
	errs        []error
	unconfirmed int // streaming publishes in a nacked batch: not counted
	nacks       int // nacks seen (a per-message publish is then sent again)
	timeouts    int // confirm waits that ended at their bound (likewise)
}

type addrOf func() string

func (f addrOf) RemoteAddr() string { return f() }

func (r *run) start() {
	r.halt = make(chan struct{})
	r.received = map[string]int{}
	r.cond = sync.NewCond(&r.mu)
	r.proto.start(r)
}

func (r *run) pubAddr() string { return r.pub.RemoteAddr() }

// backlog bounds how far the publishers run ahead of the consumer, so
// that the queue (and a restarted node's catching up) stays small.
const backlog = 2000

// throttle waits until the consumer is within backlog of the publishers,
// or the run halts.
func (r *run) throttle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.confirmed)-len(r.received) > backlog && len(r.errs) == 0 {
		select {
		case <-r.halt:
			return
		default:
		}
		r.cond.Wait()
	}
}

// loop runs step until halted; a step's error is recorded and ends it.
// A throttled loop keeps within backlog of the consumer.
func (r *run) loop(throttled bool, step func(i int) error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-r.halt:
				return
			default:
			}
			if throttled {
				r.throttle()
			}
			if err := step(i); err != nil {
				r.fail(err)
				return
			}
		}
	}()
}

func (r *run) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *run) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// stored records ids the broker confirmed.
func (r *run) stored(ids ...string) {
	r.mu.Lock()
	r.confirmed = append(r.confirmed, ids...)
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *run) got(id string) {
	r.mu.Lock()
	r.received[id]++
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *run) confirmedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.confirmed)
}

// pubStored records a per-message publish the broker confirmed.
func (r *run) pubStored(id string) {
	r.mu.Lock()
	r.pubAt = append(r.pubAt, time.Now())
	r.mu.Unlock()
	r.stored(id)
}

// pubDown notes that the per-message publisher lost its connection.
func (r *run) pubDown(error) {
	r.mu.Lock()
	r.downAt = time.Now()
	r.mu.Unlock()
}

func (r *run) pubCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pubAt)
}

// pubAfter waits until more than n per-message publishes are confirmed,
// and returns when the first after n was; false after limit or a failed
// call.
func (r *run) pubAfter(n int, limit time.Duration) (time.Time, bool) {
	timer := time.AfterFunc(limit, r.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(limit)
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.pubAt) <= n && len(r.errs) == 0 && time.Now().Before(deadline) {
		r.cond.Wait()
	}
	if len(r.pubAt) <= n {
		return time.Time{}, false
	}
	return r.pubAt[n], true
}

// stop halts the publishers.
func (r *run) stop() {
	close(r.halt)
	r.cond.Broadcast()
	r.wg.Wait()
}

// check waits (bounded) for the consumer to have every confirmed id, then
// closes the clients; it returns how many are missing and how many came
// more than once.
func (r *run) check() (lost, dups int) {
	timer := time.AfterFunc(time.Minute, r.cond.Broadcast)
	defer timer.Stop()
	deadline := time.Now().Add(time.Minute)
	r.mu.Lock()
	for {
		lost = 0
		for _, id := range r.confirmed {
			if r.received[id] == 0 {
				lost++
			}
		}
		if lost == 0 || !time.Now().Before(deadline) {
			break
		}
		r.cond.Wait()
	}
	for _, n := range r.received {
		dups += max(n-1, 0)
	}
	r.mu.Unlock()
	for _, c := range r.closers {
		require.NoError(r.t, c())
	}
	return lost, dups
}

func message(id string) amqp.Message {
	m := amqp.NewMessage(id)
	m.DeliveryMode = amqp.Persistent
	return m
}

func (r *run) consumed(d *amqp.Delivery, ack func(uint64, ...amqp.AckOptions) error) {
	r.got(string(d.Body))
	if err := ack(d.DeliveryTag); err != nil && !errors.Is(err, amqp.ErrStaleDelivery) {
		r.fail(err)
	}
}

var proto091 = protocol{name: "0-9-1", quorum: true, start: func(r *run) {
	t := r.t
	addrs := r.addrs(1, 2, 3)
	dial := func(opts amqp.Config) *client091.Conn {
		c, err := client091.DialConfig(url(addrs), opts)
		require.NoError(t, err)
		r.closers = append(r.closers, c.Close)
		return c
	}
	admin := dial(config(addrs[1:]))
	require.NoError(t, admin.WithChannel(func(ch *client091.Channel) error {
		_, err := ch.QueueDeclare(r.queue, amqp.QueueOptions{Durable: true, Arguments: amqp.Table{"x-queue-type": "quorum"}})
		return err
	}))
	t.Cleanup(func() {
		if c, err := client091.DialConfig(url(addrs), config(addrs[1:])); err == nil {
			_ = c.WithChannel(func(ch *client091.Channel) error { _, err := ch.QueueDelete(r.queue); return err })
			_ = c.Close()
		}
	})

	// The per-message publisher.
	pc := dial(config(addrs[1:]))
	pc.OnDisconnect(r.pubDown)
	r.pub = addrOf(func() string { return pc.RemoteAddr().String() })
	pub, err := pc.Channel()
	require.NoError(t, err)
	require.NoError(t, pub.ConfirmSelect())
	r.loop(false, func(i int) error {
		id := "p" + strconv.Itoa(i)
		for {
			err := pub.PublishConfirmed("", r.queue, message(id))
			if errors.Is(err, amqp.ErrNacked) || errors.Is(err, amqp.ErrTimeout) {
				// Not stored (a quorum queue between leaders), or not known
				// within the bound (the call returned): again.
				r.mu.Lock()
				if errors.Is(err, amqp.ErrTimeout) {
					r.timeouts++
				} else {
					r.nacks++
				}
				r.mu.Unlock()
				continue
			}
			if err != nil {
				return err
			}
			r.pubStored(id)
			return nil
		}
	})

	// The streaming publisher: batches of 20, republished by the library
	// when a connection is lost with some unconfirmed.
	sCfg := config(addrs[1:])
	sCfg.Recovery.RepublishUnconfirmed = true
	sc := dial(sCfg)
	r.others = append(r.others, addrOf(func() string { return sc.RemoteAddr().String() }))
	stream, err := sc.Channel()
	require.NoError(t, err)
	require.NoError(t, stream.ConfirmSelect())
	r.loop(true, func(i int) error {
		ids := make([]string, 20)
		for j := range ids {
			ids[j] = "s" + strconv.Itoa(i) + "-" + strconv.Itoa(j)
			if err := stream.Publish("", r.queue, message(ids[j])); err != nil {
				return err
			}
		}
		err := stream.WaitConfirms()
		if errors.Is(err, amqp.ErrNacked) || errors.Is(err, amqp.ErrTimeout) {
			// Some of the batch not stored, or not known within the bound
			// (the call returned): not counted.
			r.mu.Lock()
			r.unconfirmed += len(ids)
			if errors.Is(err, amqp.ErrTimeout) {
				r.timeouts++
			} else {
				r.nacks++
			}
			r.mu.Unlock()
			return nil
		}
		if err != nil {
			return err
		}
		r.stored(ids...)
		return nil
	})

	// The consumer.
	cc := dial(config(addrs[1:]))
	r.others = append(r.others, addrOf(func() string { return cc.RemoteAddr().String() }))
	sub, err := cc.Channel()
	require.NoError(t, err)
	require.NoError(t, sub.Qos(100))
	_, err = sub.Consume(r.queue, func(d *amqp.Delivery) { r.consumed(d, sub.Ack) })
	require.NoError(t, err)
	go func() {
		for sub.Wait() == nil {
		}
	}()
}}

var proto08 = protocol{name: "0-8", start: func(r *run) {
	t := r.t
	// The queue lives on node 1, which the faults spare; the clients use
	// nodes 2 and 3.
	home, err := client08.DialConfig(url(r.addrs(1)), config(nil))
	require.NoError(t, err)
	r.closers = append(r.closers, home.Close)
	hch, err := home.Channel()
	require.NoError(t, err)
	_, err = hch.QueueDeclare(r.queue, amqp.QueueOptions{Durable: true})
	require.NoError(t, err)
	t.Cleanup(func() {
		if c, err := client08.DialConfig(url(r.addrs(1)), config(nil)); err == nil {
			if ch, err := c.Channel(); err == nil {
				_, _ = ch.QueueDelete(r.queue)
			}
			_ = c.Close()
		}
	})
	addrs := r.addrs(2, 3)
	dial := func() *client08.Conn {
		c, err := client08.DialConfig(url(addrs), config(addrs[1:]))
		require.NoError(t, err)
		r.closers = append(r.closers, c.Close)
		return c
	}
	pc := dial()
	pc.OnDisconnect(r.pubDown)
	r.pub = addrOf(func() string { return pc.RemoteAddr().String() })
	pub, err := pc.Channel()
	require.NoError(t, err)
	require.NoError(t, pub.TxSelect())
	r.loop(false, func(i int) error {
		id := "t" + strconv.Itoa(i)
		for try := 0; ; try++ {
			err := pub.Publish("", r.queue, message(id))
			if err == nil {
				err = pub.TxCommit()
			}
			if err == nil {
				r.pubStored(id)
				return nil
			}
			if try == 5 || !errors.Is(err, amqp.ErrClosed) {
				return err
			}
			if err := pub.TxRollback(); err != nil && !errors.Is(err, amqp.ErrClosed) {
				return err
			}
		}
	})
	cc := dial()
	r.others = append(r.others, addrOf(func() string { return cc.RemoteAddr().String() }))
	sub, err := cc.Channel()
	require.NoError(t, err)
	require.NoError(t, sub.Qos(100))
	_, err = sub.Consume(r.queue, func(d *amqp.Delivery) { r.consumed(d, sub.Ack) })
	require.NoError(t, err)
	go func() {
		for sub.Wait() == nil {
		}
	}()
}}
