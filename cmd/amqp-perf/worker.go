package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
)

// headerSize is the part of every body amqp-perf writes: a 4-byte marker,
// then the send time in nanoseconds since 1970 (big-endian), so that a
// consumer in another amqp-perf on the same machine measures latency too.
const headerSize = 12

var marker = [4]byte{'p', 'e', 'r', 'f'}

// sendTime reads the send time of a body amqp-perf wrote.
func sendTime(body []byte) (int64, bool) {
	if len(body) < headerSize || [4]byte(body[:4]) != marker {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(body[4:headerSize])), true
}

// pacer spreads events at a fixed rate. It sleeps only when ahead of the
// schedule; one that fell behind (a stalled broker) catches up with a burst
// of at most pacerSlack worth of events, then keeps the rate, so the rate
// stays a limit.
type pacer struct {
	rate  float64
	next  time.Time // when the next event is due
	timer *time.Timer
}

// pacerSlack bounds the catching up after a stall.
const pacerSlack = 100 * time.Millisecond

// wait returns when the next event is due, or false once stop is closed.
func (p *pacer) wait(stop <-chan struct{}) bool {
	if p.rate <= 0 {
		return true
	}
	now := time.Now()
	if p.next.IsZero() || now.Sub(p.next) > pacerSlack {
		p.next = now
	}
	due := p.next
	p.next = p.next.Add(time.Duration(min(1e9/p.rate, float64(24*time.Hour))))
	d := due.Sub(now)
	if d <= 0 {
		return true
	}
	if p.timer == nil {
		p.timer = time.NewTimer(d)
	} else {
		p.timer.Reset(d)
	}
	select {
	case <-p.timer.C:
		return true
	case <-stop:
		p.timer.Stop()
		return false
	}
}

// producer publishes on its own connection; its counters are read by the
// monitor.
type producer struct {
	conn          *conn
	ch            channel
	cf            confirmer // nil without confirms
	exchange, key string
	sent          atomic.Int64
	confirmed     atomic.Int64
	nacked        atomic.Int64
	returned      atomic.Int64
}

// setup puts the channel in confirm mode and counts confirms and returns.
func (p *producer) setup(cfg config) error {
	p.ch.OnReturn(func(*amqp.Return) { p.returned.Add(1) })
	if cfg.confirm == 0 {
		return nil
	}
	p.cf = p.ch.(confirmer)
	if err := p.cf.ConfirmSelect(); err != nil {
		return err
	}
	p.cf.OnConfirm(func(c amqp.Confirmation) {
		if c.Ack {
			p.confirmed.Add(1)
		} else {
			p.nacked.Add(1)
		}
	})
	return nil
}

