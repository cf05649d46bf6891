package amqplib

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// RPCs: a synchronous method and its reply.
//
// Invariants (this file owns them):
//
//   - One call at a time per channel (Channel.rpc, taken with TryLock): a
//     second concurrent call is refused, never interleaved.
//   - A call expects a reply (Channel.expecting) from just before its request
//     is written until it returns. The router claims the expectation before
//     it hands a reply over (deliverReply): a reply nobody waits for is a
//     protocol error, and a late one, after its call gave up, is dropped.
//   - The mailbox (Channel.reply) holds one reply: one call, one reply, and
//     each call empties it.
//   - A call that gives up waiting (its timeout, its context) abandons the
//     channel (closing.go) before it stops expecting: the reply may still
//     come, and must never be taken for the next call's.
//   - A waiting call reads for itself when nobody else reads, else follows
//     (turn.go); either way it ends at its deadline, its context or the
//     channel's end.

// reply is what the reader hands to the caller waiting in an RPC.
type reply struct {
	id wire.MethodID
	m  wire.Method    // nil for basic.get-ok, whose fields are in d
	d  *amqp.Delivery // basic.get-ok's message
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
	if ch.c.rewrite != nil {
		ch.prepare(req)
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

// replied reports whether the RPC in progress can stop waiting: its reply
// arrived or the channel closed.
func (ch *Channel) replied() bool { return len(ch.reply) > 0 || ch.isDone() }

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

// cancelled gives the channel up after ctx ended an RPC whose reply may
// still come.
func (ch *Channel) cancelled(ctx context.Context, req wire.Method) error {
	err := ctxError(ctx, ch.name+": waiting for the reply to "+req.Name())
	ch.abandon(err)
	return err
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
	if ch.c.rewrite != nil {
		ch.prepare(req)
	}
	if ch.c.cfg.Trace != nil {
		ch.c.traceMethod("->", ch.id, req)
	}
	if err := ch.c.appendFrames(flushAsync, func(e *wire.Encoder) { e.MethodFrame(ch.id, req) }); err != nil {
		return ch.sendFailed(err)
	}
	return nil
}

// readFailedAsync closes the connection for a protocol error found outside
// the reader.
func (c *Conn) readFailedAsync(err *wire.FrameError) {
	_ = c.sendMethod(0, c.proto.closeMethod(c.proto.Known.ConnectionClose, &amqp.Error{Code: err.Code, Text: truncate(err.Msg)}))
	c.shutdown(err)
}
