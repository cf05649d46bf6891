package amqplib

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

const (
	chOpen = iota
	chClosing
	chClosed
)

// reply is what the reader hands to the caller waiting in an RPC.
type reply struct {
	id wire.MethodID
	m  wire.Method    // nil for basic.get-ok, whose fields are in d
	d  *amqp.Delivery // basic.get-ok's message
}

// Channel is one AMQP channel. RPCs are serialised: a second concurrent RPC
// gets an error instead of corrupting the exchange. Events (deliveries,
// returns, confirms, cancels) queue up until Wait dispatches them.
type Channel struct {
	c    *Conn
	id   uint16
	name string

	followed  atomic.Bool         // following is not all zero; read without the turn's lock
	following [followKinds]int    // followers registered per kind (guarded by c.turn.mu)
	servings  [followKinds]uint64 // bumped when serve clears a kind (guarded by c.turn.mu)

	rpc       sync.Mutex
	expecting atomic.Bool // a call waits for a reply (unsolicited.go)
	reply     chan reply
	rpcTimer  *time.Timer // reused by every RPC; guarded by rpc

	waiting sync.Mutex // held by the one Wait in progress (events.go)

	mu       sync.Mutex // guards state, reason, the event queue, the handlers and confirms
	state    int
	reason   error
	done     chan struct{} // closed once the channel is unusable (closing or closed)
	doneOnce sync.Once
	freed    chan struct{} // closed once the id is free for reuse
	queue    eventQueue
	conf     confirms      // confirms.go
	txOn     bool          // tx.select-ok arrived
	flowOff  chan struct{} // non-nil while the broker has the flow off; closed when it is back
	paused   atomic.Bool   // flowOff != nil, read without the lock by publishes

	asm assembly // the reader's content in progress

	owner  any         // the dialect's wrapper (see OpenChannel); set before opened
	opened atomic.Bool // channel.open-ok arrived

	handlers // callbacks, guarded by mu, called inside Wait (events.go)
}

// Channel opens a channel: id 0 picks the next free id.
func (c *Conn) Channel(ctx context.Context, id uint16) (*Channel, error) { return c.open(ctx, id, nil) }

// open opens a channel; wrap, when not nil, makes the dialect's value kept
// as its owner before anyone can look the channel up.
func (c *Conn) open(ctx context.Context, id uint16, wrap func(*Channel) any) (*Channel, error) {
	ch, err := c.allocate(id)
	if err != nil {
		return nil, err
	}
	if _, err := ch.Call(ctx, c.proto.NewMethod(c.proto.Known.ChannelOpen), c.proto.Known.ChannelOpenOK); err != nil {
		// After a timeout or a cancelled wait the channel was abandoned:
		// its id is freed by the broker's close-ok; after a broker close the
		// reader has freed it already. Still open, nothing was sent (the
		// context had ended): the id is free at once.
		ch.closed(err, !ch.IsClosed())
		return nil, err
	}
	if wrap != nil {
		ch.owner = wrap(ch)
	}
	ch.opened.Store(true) // publishes owner to Lookup
	return ch, nil
}

// Lookup returns the open channel with this id, or nil; a channel still
// waiting for its open-ok is not open yet.
func (c *Conn) Lookup(id uint16) *Channel {
	if int(id) >= len(c.chans) || id == 0 {
		return nil
	}
	ch := c.chans[id].Load()
	if ch == nil || !ch.opened.Load() || ch.IsClosed() {
		return nil
	}
	return ch
}