// dispatch runs the callbacks of the confirms and returns that arrived,
// without blocking.
func (p *producer) dispatch() error {
	for p.ch.Pending() > 0 {
		if err := p.ch.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// run publishes until stop is closed or cfg.pCount messages are sent. With
// confirms it keeps at most cfg.confirm messages unconfirmed and waits for
// the rest at the end.
func (p *producer) run(cfg config, stop <-chan struct{}) error {
	body := make([]byte, cfg.size)
	copy(body, marker[:])
	for i := headerSize; i < len(body); i++ {
		body[i] = byte('a' + i%26)
	}
	msg := amqp.Message{Body: body}
	if cfg.persistent {
		msg.DeliveryMode = amqp.Persistent
	}
	var opts []amqp.PublishOptions
	if cfg.mandatory {
		opts = []amqp.PublishOptions{{Mandatory: true}}
	}
	events := cfg.confirm > 0 || cfg.mandatory
	pace := pacer{rate: cfg.rate}
	for i := 0; cfg.pCount == 0 || i < cfg.pCount; i++ {
		if stopped(stop) || !pace.wait(stop) {
			break
		}
		// The library copies small bodies before Publish returns (and
		// writes large ones before it returns), so the buffer is reused.
		binary.BigEndian.PutUint64(body[4:], uint64(time.Now().UnixNano()))
		if err := p.ch.Publish(p.exchange, p.key, msg, opts...); err != nil {
			return opErr("producer", err)
		}
		p.sent.Add(1)
		if !events {
			continue
		}
		if err := p.dispatch(); err != nil {
			return opErr("producer", err)
		}
		for p.cf != nil && int64(p.cf.PublishSeq())-p.confirmed.Load()-p.nacked.Load() >= int64(cfg.confirm) && !stopped(stop) {
			if err := p.ch.WaitTimeout(100 * time.Millisecond); err != nil && !errors.Is(err, amqp.ErrTimeout) {
				return opErr("producer", err)
			}
		}
	}
	if p.cf != nil {
		if err := p.cf.WaitConfirms(); err != nil && !errors.Is(err, amqp.ErrNacked) {
			return opErr("producer: waiting for confirms", err)
		}
	}
	if err := p.dispatch(); err != nil { // the callbacks of the last confirms
		return opErr("producer", err)
	}
	return nil
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// consumer consumes one queue on its own connection.
type consumer struct {
	conn     *conn
	ch       channel
	queue    string
	tag      string
	received atomic.Int64
	done     atomic.Bool // reached cfg.cCount

	mu    sync.Mutex // guards hist, swapped by the monitor each interval
	hist  *histogram
	spare *histogram

	// used by the consumer's goroutine only
	n         int64
	lastTag   uint64 // with multiple acks: the last delivery, and
	unacked   int    // how many are not acknowledged yet
	pace      pacer
	cancelled bool // by the broker
	stop      <-chan struct{}
}

// start registers the consumer; deliveries are handled inside run's Wait.
func (c *consumer) start(cfg config, stop <-chan struct{}) error {
	c.hist, c.spare, c.stop = new(histogram), new(histogram), stop
	c.pace = pacer{rate: cfg.cRate}
	c.ch.OnCancel(func(string) { c.cancelled = true })
	tag, err := c.ch.Consume(c.queue, func(d *amqp.Delivery) { c.deliver(cfg, d) }, amqp.ConsumeOptions{NoAck: cfg.autoAck})
	if err != nil {
		return opErr(fmt.Sprintf("consuming from %s", c.queue), err)
	}
	c.tag = tag
	return nil
}

func (c *consumer) deliver(cfg config, d *amqp.Delivery) {
	if cfg.cCount > 0 && c.n >= int64(cfg.cCount) {
		return // in flight after the last one: requeued when the channel closes
	}
	if ts, ok := sendTime(d.Body); ok {
		lat := time.Duration(time.Now().UnixNano() - ts)
		c.mu.Lock()
		c.hist.record(lat)
		c.mu.Unlock()
	}
	c.n++
	c.received.Add(1)
	last := cfg.cCount > 0 && c.n == int64(cfg.cCount)
	if !cfg.autoAck {
		c.lastTag = d.DeliveryTag
		c.unacked++
		if cfg.multiAck <= 1 {
			_ = c.ch.Ack(d.DeliveryTag)
			c.unacked = 0
		} else if c.unacked >= cfg.multiAck || last {
			_ = c.ch.Ack(d.DeliveryTag, amqp.AckOptions{Multiple: true})
			c.unacked = 0
		}
	}
	if !last {
		c.pace.wait(c.stop)
	}
}

// swap returns the latency histogram of the interval and starts a new one.
func (c *consumer) swap() *histogram {
	c.mu.Lock()
	h := c.hist
	c.hist, c.spare = c.spare, nil
	c.mu.Unlock()
	return h
}

// giveBack returns the histogram swap took, cleared, for the next swap.
func (c *consumer) giveBack(h *histogram) {
	*h = histogram{}
	c.mu.Lock()
	c.spare = h
	c.mu.Unlock()
}

// run dispatches deliveries until ctx is cancelled or cfg.cCount messages
// have arrived, then acknowledges what a multiple-ack consumer still holds.
func (c *consumer) run(ctx context.Context, cfg config) error {
	for {
		if cfg.cCount > 0 && c.n >= int64(cfg.cCount) {
			c.done.Store(true)
			if err := c.ch.Cancel(c.tag); err != nil && ctx.Err() == nil {
				return opErr("consumer: cancelling", err)
			}
			return nil
		}
		if c.cancelled {
			return fmt.Errorf("consumer: the broker cancelled the consumer of %s (queue deleted?)", c.queue)
		}
		// Wait dispatches what arrived before it looks at ctx: look first,
		// so that a consumer with a backlog stops at once.
		err := ctx.Err()
		if err == nil {
			if err = c.ch.WaitContext(ctx); err == nil {
				continue
			}
		}
		if ctx.Err() == nil {
			return opErr("consumer", err)
		}
		if c.unacked > 0 {
			_ = c.ch.Ack(c.lastTag, amqp.AckOptions{Multiple: true})
		}
		return nil
	}
}
