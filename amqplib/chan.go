package amqplib

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Stable channels: the value a dialect's Channel holds.
//
// Invariants (this file owns them):
//
//   - A dialect's Channel holds one *Chan for its whole life, and the *Chan
//     keeps its id. cur is the engine Channel on the connection now in use;
//     it is the only way from a Chan to the engine, so a call always works
//     on the channel of one connection from start to end.
//   - cur changes only in recovery (session.go), after the new engine
//     channel got the channel's modes and consumers again; cur pairs the
//     engine channel with its epoch, so a tag is never mapped with another
//     epoch's numbers.
//   - Delivery tags the program sees are the engine's plus epoch<<40: they
//     keep increasing across recoveries, and a tag of an earlier epoch is
//     refused (ErrStaleDelivery) instead of acking another message.
//   - A call that fails because its connection died (and recovery is on)
//     waits for the recovery and runs again on the new channel (do); acks
//     and the confirm waits are never run again.
//   - The log holds what a new channel must replay, in order: qos, flow,
//     0-8 access requests, confirm and tx selects, consumers (a cancelled one
//     is removed). Its methods are private copies, never changed: replay
//     sends a copy (replay.go).
//   - The dialect's wrapper (owner) is set before the Chan is published to
//     lookups (the engine channel's owner is the Chan).
type Chan struct {
	id    uint16
	s     *Session
	cur   atomic.Pointer[link]
	owner any // the dialect's *Channel

	mu  sync.Mutex // guards log
	log []logEntry

	txMode atomic.Bool   // tx.select succeeded: publishes and acks are transactional work
	txWork atomic.Uint64 // 1 + the epoch of the current transaction's first work (0: none yet)
}

// link is an engine channel and the epoch it belongs to.
type link struct {
	ch    *Channel
	epoch uint64
	prev  atomic.Pointer[link] // the link this one replaced (its confirms are still asked about)
	told  atomic.Bool          // WaitConfirms reported prev's unconfirmed publishes
	txAt  atomic.Uint64

	pmu   sync.Mutex        // guards kept and moved (republish.go)
	kept  []keptPub         // unconfirmed publishes, by increasing number
	moved map[uint64]uint64 // a number published again → the program's number it now has
}

// tagShift places the epoch above the engine's delivery tags.
const tagShift = 40

type logKind int

const (
	logCall logKind = iota // qos, tx.select: a call replayed as it is
	logConfirm
	logConsume
)

type logEntry struct {
	kind   logKind
	m      wire.Method
	reply  wire.MethodID
	opts   amqp.ConsumeOptions
	fn     func(*amqp.Delivery)
	ticket uint16 // access.request: the ticket the program holds
	queue  string // a consumer's queue, by its newest name (the method keeps the one sent)
}

// newChan wraps an engine channel.
func newChan(s *Session, ch *Channel) *Chan {
	c := &Chan{id: ch.id, s: s}
	c.cur.Store(&link{ch: ch})
	return c
}

// Engine returns the engine channel now in use.
func (c *Chan) Engine() *Channel { return c.cur.Load().ch }

// untrack stops recovery restoring the channel (the program closed it).
func (c *Chan) untrack() {
	if c.s != nil {
		c.s.untrack(c)
	}
}

// recovers reports whether calls on c survive a lost connection.
func (c *Chan) recovers() bool { return c.s != nil && c.s.rec != nil }

// do runs fn on the engine channel now in use; when it fails because the
// connection died and recovery is on, it waits for the recovery and runs
// fn again on the restored channel.
func (c *Chan) do(ctx context.Context, fn func(l *link) error) error {
	return c.doFor(ctx, 0, fn, nil)
}

// doRecorded is do for a call whose success is recorded for recovery (rec
// runs after it succeeded): with recovery on, each attempt and its record
// hold the session's recording lock, which a recovery holds while it
// restores, so the call is either in what the recovery replays or runs on
// the restored channel, never lost between the two.
func (c *Chan) doRecorded(ctx context.Context, fn func(l *link) error, rec func(l *link)) error {
	return c.doFor(ctx, 0, fn, rec)
}

// doFor is do with the wait for a recovery bounded by limit (0: the
// connection's timeout; negative: no bound but ctx and the session's end),
// and rec as doRecorded runs it.
func (c *Chan) doFor(ctx context.Context, limit time.Duration, fn func(l *link) error, rec func(l *link)) error {
	for {
		l, err := c.attempt(ctx, fn, rec)
		if err == nil || !c.recovers() || l == nil {
			return err
		}
		l.ch.c.settle(err)
		if !l.ch.lostWithConn() {
			return err
		}
		if werr := c.s.await(ctx, l.ch.c, limit); werr != nil {
			return werr
		}
		if c.cur.Load() == l { // not restored (closed meanwhile)
			return err
		}
	}
}

