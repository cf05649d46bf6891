package amqplib

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

const (
	evDeliver = iota
	evReturn
	evConfirm
	evCancel
)

type event struct {
	kind     uint8
	ack      bool
	multiple bool
	tag      uint64
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

func (ch *Channel) pop() (event, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	q := &ch.queue
	if q.head == len(q.q) {
		return event{}, false
	}
	e := q.q[q.head]
	q.q[q.head] = event{}
	q.head++
	if q.head == len(q.q) {
		q.q, q.head = q.q[:0], 0
	}
	return e, true
}

// Pending returns how many events wait to be dispatched.
func (ch *Channel) Pending() int {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return len(ch.queue.q) - ch.queue.head
}

// event queues an asynchronous method (reader goroutine).
func (ch *Channel) event(m wire.Method) {
	k := &ch.c.proto.Known
	switch m := m.(type) {
	case wire.Confirming:
		tag, multiple := m.ConfirmInfo()
		ch.push(event{kind: evConfirm, tag: tag, multiple: multiple, ack: m.ID() == k.BasicAck})
	case wire.Cancelling:
		ch.push(event{kind: evCancel, consumer: m.CancelTag()})
	}
}

// handlers are the channel's callbacks, called by Wait on the caller's
// goroutine.
type handlers struct {
	consumers map[string]func(*amqp.Delivery)
	onReturn  func(*amqp.Return)
	onConfirm func(amqp.Confirmation)
	onCancel  func(tag string)
}

// AddConsumer registers the callback for a consumer tag.
func (ch *Channel) AddConsumer(tag string, fn func(*amqp.Delivery)) {
	if ch.consumers == nil {
		ch.consumers = make(map[string]func(*amqp.Delivery))
	}
	ch.consumers[tag] = fn
}

// RemoveConsumer forgets a consumer tag; its queued deliveries are dropped.
func (ch *Channel) RemoveConsumer(tag string) { delete(ch.consumers, tag) }

// HasConsumer reports whether the tag is registered.
func (ch *Channel) HasConsumer(tag string) bool { _, ok := ch.consumers[tag]; return ok }

// OnReturn sets the callback for mandatory messages returned by the broker.
func (ch *Channel) OnReturn(fn func(*amqp.Return)) { ch.onReturn = fn }

// OnConfirm sets the callback for each publisher confirm.
func (ch *Channel) OnConfirm(fn func(amqp.Confirmation)) { ch.onConfirm = fn }

// OnCancel sets the callback for consumers cancelled by the broker.
func (ch *Channel) OnCancel(fn func(tag string)) { ch.onCancel = fn }

// Wait dispatches one event, waiting as long as it takes. It returns the
// close reason once the channel is closed and its queue is empty.
func (ch *Channel) Wait() error { return ch.wait(time.Time{}, context.Background()) }

// WaitTimeout dispatches one event, or returns an error matching
// amqp.ErrTimeout after d.
func (ch *Channel) WaitTimeout(d time.Duration) error {
	return ch.wait(time.Now().Add(d), context.Background())
}

// WaitContext dispatches one event, or returns ctx's error.
func (ch *Channel) WaitContext(ctx context.Context) error { return ch.wait(time.Time{}, ctx) }

// wait dispatches one event; deadline (zero: none) and ctx bound the wait.
func (ch *Channel) wait(deadline time.Time, ctx context.Context) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if e, ok := ch.pop(); ok {
			ch.dispatch(e)
			return nil
		}
		select {
		case <-ch.done:
			if e, ok := ch.pop(); ok {
				ch.dispatch(e)
				return nil
			}
			return &amqp.ClosedError{What: ch.name, Reason: ch.Err()}
		default:
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return fmt.Errorf("%w: %s: no event", amqp.ErrTimeout, ch.name)
		}
		if led, err := ch.leadWait(deadline, ctx); led {
			if err != nil {
				return err
			}
			continue
		}
		if timer == nil && !deadline.IsZero() {
			timer = time.NewTimer(time.Until(deadline))
		}
		var expired <-chan time.Time
		if timer != nil {
			expired = timer.C
		}
		var err error
		select {
		case <-ch.queue.signal:
		case <-ch.done:
		case <-expired:
			err = fmt.Errorf("%w: %s: no event", amqp.ErrTimeout, ch.name)
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		ch.c.unfollow(ch, followEvent)
		if err != nil {
			return err
		}
	}
}

// leadWait reads frames on the caller's goroutine (see turn.go) until an
// event is queued, the channel closes, the deadline passes or ctx ends. It
// returns led=false, registered as a follower, when another goroutine reads.
func (ch *Channel) leadWait(deadline time.Time, ctx context.Context) (led bool, err error) {
	ready := func() bool { return ch.Pending() > 0 || ctx.Err() != nil || ch.isDone() }
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, ch.c.interruptLeader)
		defer stop()
	}
	led, err = ch.c.lead(ch, followEvent, ready, deadline)
	switch {
	case !led:
		return false, nil
	case errors.Is(err, errLeadTimeout):
		return true, fmt.Errorf("%w: %s: no event", amqp.ErrTimeout, ch.name)
	case ch.Pending() == 0 && ctx.Err() != nil:
		return true, context.Cause(ctx)
	}
	return true, nil // an event, a close, or a connection failure: the loop looks
}

