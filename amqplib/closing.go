package amqplib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Closing: how channels and the connection end.
//
// Invariants (this file owns them):
//
//   - A channel's id stays taken until its close handshake is over (the
//     broker's close-ok, or our close-ok to the broker's close) or the
//     connection ends, so a late frame never reaches a channel that reused
//     the id.
//   - A channel's done closes once (finish), waking every waiter; a leader
//     reading for it is interrupted, since no frame may come.
//   - Giving a channel up (abandon) sends its channel.close before waking its
//     waiters, so the close precedes anything they send next.
//   - The connection shuts down once (shutdown): the first reason stays, the
//     socket closes, every channel and waiter is woken, and OnClose is the
//     last hook.
//   - Every close is bounded by the timeout and its context; after a call
//     timed out with nothing at all from the broker, Close does not wait for
//     a close-ok that would only take another timeout.

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
	_, _ = ch.sendClose(flushQueued, ch.c.proto.closeMethod(ch.c.proto.Known.ChannelClose,
		&amqp.Error{Code: amqp.ReplySuccess, Text: truncate("client gave up the channel: " + reason.Error())}))
	ch.finish()
	ch.queue.wake()
}

// sendClose appends our channel.close unless the broker's own close was
// routed first: both are decided under the writer's lock, so on the wire
// our close always precedes the router's close-ok when they cross, and is
// never sent after it (the broker would take it for a frame on a closed
// channel and close the connection with 504).
func (ch *Channel) sendClose(mode int, m wire.Method) (sent bool, err error) {
	err = ch.c.appendFrames(mode, func(e *wire.Encoder) {
		if ch.brokerClosed {
			return
		}
		e.MethodFrame(ch.id, m)
		if e.Err() == nil {
			ch.closeSent, sent = true, true
		}
	})
	if sent && ch.c.cfg.Trace != nil {
		ch.c.traceMethod("->", ch.id, m)
	}
	return sent, err
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
	sent, err := ch.sendClose(flushSync, ch.c.proto.closeMethod(ch.c.proto.Known.ChannelClose, reason))
	if err != nil {
		ch.closed(nil, true)
		return nil // the connection is gone, so is the channel
	}
	if !sent {
		return nil // the broker closed the channel first; the router answered and freed it
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
		return amqperr.Invalid("reply code %d out of range 0..65535", reason.Code)
	case len(reason.Text) > 255:
		return amqperr.Invalid("reply text of %d bytes: at most 255", len(reason.Text))
	}
	return nil
}

// shutdown closes the connection for a reason (nil for a clean close). It
// is idempotent; only the first reason is kept.
func (c *Conn) shutdown(reason error) {
	c.shutOnce.Do(func() {
		c.mu.Lock()
		c.closeErr = reason
		c.closing = true
		c.mu.Unlock()
		close(c.done)
		_ = c.nc.Close()
		c.readerNotNeeded()
		if t := c.hbTimer.Load(); t != nil {
			t.Stop()
		}
		c.wmu.Lock()
		c.wcond.Broadcast() // publishers waiting for the socket to drain
		c.wmu.Unlock()
		for i := range c.chans {
			if ch := c.chans[i].Load(); ch != nil {
				ch.closed(nil, false)
			}
		}
		c.events.push(hookEvent{kind: hookClose, err: reason})
		c.events.close()
	})
}

// Close closes every channel and the connection with the close handshake,
// then the socket. It is bounded by the timeout and ctx, and idempotent: a
// second call returns nil.
//
// reason is the reply code and text sent (nil: 200 "client closed the
// connection").
func (c *Conn) Close(ctx context.Context, reason *amqp.Error) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	if reason == nil {
		reason = &amqp.Error{Code: amqp.ReplySuccess, Text: "client closed the connection"}
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		<-c.readerEnd
		return nil
	}
	c.closing = true
	c.mu.Unlock()

	msg := c.proto.closeMethod(c.proto.Known.ConnectionClose, reason)
	// From our connection.close on, the writer refuses every other frame:
	// a call racing Close gets ErrClosed, and the close stays clean.
	err := c.sendMethodThen(0, msg, func() { c.closeOut = true })
	if err != nil {
		select {
		case <-c.closeOK: // written by another goroutine's flush, and answered
			err = nil
		default:
		}
	}
	if err == nil && c.unresponsive() {
		err = fmt.Errorf("%w: closed without waiting for connection.close-ok: the broker has sent nothing since a call timed out", amqp.ErrTimeout)
	} else if err == nil {
		err = c.awaitCloseOK(ctx)
	}
	c.shutdown(nil) // no-op when the broker's close-ok (or its own close) got there first
	<-c.readerEnd
	return err
}