// attempt runs fn once on the current link, then rec when it succeeded;
// a nil link means the recording lock was not had in time.
func (c *Chan) attempt(ctx context.Context, fn func(l *link) error, rec func(l *link)) (*link, error) {
	if rec != nil && c.recovers() {
		if err := c.s.rlock(ctx); err != nil {
			return nil, err
		}
		defer c.s.recording.RUnlock()
	}
	l := c.cur.Load()
	err := fn(l)
	if err == nil && rec != nil {
		if h := attemptHook.Load(); h != nil {
			(*h)()
		}
		rec(l)
	}
	return l, err
}

// attemptHook, when set by a test, runs between a recorded call's success
// and its record.
var attemptHook atomic.Pointer[func()]

// record appends to the log (recovery only).
func (c *Chan) record(e logEntry) {
	if !c.recovers() {
		return
	}
	e.m = cloneMethod(e.m)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.m.Name() == "channel.flow" { // only the last one counts
		c.log = slices.DeleteFunc(c.log, func(x logEntry) bool { return x.m.Name() == "channel.flow" })
	}
	if e.m.Name() == "basic.qos" { // replaces a qos of the same scope since the last consumer
		for i := len(c.log) - 1; i >= 0 && c.log[i].m.Name() == "basic.qos"; i-- {
			if boolField(c.log[i].m, "Global") == boolField(e.m, "Global") {
				c.log[i] = e
				return
			}
		}
	}
	c.log = append(c.log, e)
}

// forget removes a consumer from the log, and returns its queue.
func (c *Chan) forget(tag string) (queue string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = slices.DeleteFunc(c.log, func(e logEntry) bool {
		if e.kind == logConsume && e.opts.Tag == tag {
			queue = e.queue
			return true
		}
		return false
	})
	return queue
}

// consumes reports whether a recorded consumer of c reads queue.
func (c *Chan) consumes(queue string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.ContainsFunc(c.log, func(e logEntry) bool { return e.kind == logConsume && e.queue == queue })
}

// queues returns the queues c's recorded consumers read.
func (c *Chan) queues() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var qs []string
	for _, e := range c.log {
		if e.kind == logConsume {
			qs = append(qs, e.queue)
		}
	}
	return qs
}

// observe records a topology call that succeeded (recovery only).
func (c *Chan) observe(req wire.Method, reply wire.MethodID, queue string) {
	if c.recovers() {
		c.s.topo.observe(req, reply, queue)
	}
}

// deliveries wraps a consumer callback so that it sees the program's tags.
func (c *Chan) deliveries(epoch uint64, fn func(*amqp.Delivery)) func(*amqp.Delivery) {
	if !c.recovers() {
		return fn
	}
	return func(d *amqp.Delivery) {
		d.DeliveryTag += epoch << tagShift
		fn(d)
	}
}

// engineTag maps a delivery tag the program holds to l's engine channel's:
// a tag from before the last recovery is refused with ErrStaleDelivery. 0
// (with multiple: every outstanding delivery) stays 0.
func engineTag(l *link, tag uint64) (uint64, error) {
	base := l.epoch << tagShift
	if tag == 0 || base == 0 {
		return tag, nil
	}
	if tag <= base {
		return 0, amqperr.Wrap(amqp.ErrStaleDelivery, amqperr.Invalid("delivery tag %d", tag))
	}
	return tag - base, nil
}

// ID returns the channel number.
func (c *Chan) ID() uint16 { return c.id }

// Call sends a synchronous method and waits for one of the replies (see
// Channel.Call).
func (c *Chan) Call(ctx context.Context, req wire.Method, replies ...wire.MethodID) (wire.Method, error) {
	var m wire.Method
	err := c.doRecorded(ctx, func(l *link) (err error) { m, err = l.ch.Call(ctx, req, replies...); return err }, func(*link) {
		if len(replies) != 1 {
			return
		}
		switch req.Name() {
		case "basic.qos", "channel.flow":
			c.record(logEntry{kind: logCall, m: req, reply: replies[0]})
		case "access.request":
			c.record(logEntry{kind: logCall, m: req, reply: replies[0], ticket: uint16(field(m, "Ticket").Uint())})
		default:
			c.observe(req, replies[0], "")
		}
	})
	return m, err
}

// Request is Call, or Send when noWait (see Channel.Request).
func (c *Chan) Request(ctx context.Context, req wire.Method, noWait bool, reply wire.MethodID) (wire.Method, error) {
	var m wire.Method
	err := c.doRecorded(ctx, func(l *link) (err error) { m, err = l.ch.Request(ctx, req, noWait, reply); return err },
		func(*link) { c.observe(req, reply, "") })
	return m, err
}