func (c *Conn) allocate(id uint16) (*Channel, error) {
	max := c.tuned.ChannelMax
	if int(id) > int(max) {
		return nil, amqp.Invalid("channel id %d out of range 1..%d", id, max)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return nil, &amqp.ClosedError{What: "connection", Reason: c.closeErr}
	default:
	}
	if c.closing {
		return nil, &amqp.ClosedError{What: "connection"}
	}
	if id == 0 {
		for n := 0; n < int(max); n++ {
			cand := uint16(int(c.lastID)%int(max) + 1)
			c.lastID = cand
			if c.chans[cand].Load() == nil {
				id = cand
				break
			}
		}
		if id == 0 {
			return nil, fmt.Errorf("%w: all %d channels are in use", amqp.ErrInvalidArgument, max)
		}
	} else if c.chans[id].Load() != nil {
		return nil, amqp.Invalid("channel %d is in use (open, or closing until the broker's close-ok)", id)
	}
	ch := &Channel{c: c, id: id, name: "channel " + strconv.Itoa(int(id)), reply: make(chan reply, 1), done: make(chan struct{}), freed: make(chan struct{})}
	ch.queue.signal = make(chan struct{}, 1)
	c.chans[id].Store(ch)
	if c.everUsed == nil {
		c.everUsed = make([]uint64, (int(max)+64)/64)
	}
	c.everUsed[id/64] |= 1 << (id % 64)
	return ch, nil
}

// ID returns the channel number.
func (ch *Channel) ID() uint16 { return ch.id }

// Conn returns the channel's connection.
func (ch *Channel) Conn() *Conn { return ch.c }

// Done is closed when the channel has closed.
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// IsClosed reports whether the channel is closed or closing.
func (ch *Channel) IsClosed() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.state != chOpen
}

// Err returns why the channel closed: the broker's *amqp.Error, the
// connection's reason, or nil while open or after Close.
func (ch *Channel) Err() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.reason == nil && ch.state == chClosed {
		return ch.c.Err()
	}
	return ch.reason
}

// usable returns a ClosedError unless the channel is open.
func (ch *Channel) usable() error {
	ch.mu.Lock()
	st := ch.state
	ch.mu.Unlock()
	if st == chOpen {
		return nil
	}
	return &amqp.ClosedError{What: ch.name, Reason: ch.Err()}
}

// closed marks the channel closed for reason (the first reason stays);
// unregister frees its id for reuse.
func (ch *Channel) closed(reason error, unregister bool) {
	ch.mu.Lock()
	if ch.state != chClosed {
		ch.state = chClosed
		if ch.reason == nil {
			ch.reason = reason
		}
	}
	ch.mu.Unlock()
	if unregister && ch.c.chans[ch.id].CompareAndSwap(ch, nil) { // before waking waiters
		close(ch.freed)
	}
	ch.finish()
	ch.queue.wake()
}

// finish wakes everyone waiting on the channel, once.
// A leader reading for this channel's waiter is interrupted, since no frame
// may come to end its read.
func (ch *Channel) finish() {
	ch.doneOnce.Do(func() {
		close(ch.done)
		ch.c.interruptLeader()
	})
}

// abandon gives the channel up after a failed wait: it tells the broker to
// close it and keeps the id until close-ok so late replies are dropped.
func (ch *Channel) abandon(reason error) {
	ch.mu.Lock()
	if ch.state != chOpen {
		ch.mu.Unlock()
		return
	}
	ch.state = chClosing
	ch.reason = reason
	ch.mu.Unlock()
	// Sent before waking waiters, so it precedes whatever they send next.
	_ = ch.c.queueMethod(ch.id, ch.c.proto.closeMethod(ch.c.proto.Known.ChannelClose,
		&amqp.Error{Code: amqp.ReplySuccess, Text: truncate("client gave up the channel: " + reason.Error())}))
	ch.finish()
	ch.queue.wake()
}

// Call sends a synchronous method and waits, bounded by the connection
// timeout and ctx, for one of the reply ids. A channel exception raised for
// the request is returned as *amqp.Error. A call that gives up waiting (its
// timeout, its context) gives the channel up too: the reply may still come.
func (ch *Channel) Call(ctx context.Context, req wire.Method, replies ...wire.MethodID) (wire.Method, error) {
	r, err := ch.call(ctx, req, replies)
	return r.m, err
}

