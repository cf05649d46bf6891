package amqplib

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Events and callbacks.
//
// Invariants (this file owns them):
//
//   - The router (whoever holds the read turn) pushes events and never
//     blocks: the queue is unbounded and guarded by Channel.mu.
//   - Callbacks (consumers, OnReturn, OnConfirm, OnCancel) run only inside
//     Wait, WaitTimeout and WaitContext, on the caller's goroutine, one at a
//     time and never nested: a channel has at most one Wait in progress
//     (waiting holds it); a second one, from another goroutine or from inside
//     a callback, is refused with ErrInvalidArgument. No other call
//     dispatches events: RPCs and confirm waits only route them.
//   - The handlers are read and changed under Channel.mu and called with no
//     lock held, so a callback may call any channel method (an RPC, a
//     publish, PublishConfirmed) without deadlock or re-entrancy.

const (
	evDeliver = iota
	evReturn
	evConfirm
	evCancel
)

type event struct {
	kind     uint8
	ack      bool
	lost     bool   // evConfirm: lost with an earlier connection (tag and last are the program's numbers)
	tag      uint64 // evConfirm: first sequence number of the run
	last     uint64 // evConfirm: last sequence number of the run
	consumer string
	d        *amqp.Delivery
	r        *amqp.Return
}

// eventQueue is the channel's unbounded event queue: the reader pushes and
// never blocks; Wait pops on the caller's goroutine. Guarded by Channel.mu.
type eventQueue struct {
	q      []event
	head   int
	signal chan struct{}
}

func (q *eventQueue) wake() {
	select {
	case q.signal <- struct{}{}:
	default:
	}
}

func (ch *Channel) push(e event) {
	ch.serve(followEvent)
	ch.mu.Lock()
	ch.queue.q = append(ch.queue.q, e)
	ch.mu.Unlock()
	ch.queue.wake()
}

// queueEvent appends an event with ch.mu held, serving the event's
// followers; the caller wakes the queue after unlocking.
func (ch *Channel) queueEvent(e event) {
	ch.serve(followEvent) // takes only the turn's lock (order: ch.mu, then turn.mu)
	ch.queue.q = append(ch.queue.q, e)
}

// callback is the handler an event is dispatched to, looked up as it is
// popped.
type callback struct {
	deliver func(*amqp.Delivery)
	ret     func(*amqp.Return)
	confirm func(amqp.Confirmation)
	cancel  func(tag string)
}

// pop takes the next event and its callback, under one lock.
func (ch *Channel) pop() (event, callback, bool) {
	ch.mu.Lock()
	q := &ch.queue
	if q.head == len(q.q) {
		ch.mu.Unlock()
		return event{}, callback{}, false
	}
	e := q.q[q.head]
	q.q[q.head] = event{}
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	var cb callback
	switch e.kind {
	case evDeliver:
		cb.deliver = ch.consumers[e.d.ConsumerTag]
	case evReturn:
		cb.ret = ch.onReturn
	case evConfirm:
		cb.confirm = ch.onConfirm
	case evCancel:
		delete(ch.consumers, e.consumer)
		cb.cancel = ch.onCancel
	}
	ch.mu.Unlock()
	return e, cb, true
}

// Pending returns how many events wait to be dispatched.
func (ch *Channel) Pending() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return len(ch.queue.q) - ch.queue.head
}

// event queues an asynchronous method (reader goroutine). Confirms are
// resolved here, as they are routed (confirms.go).
func (ch *Channel) event(m wire.Method) {
	k := &ch.c.proto.Known
	switch m := m.(type) {
	case wire.Confirming:
		tag, multiple := m.ConfirmInfo()
		ch.confirm(tag, multiple, m.ID() == k.BasicAck)
	case wire.Cancelling:
		ch.push(event{kind: evCancel, consumer: m.CancelTag()})
	}
}

// handlers are the channel's callbacks, guarded by Channel.mu and called
// by Wait on the caller's goroutine.
type handlers struct {
	consumers map[string]func(*amqp.Delivery)
	onReturn  func(*amqp.Return)
	onConfirm func(amqp.Confirmation)
	onCancel  func(tag string)
	starting  *consumerStart // the callback of a consume waiting for the broker's tag
}

// copyHandlers takes the return, confirm and cancel callbacks of old (a
// channel recovery replaces).
func (ch *Channel) copyHandlers(old *Channel) {
	old.mu.Lock()
	r, cf, cn := old.onReturn, old.onConfirm, old.onCancel
	old.mu.Unlock()
	ch.mu.Lock()
	ch.onReturn, ch.onConfirm, ch.onCancel = r, cf, cn
	ch.mu.Unlock()
}

// AddConsumer registers the callback for a consumer tag.
func (ch *Channel) AddConsumer(tag string, fn func(*amqp.Delivery)) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.consumers == nil {
		ch.consumers = make(map[string]func(*amqp.Delivery))
	}
	ch.consumers[tag] = fn
}