// DeclareQueue declares a queue (see Channel.DeclareQueue).
func (c *Chan) DeclareQueue(ctx context.Context, req wire.Method, name string, noWait bool, reply wire.MethodID) (amqp.QueueInfo, error) {
	var q amqp.QueueInfo
	err := c.doRecorded(ctx, func(l *link) (err error) { q, err = l.ch.DeclareQueue(ctx, req, name, noWait, reply); return err },
		func(*link) { c.observe(req, reply, q.Name) })
	return q, err
}

// Count sends a purge or delete and returns its message count (see
// Channel.Count).
func (c *Chan) Count(ctx context.Context, req wire.Method, noWait bool, reply wire.MethodID) (int, error) {
	var n int
	err := c.doRecorded(ctx, func(l *link) (err error) { n, err = l.ch.Count(ctx, req, noWait, reply); return err },
		func(*link) { c.observe(req, reply, "") })
	return n, err
}

// StartConsumer registers a consumer (see Channel.StartConsumer).
func (c *Chan) StartConsumer(ctx context.Context, req wire.Method, o amqp.ConsumeOptions, okID wire.MethodID, fn func(*amqp.Delivery)) (string, error) {
	var tag string
	err := c.doRecorded(ctx, func(l *link) (err error) {
		tag, err = l.ch.StartConsumer(ctx, req, o, okID, c.deliveries(l.epoch, fn))
		return err
	}, func(*link) {
		if c.recovers() {
			o.Tag = tag
			setField(req, "ConsumerTag", tag)
			c.record(logEntry{kind: logConsume, m: req, reply: okID, opts: o, fn: fn, queue: strField(req, "Queue")})
		}
	})
	return tag, err
}

// CancelConsumer cancels a consumer (see Channel.CancelConsumer).
func (c *Chan) CancelConsumer(ctx context.Context, req wire.Method, tag string, reply wire.MethodID) error {
	if !c.recovers() {
		return c.Engine().CancelConsumer(ctx, req, tag, reply)
	}
	// Under the recording lock: a recovery either replays the consumer and
	// the cancel goes to the restored channel, or never sees it.
	if err := c.s.rlock(ctx); err != nil {
		return err
	}
	defer c.s.recording.RUnlock()
	c.s.consumerGone(c.forget(tag))
	e := c.Engine()
	err := e.CancelConsumer(ctx, req, tag, reply)
	if err != nil && e.lostWithConn() {
		return nil // the consumer went with the connection, and is not restored
	}
	return err
}

// Send writes an asynchronous method (see Channel.Send).
//
// With recovery on, the delivery tag of an ack, nack or reject is mapped to
// the engine channel's (engineTag); a tag from before a recovery is refused
// with ErrStaleDelivery and nothing is sent.
func (c *Chan) Send(req wire.Method) error {
	l := c.cur.Load() // once: the tag is mapped for the channel it goes to
	if c.recovers() {
		switch req.Name() {
		case "basic.ack", "basic.nack", "basic.reject":
			f := reflect.ValueOf(req).Elem().FieldByName("DeliveryTag")
			if f.IsValid() && f.CanSet() {
				t, err := engineTag(l, f.Uint())
				if err != nil {
					return err
				}
				f.SetUint(t)
			}
			if err := l.ch.Send(req); err != nil {
				return err
			}
			c.txDid(l)
			return nil
		}
	}
	return l.ch.Send(req)
}

// PublishContent publishes a message (see Channel.PublishContent).
func (c *Chan) PublishContent(ctx context.Context, req wire.Method, msg *amqp.Message) (uint64, error) {
	var seq uint64
	err := c.do(ctx, func(l *link) (err error) {
		seq, err = c.publishKept(l, req, msg, func() (uint64, error) { return l.ch.PublishContent(ctx, req, msg) })
		if err == nil && c.recovers() {
			c.txDid(l)
		}
		return err
	})
	return seq, err
}

// PublishContentNow publishes a message and flushes it (see
// Channel.PublishContentNow).
func (c *Chan) PublishContentNow(ctx context.Context, req wire.Method, msg *amqp.Message) (uint64, error) {
	var seq uint64
	err := c.do(ctx, func(l *link) (err error) {
		seq, err = c.publishKept(l, req, msg, func() (uint64, error) { return l.ch.PublishContentNow(ctx, req, msg) })
		if err == nil && c.recovers() {
			c.txDid(l)
		}
		return err
	})
	return seq, err
}

// PublishConfirmed publishes with publish and waits for its confirm; when
// the connection is lost meanwhile and recovers, the message is published
// again on the restored channel (at least once).
func (c *Chan) PublishConfirmed(ctx context.Context, publish func(ch *Channel) (uint64, error)) error {
	return c.do(ctx, func(l *link) error {
		seq, err := publish(l.ch)
		if err != nil {
			return err
		}
		return l.ch.WaitConfirm(ctx, seq)
	})
}