func (ch *Channel) call(ctx context.Context, req wire.Method, replies []wire.MethodID) (reply, error) {
	return ch.callThen(ctx, req, replies, nil)
}

// callThen is call; written, when not nil, runs under the writer's lock
// right after the request is queued for the socket, so that state it
// changes is in order with every other frame (confirm.select numbers the
// publishes written after it).
func (ch *Channel) callThen(ctx context.Context, req wire.Method, replies []wire.MethodID, written func()) (reply, error) {
	if !ch.rpc.TryLock() {
		return reply{}, fmt.Errorf("%w: %s: %s while another call is in progress (a channel is for one goroutine at a time)", amqp.ErrInvalidArgument, ch.name, req.Name())
	}
	defer ch.rpc.Unlock()
	if err := ch.usable(); err != nil {
		return reply{}, err
	}
	if ctx.Err() != nil { // not sent: the channel stays as it is
		return reply{}, ctxError(ctx, ch.name+": "+req.Name())
	}
	ch.expecting.Store(true)
	defer ch.expecting.Store(false)
	reads := ch.c.reads.Load()
	if err := ch.c.sendMethodThen(ch.id, req, written); err != nil {
		return reply{}, ch.sendFailed(err)
	}
	deadline := time.Now().Add(ch.c.timeout)
	ready := ch.replied
	if ctx.Done() != nil {
		ready = func() bool { return ch.replied() || ctx.Err() != nil }
	}
	led, gen, err := ch.leadFor(ctx, followReply, ready, deadline)
	if led {
		select {
		case r := <-ch.reply:
			return ch.check(r, req, replies)
		default:
		}
		switch {
		case errors.Is(err, errLeadTimeout):
			return reply{}, ch.timedOut(req, reads)
		case !ch.isDone() && ctx.Err() != nil:
			return reply{}, ch.cancelled(ctx, req)
		}
		return reply{}, ch.failure() // the channel or the connection closed
	}
	defer ch.c.unfollow(ch, followReply, gen)
	// Someone else is reading. One timer per channel, reused: RPCs on a
	// channel are serialised.
	if ch.rpcTimer == nil {
		ch.rpcTimer = time.NewTimer(time.Until(deadline))
	} else {
		ch.rpcTimer.Reset(time.Until(deadline))
	}
	timer := ch.rpcTimer
	defer timer.Stop()
	select {
	case r := <-ch.reply:
		return ch.check(r, req, replies)
	case <-ch.done:
		select {
		case r := <-ch.reply: // the reply came before the close
			return ch.check(r, req, replies)
		default:
		}
		return reply{}, ch.failure()
	case <-timer.C:
	case <-ctx.Done():
	}
	select {
	case r := <-ch.reply: // it came as the wait ended: the call succeeded
		return ch.check(r, req, replies)
	default:
	}
	if ctx.Err() != nil && !time.Now().After(deadline) {
		return reply{}, ch.cancelled(ctx, req)
	}
	return reply{}, ch.timedOut(req, reads)
}

// cancelled gives the channel up after ctx ended an RPC whose reply may
// still come.
func (ch *Channel) cancelled(ctx context.Context, req wire.Method) error {
	err := ctxError(ctx, ch.name+": waiting for the reply to "+req.Name())
	ch.abandon(err)
	return err
}

// replied reports whether the RPC in progress can stop waiting: its reply
// arrived or the channel closed.
func (ch *Channel) replied() bool { return len(ch.reply) > 0 || ch.isDone() }

// isDone reports whether the channel is closing or closed (done is closed).
func (ch *Channel) isDone() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// timedOut gives the channel up after an RPC got no reply in time; reads
// is the connection's read count when the request was sent. If the broker
// sent nothing at all meanwhile, the connection is noted as unresponsive
// (Conn.unresponsive), so closing does not wait another timeout.
func (ch *Channel) timedOut(req wire.Method, reads uint64) error {
	if ch.c.reads.Load() == reads {
		ch.c.silent.Store(reads + 1)
	}
	err := fmt.Errorf("%w: %s: no reply to %s within %s", amqp.ErrTimeout, ch.name, req.Name(), ch.c.timeout)
	ch.abandon(err)
	return err
}