func (ch *Channel) dispatch(e event) {
	switch e.kind {
	case evDeliver:
		if fn := ch.consumers[e.d.ConsumerTag]; fn != nil {
			fn(e.d)
		} else {
			ch.c.logf("%s: dropped delivery %d for cancelled consumer %q", ch.name, e.d.DeliveryTag, e.d.ConsumerTag)
		}
	case evReturn:
		if ch.onReturn != nil {
			ch.onReturn(e.r)
		} else {
			ch.c.logf("%s: dropped a returned message (%d %s, routing key %q): no OnReturn callback", ch.name, e.r.ReplyCode, e.r.ReplyText, e.r.RoutingKey)
		}
	case evConfirm:
		ch.resolve(e.tag, e.multiple, e.ack)
	case evCancel:
		delete(ch.consumers, e.consumer)
		if ch.onCancel != nil {
			ch.onCancel(e.consumer)
		}
	}
}

// confirms tracks publisher confirms: sequence numbers below low are all
// resolved; resolved holds the ones above it that came out of order.
type confirms struct {
	on       bool
	next     uint64 // last sequence number given out
	low      uint64 // every seq < low is resolved
	resolved map[uint64]bool
	nacked   map[uint64]struct{} // every nacked seq (rare), kept so WaitConfirm always reports it
	nacks    int                 // nacks since the last WaitConfirms
}

// StartConfirms records that confirm.select-ok arrived.
func (ch *Channel) StartConfirms() {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.conf.on {
		ch.conf = confirms{on: true, low: 1, resolved: map[uint64]bool{}, nacked: map[uint64]struct{}{}}
	}
}

// Confirming reports whether the channel is in confirm mode.
func (ch *Channel) Confirming() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.conf.on
}

// PublishSeq returns the sequence number of the last message published in
// confirm mode (0 before any).
func (ch *Channel) PublishSeq() uint64 {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.conf.next
}

// resolve applies one basic.ack or basic.nack (caller's goroutine).
func (ch *Channel) resolve(tag uint64, multiple, ack bool) {
	ch.mu.Lock()
	cf := &ch.conf
	var done []uint64
	from := tag
	if multiple {
		from = cf.low
	}
	for s := from; s <= tag && s <= cf.next; s++ {
		if _, seen := cf.resolved[s]; seen || s < cf.low {
			continue
		}
		if !ack {
			cf.nacked[s] = struct{}{}
			cf.nacks++
		}
		if s == cf.low {
			cf.low++
		} else {
			cf.resolved[s] = ack
		}
		if ch.onConfirm != nil {
			done = append(done, s)
		}
	}
	for {
		if _, ok := cf.resolved[cf.low]; !ok {
			break
		}
		delete(cf.resolved, cf.low)
		cf.low++
	}
	ch.mu.Unlock()
	for _, s := range done {
		ch.onConfirm(amqp.Confirmation{DeliveryTag: s, Ack: ack})
	}
}

// confirmed reports whether seq is resolved and whether it was nacked.
func (ch *Channel) confirmed(seq uint64) (done, nacked bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	_, out := ch.conf.resolved[seq]
	_, nack := ch.conf.nacked[seq]
	return seq < ch.conf.low || out, nack
}

// WaitConfirm dispatches events until the broker confirmed seq. It returns
// nil for an ack and an error matching amqp.ErrNacked for a nack; the whole
// wait is bounded by the connection timeout.
func (ch *Channel) WaitConfirm(seq uint64) error {
	if !ch.Confirming() {
		return fmt.Errorf("%w: %s is not in confirm mode (call ConfirmSelect first)", amqp.ErrInvalidArgument, ch.name)
	}
	if seq == 0 || seq > ch.PublishSeq() {
		return amqp.Invalid("no message with sequence number %d was published on %s", seq, ch.name)
	}
	return ch.waitUntil(func() (bool, error) {
		done, nacked := ch.confirmed(seq)
		if done && nacked {
			return true, fmt.Errorf("%w: message %d on %s", amqp.ErrNacked, seq, ch.name)
		}
		return done, nil
	}, "confirm of message "+fmt.Sprint(seq))
}

// WaitConfirms dispatches events until every published message is
// confirmed. It returns an error matching amqp.ErrNacked if any message was
// nacked since the previous WaitConfirms.
func (ch *Channel) WaitConfirms() error {
	if !ch.Confirming() {
		return fmt.Errorf("%w: %s is not in confirm mode (call ConfirmSelect first)", amqp.ErrInvalidArgument, ch.name)
	}
	target := ch.PublishSeq()
	return ch.waitUntil(func() (bool, error) {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if ch.conf.low <= target {
			return false, nil
		}
		if n := ch.conf.nacks; n > 0 {
			ch.conf.nacks = 0
			return true, fmt.Errorf("%w: %d message(s) on %s", amqp.ErrNacked, n, ch.name)
		}
		return true, nil
	}, "confirms")
}

// waitUntil dispatches events until cond holds, bounded by the timeout.
func (ch *Channel) waitUntil(cond func() (bool, error), what string) error {
	if ok, err := cond(); ok {
		return err
	}
	// What we wait for answers frames still pending: write them now rather
	// than wait for the flusher goroutine to wake.
	ch.c.flushPending()
	deadline := time.Now().Add(ch.c.timeout)
	for {
		if ok, err := cond(); ok {
			return err
		}
		if err := ch.wait(deadline, context.Background()); err != nil {
			if errors.Is(err, amqp.ErrTimeout) {
				return fmt.Errorf("%w: %s: no %s within %s", amqp.ErrTimeout, ch.name, what, ch.c.timeout)
			}
			return err
		}
	}
}