// awaitCloseOK waits for connection.close-ok, or for the connection to end.
func (c *Conn) awaitCloseOK(ctx context.Context) error {
	err := c.awaitChannel0(ctx, "connection.close-ok", func() (bool, <-chan struct{}) {
		select {
		case <-c.closeOK:
			return true, nil
		default:
			return false, c.closeOK
		}
	})
	if errors.Is(err, errConnGone) {
		return nil
	}
	return err
}

// errConnGone is awaitChannel0's answer when the connection ended first.
var errConnGone = errors.New("connection gone")

// awaitChannel0 waits for a reply on channel 0: until over reports true,
// reading frames itself when nobody else reads. over also returns a channel
// closed at its next change. It returns errConnGone when the connection ends
// first, and an error matching amqp.ErrTimeout (or the context's) when the
// timeout (or ctx) ends first.
func (c *Conn) awaitChannel0(ctx context.Context, what string, over func() (bool, <-chan struct{})) error {
	deadline := time.Now().Add(c.timeout)
	timeout := func() error {
		return fmt.Errorf("%w: no %s from the broker within %s", amqp.ErrTimeout, what, c.timeout)
	}
	ready := func() bool {
		ok, _ := over()
		return ok
	}
	gone := func() bool {
		select {
		case <-c.done:
			return true
		default:
			return false
		}
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, c.interruptLeader)
		defer stop()
	}
	led, _, err := c.lead(nil, 0, func() bool { return ready() || gone() || ctx.Err() != nil }, deadline)
	switch {
	case led && ready():
		return nil
	case led && gone():
		return errConnGone
	case led && errors.Is(err, errLeadTimeout):
		return timeout()
	case ctx.Err() != nil:
		return ctxError(ctx, "waiting for "+what)
	}
	defer c.needReader()()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		ok, changed := over()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-c.done:
			if ready() {
				return nil
			}
			return errConnGone
		case <-timer.C:
			return timeout()
		case <-ctx.Done():
			return ctxError(ctx, "waiting for "+what)
		}
	}
}

// hooks

// unresponsive reports whether an RPC timed out without a byte from the
// broker, and nothing has arrived since: then a close handshake would only
// wait for another timeout, so Close does not wait for its close-ok.
func (c *Conn) unresponsive() bool {
	s := c.silent.Load()
	return s != 0 && c.reads.Load() == s-1
}

// readFailed turns the reader's error into the connection's close reason.
func (c *Conn) readFailed(err error) {
	select {
	case <-c.done: // closed on purpose; the read error is just the socket closing
		return
	default:
	}
	var fe *wire.FrameError
	switch {
	case errors.Is(err, errServerClosed):
		return // already shut down with the broker's reason
	case errors.As(err, &fe):
		// Tell the broker what was wrong, without waiting for close-ok.
		_ = c.sendMethod(0, c.proto.closeMethod(c.proto.Known.ConnectionClose, &amqp.Error{Code: fe.Code, Text: truncate(fe.Msg)}))
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w (%s interval, nothing for %s)", amqp.ErrHeartbeatTimeout, c.tuned.Heartbeat, 2*c.tuned.Heartbeat)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		err = fmt.Errorf("amqp: the broker closed the connection without connection.close: %w", err)
	}
	c.shutdown(err)
}

var errServerClosed = errors.New("amqp: closed by the broker")

func truncate(s string) string {
	if len(s) > 255 {
		return s[:252] + "..."
	}
	return s
}