// RemoveConsumer forgets a consumer tag; its queued deliveries are dropped.
func (ch *Channel) RemoveConsumer(tag string) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	delete(ch.consumers, tag)
}

// HasConsumer reports whether the tag is registered.
func (ch *Channel) HasConsumer(tag string) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	_, ok := ch.consumers[tag]
	return ok
}

// OnReturn sets the callback for mandatory messages returned by the broker.
func (ch *Channel) OnReturn(fn func(*amqp.Return)) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.onReturn = fn
}

// OnConfirm sets the callback for each publisher confirm resolved from now
// on.
func (ch *Channel) OnConfirm(fn func(amqp.Confirmation)) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.onConfirm = fn
}

// OnCancel sets the callback for consumers cancelled by the broker.
func (ch *Channel) OnCancel(fn func(tag string)) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.onCancel = fn
}

// Wait dispatches one event, waiting until ctx ends: with no bound, it
// returns only for an event or once the channel is closed and its queue is
// empty (then with the close reason).
func (ch *Channel) Wait(ctx context.Context) error { return ch.wait(time.Time{}, ctx) }

// WaitTimeout dispatches one event, or returns an error matching
// amqp.ErrTimeout after d.
func (ch *Channel) WaitTimeout(ctx context.Context, d time.Duration) error {
	return ch.wait(time.Now().Add(d), ctx)
}

// errWaitBusy refuses a second Wait on a channel.
func (ch *Channel) errWaitBusy() error {
	return fmt.Errorf("%w: %s: Wait while another Wait runs on the channel (from inside a callback, or from a second goroutine); callbacks never nest", amqp.ErrInvalidArgument, ch.name)
}

// wait dispatches one event; deadline (zero: none) and ctx bound the wait.
func (ch *Channel) wait(deadline time.Time, ctx context.Context) error {
	if !ch.waiting.TryLock() {
		return ch.errWaitBusy()
	}
	defer ch.waiting.Unlock()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	noEvent := func() error { return fmt.Errorf("%w: %s: no event", amqp.ErrTimeout, ch.name) }
	for {
		if e, cb, ok := ch.pop(); ok {
			ch.dispatch(e, cb)
			return nil
		}
		select {
		case <-ch.done:
			if e, cb, ok := ch.pop(); ok {
				ch.dispatch(e, cb)
				return nil
			}
			return &amqp.ClosedError{What: ch.name, Reason: ch.Err()}
		default:
		}
		if ctx.Err() != nil {
			return ctxError(ctx, ch.name+": waiting for an event")
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return noEvent()
		}
		ready := func() bool { return ch.Pending() > 0 || ctx.Err() != nil || ch.isDone() }
		led, gen, err := ch.leadFor(ctx, followEvent, ready, deadline)
		if led {
			if errors.Is(err, errLeadTimeout) && ch.Pending() == 0 {
				return noEvent()
			}
			continue // an event, a close, ctx or a connection failure: the loop looks
		}
		if timer == nil && !deadline.IsZero() {
			timer = time.NewTimer(time.Until(deadline))
		}
		var expired <-chan time.Time
		if timer != nil {
			expired = timer.C
		}
		select {
		case <-ch.queue.signal:
		case <-ch.done:
		case <-expired:
		case <-ctx.Done():
		}
		ch.c.unfollow(ch, followEvent, gen)
	}
}

// leadFor reads frames on the caller's goroutine (see turn.go) until ready,
// the deadline or the end of ctx, which interrupts the read. It returns
// led=false, registered as a follower of kind (gen, for unfollow), when
// another goroutine reads.
func (ch *Channel) leadFor(ctx context.Context, kind int, ready func() bool, deadline time.Time) (led bool, gen uint64, err error) {
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, ch.c.interruptLeader)
		defer stop()
	}
	return ch.c.lead(ch, kind, ready, deadline)
}

// dispatch runs the callback for one event, with no lock held.
func (ch *Channel) dispatch(e event, cb callback) {
	switch e.kind {
	case evDeliver:
		if cb.deliver != nil {
			cb.deliver(e.d)
		} else {
			ch.c.logf("%s: dropped delivery %d for cancelled consumer %q", ch.name, e.d.DeliveryTag, e.d.ConsumerTag)
		}
	case evReturn:
		if cb.ret != nil {
			cb.ret(e.r)
		} else {
			ch.c.logf("%s: dropped a returned message (%d %q, routing key %q): no OnReturn callback", ch.name, e.r.ReplyCode, e.r.ReplyText, e.r.RoutingKey)
		}
	case evConfirm:
		if cb.confirm != nil {
			for s := e.tag; s <= e.last; s++ {
				if e.lost {
					cb.confirm(amqp.Confirmation{DeliveryTag: s, Lost: true})
				} else {
					cb.confirm(amqp.Confirmation{DeliveryTag: ch.programSeq(s), Ack: e.ack})
				}
			}
		}
	case evCancel:
		if cb.cancel != nil {
			cb.cancel(e.consumer)
		}
	}
}