// check returns r if it is one of the expected replies to req, else closes
// the connection for the protocol error.
func (ch *Channel) check(r reply, req wire.Method, replies []wire.MethodID) (reply, error) {
	if !slices.Contains(replies, r.id) {
		err := &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("%s: got method %s in reply to %s", ch.name, r.id, req.Name())}
		ch.c.readFailedAsync(err)
		return reply{}, err
	}
	return r, nil
}

// failure is the error for a call that was waiting when the channel closed:
// the broker's exception itself, else a ClosedError.
func (ch *Channel) failure() error {
	err := ch.Err()
	var ae *amqp.Error
	if errors.As(err, &ae) && err == error(ae) {
		return ae
	}
	return &amqp.ClosedError{What: ch.name, Reason: err}
}

// sendFailed maps a write error: encoding errors are the caller's and leave
// the channel open.
func (ch *Channel) sendFailed(err error) error {
	if errors.Is(err, amqp.ErrInvalidArgument) {
		return err
	}
	if errors.Is(err, amqp.ErrClosed) {
		return &amqp.ClosedError{What: ch.name, Reason: ch.c.Err()}
	}
	return err
}

// Send writes an asynchronous method (ack, reject, a no-wait request).
// Like a publish it is queued for the flusher, in order with everything
// else, so a burst of acks leaves in one write.
func (ch *Channel) Send(req wire.Method) error {
	if err := ch.usable(); err != nil {
		return err
	}
	if ch.c.cfg.Trace != nil {
		ch.c.traceMethod("->", ch.id, req)
	}
	if err := ch.c.appendFrames(flushAsync, func(e *wire.Encoder) { e.MethodFrame(ch.id, req) }); err != nil {
		return ch.sendFailed(err)
	}
	return nil
}

// Close closes the channel with the close handshake, bounded by the
// timeout and ctx; reason is the reply code and text sent (nil: 200 "bye").
// Closing a closed channel returns nil.
func (ch *Channel) Close(ctx context.Context, reason *amqp.Error) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if reason == nil {
		reason = &amqp.Error{Code: amqp.ReplySuccess, Text: "bye"}
	}
	ch.mu.Lock()
	if ch.state != chOpen {
		ch.mu.Unlock()
		return nil
	}
	ch.state = chClosing
	ch.mu.Unlock()
	err := ch.c.sendMethod(ch.id, ch.c.proto.closeMethod(ch.c.proto.Known.ChannelClose, reason))
	if err != nil {
		ch.closed(nil, true)
		return nil // the connection is gone, so is the channel
	}
	if ch.c.unresponsive() {
		ch.closed(amqp.ErrTimeout, false) // the id waits for a close-ok that may never come
		return fmt.Errorf("%w: %s: closed without waiting for channel.close-ok: the broker has sent nothing since a call timed out", amqp.ErrTimeout, ch.name)
	}
	defer ch.c.needReader()()
	timer := time.NewTimer(ch.c.timeout)
	defer timer.Stop()
	select {
	case <-ch.freed: // close-ok: the id can be reused at once
		return nil
	case <-ch.c.done:
		return nil
	case <-timer.C:
		ch.closed(amqp.ErrTimeout, false)
		return fmt.Errorf("%w: %s: no channel.close-ok within %s", amqp.ErrTimeout, ch.name, ch.c.timeout)
	case <-ctx.Done():
		err := ctxError(ctx, ch.name+": waiting for channel.close-ok")
		ch.closed(err, false) // the id waits for the close-ok
		return err
	}
}