// GetMessage sends basic.get and returns its message (see
// Channel.GetMessage).
func (c *Chan) GetMessage(ctx context.Context, req wire.Method) (*amqp.Delivery, bool, error) {
	var d *amqp.Delivery
	var ok bool
	err := c.do(ctx, func(l *link) (err error) {
		d, ok, err = l.ch.GetMessage(ctx, req)
		if ok && c.recovers() {
			d.DeliveryTag += l.epoch << tagShift
		}
		return err
	})
	return d, ok, err
}

// SelectConfirms puts the channel in confirm mode (see
// Channel.SelectConfirms).
func (c *Chan) SelectConfirms(ctx context.Context, req wire.Method, reply wire.MethodID) error {
	return c.doRecorded(ctx, func(l *link) error { return l.ch.SelectConfirms(ctx, req, reply) },
		func(*link) { c.record(logEntry{kind: logConfirm, m: req, reply: reply}) })
}

// Tx sends one of the tx methods and waits for its reply; tx.select is
// replayed after a recovery. A commit or rollback whose connection died is
// not run again: the transaction went with it.
func (c *Chan) Tx(ctx context.Context, req, reply wire.MethodID) error {
	l := c.cur.Load()
	ch := l.ch
	k := &ch.c.proto.Known
	if req != k.TxSelect {
		if w := c.txWork.Load(); c.recovers() && w != 0 && w-1 != l.epoch {
			// Work of this transaction was done on a connection that was
			// lost: the broker rolled it back.
			c.txWork.Store(0)
			// Roll back what was done on this connection too: nothing of
			// the transaction stays, as the program is told.
			if err := ch.tx(ctx, k.TxRollback, k.TxRollbackOK); err != nil || req == k.TxRollback {
				return err
			}
			return fmt.Errorf("%w: the transaction was lost with the connection (the broker rolled it back); publish and ack its work again", amqp.ErrClosed)
		}
		err := ch.tx(ctx, req, reply)
		if err == nil {
			c.txWork.Store(0)
			return nil
		}
		if c.recovers() {
			if ch.c.settle(err); ch.lostWithConn() {
				c.txWork.Store(0)
				if req == k.TxRollback {
					return nil // the broker rolls back a lost connection's transaction
				}
				return fmt.Errorf("%w: the connection was lost during the commit: the transaction may or may not have been committed: %w", amqp.ErrClosed, err)
			}
		}
		return err
	}
	return c.doRecorded(ctx, func(l *link) error { return l.ch.tx(ctx, req, reply) }, func(*link) {
		c.txMode.Store(true)
		c.record(logEntry{kind: logCall, m: ch.c.proto.NewMethod(req), reply: reply})
	})
}

// txDid notes transactional work (a publish, an ack) done on l.
func (c *Chan) txDid(l *link) {
	if c.txMode.Load() && c.txWork.Load() == 0 {
		c.txWork.CompareAndSwap(0, l.epoch+1)
	}
}

// Wait dispatches one event (see Common.Wait); across a recovery it goes
// on with the restored channel.
func (c *Chan) wait(deadline time.Time, ctx context.Context) error {
	limit := time.Duration(-1) // Wait has no bound: it waits out any recovery
	if !deadline.IsZero() {
		limit = max(time.Until(deadline), time.Nanosecond)
	}
	return c.doFor(ctx, limit, func(l *link) error { return l.ch.wait(deadline, ctx) }, nil)
}

// Confirming reports whether the channel is in confirm mode.
func (c *Chan) Confirming() bool { return c.Engine().Confirming() }

// OnConfirm sets the confirm callback.
func (c *Chan) OnConfirm(fn func(amqp.Confirmation)) {
	c.setHandler(func(ch *Channel) { ch.OnConfirm(fn) })
}

// setHandler sets a callback on the engine channel now in use. With
// recovery on it holds the recording lock (waiting, bounded by the timeout,
// for a restore in progress, which copies the callbacks to the new channel
// before it becomes current): a callback set meanwhile would otherwise go
// to the old channel only.
func (c *Chan) setHandler(set func(*Channel)) {
	if c.recovers() && c.s.rlock(context.Background()) == nil {
		defer c.s.recording.RUnlock()
	}
	if h := attemptHook.Load(); h != nil {
		(*h)()
	}
	set(c.Engine())
}

// CheckQos checks basic.qos arguments before sending.
func (c *Chan) CheckQos(prefetchCount int, o amqp.QosOptions) error {
	return c.Engine().CheckQos(prefetchCount, o)
}

// CheckFlow checks channel.flow arguments before sending.
func (c *Chan) CheckFlow(o amqp.FlowOptions) error { return c.Engine().CheckFlow(o) }