// checkReason refuses a close reason the protocol cannot carry, before
// anything is sent.
func checkReason(reason *amqp.Error) error {
	switch {
	case reason == nil:
		return nil
	case reason.Code < 0 || reason.Code > 65535:
		return amqp.Invalid("reply code %d out of range 0..65535", reason.Code)
	case len(reason.Text) > 255:
		return amqp.Invalid("reply text of %d bytes: at most 255", len(reason.Text))
	}
	return nil
}

// method routes a method frame received on this channel (reader goroutine).
func (ch *Channel) method(m wire.Method) error {
	k := &ch.c.proto.Known
	if ch.asm.id != 0 {
		if !ch.asm.discard || m.ID() != k.ChannelClose && m.ID() != k.ChannelCloseOK {
			return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("%s: %s while a message body was expected", ch.name, m.Name())}
		}
		// Content being dropped on a closing channel ends with its close:
		// a broker that never sends a body it announced cannot hold the
		// channel's id.
		ch.asm = assembly{}
	}
	switch m.ID() {
	case k.ChannelClose:
		// Crossing closes: when our own channel.close is unanswered, the id
		// stays taken until its close-ok, or that late close-ok would close
		// the channel reopened with the id.
		ch.mu.Lock()
		crossed := ch.state == chClosing
		ch.mu.Unlock()
		_ = ch.c.queueMethod(ch.id, ch.c.proto.NewMethod(k.ChannelCloseOK))
		ch.closed(m.(wire.Exception).Exception(), !crossed)
		return nil
	case k.ChannelCloseOK:
		ch.closed(nil, true)
		return nil
	}
	ch.mu.Lock()
	st := ch.state
	ch.mu.Unlock()
	if m.HasContent() {
		// While closing, content is still assembled, then dropped: its
		// header and body frames are on the way.
		err := ch.asm.begin(ch, m)
		ch.asm.discard = st != chOpen
		return err
	}
	if st != chOpen {
		return nil // closing: everything but close/close-ok is dropped
	}
	switch id := m.ID(); {
	case ch.c.proto.isAsync(id):
		ch.event(m)
		return nil
	case id == k.ChannelFlow:
		ch.flow(m)
		return nil
	case id == k.ChannelAlert && id != 0:
		ch.alert(m)
		return nil
	case id == k.BasicConsumeOK:
		ch.consumeOK(m)
	}
	return ch.deliverReply(reply{id: m.ID(), m: m})
}

// deliverReply hands a synchronous method to the call waiting for it, or
// fails the connection when none waits (the router).
func (ch *Channel) deliverReply(r reply) error {
	// The claim comes first: a call that gives up abandons the channel
	// before it stops expecting, so a failed claim on a closed channel is a
	// late reply (dropped), and only on an open one a protocol error.
	claimed := ch.expecting.CompareAndSwap(true, false)
	if h := deliverReplyHook.Load(); h != nil {
		(*h)() // tests: a caller giving up right here
	}
	if ch.IsClosed() {
		return nil // the call gave up (its timeout or context abandoned the channel): dropped
	}
	if !claimed {
		name := r.id.String()
		if r.m != nil {
			name = r.m.Name()
		}
		return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("%s: unexpected %s: no call on the channel waits for a reply", ch.name, name)}
	}
	ch.serve(followReply)
	select {
	case ch.reply <- r:
	default: // cannot happen: one call, one reply, and each call empties the slot
		return &wire.FrameError{Code: amqp.InternalError, Msg: ch.name + ": a reply while the previous one is unread"}
	}
	return nil
}

// deliverReplyHook, set by tests only, runs inside deliverReply between its
// two steps.
var deliverReplyHook atomic.Pointer[func()]

// readFailedAsync closes the connection for a protocol error found outside
// the reader.
func (c *Conn) readFailedAsync(err *wire.FrameError) {
	_ = c.sendMethod(0, c.proto.closeMethod(c.proto.Known.ConnectionClose, &amqp.Error{Code: err.Code, Text: truncate(err.Msg)}))
	c.shutdown(err)
}
