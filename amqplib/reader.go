package amqplib

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Background reader states.
const (
	readerIdle    = iota // not started yet
	readerRunning        // readLoop runs (until the connection ends)
	readerNever          // the connection ended before it was needed
)

// startReader starts the background reader unless it runs already or the
// connection has ended.
func (c *Conn) startReader() {
	if c.setUp.Load() && c.readerState.Load() == readerIdle && c.readerState.CompareAndSwap(readerIdle, readerRunning) {
		go c.readLoop()
	}
}

// readerNotNeeded marks the connection's end for a background reader that
// never started: nobody will close readerEnd but this.
func (c *Conn) readerNotNeeded() {
	if t := c.readerStart.Load(); t != nil {
		t.Stop()
	}
	if c.readerState.CompareAndSwap(readerIdle, readerNever) {
		close(c.readerEnd)
	}
}

// readLoop is the shared reader: it reads every frame and routes it. It
// never runs user code and never blocks on a user.
// While a caller reads for itself (see turn.go) it parks.
func (c *Conn) readLoop() {
	defer close(c.readerEnd)
	idle := time.NewTimer(idleRead)
	defer idle.Stop()
	for c.backgroundTurn(idle) {
		for {
			err := c.readFrame()
			if errors.Is(err, errLeadInterrupted) {
				continue // meant for a leader that had just left; read on
			}
			if err != nil {
				c.readFailed(err)
				c.release()
				return
			}
			if c.backgroundPark() {
				break
			}
		}
	}
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

func (c *Conn) readFrame() error {
	typ, chID, size, err := c.fr.Next()
	if err != nil {
		return err
	}
	var ch *Channel
	if chID != 0 && int(chID) < len(c.chans) {
		ch = c.chans[chID].Load()
	}
	if c.cfg.Trace != nil && typ != wire.FrameMethod && !c.fr.Resumed() {
		c.traceFrame("<-", typ, chID, int(size))
	}
	if typ == wire.FrameBody && ch != nil && ch.asm.id != 0 {
		return ch.readBody(size)
	}
	payload, err := c.fr.ReadPayload()
	if err != nil {
		return err
	}
	switch typ {
	case wire.FrameHeartbeat:
		if chID != 0 {
			return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("heartbeat on channel %d", chID)}
		}
		return nil
	case wire.FrameMethod:
		m, err := decodeMethod(c.proto, payload, c.reusable, &c.dec)
		if err != nil {
			return err
		}
		if c.cfg.Trace != nil {
			c.traceMethod("<-", chID, m)
		}
		if chID == 0 {
			return c.connectionMethod(m)
		}
		if ch == nil {
			return c.notOpen(m.Name(), chID)
		}
		return ch.method(m)
	case wire.FrameHeader:
		if ch == nil {
			if chID == 0 {
				return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: "content header on channel 0"}
			}
			return c.notOpen("a content header", chID)
		}
		return ch.header(payload)
	default: // FrameBody with no content expected
		if ch == nil && chID != 0 {
			return c.notOpen("a body frame", chID)
		}
		return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("unexpected body frame on channel %d", chID)}
	}
}

// notOpen handles a frame on a channel that is not open. On a channel this
// connection never opened it is the broker's error, which closes the
// connection (504 CHANNEL_ERROR); on one it opened and closed, it is
// dropped as a frame in flight.
func (c *Conn) notOpen(what string, chID uint16) error {
	c.mu.Lock()
	w := int(chID / 64)
	used := w < len(c.everUsed) && c.everUsed[w]&(1<<(chID%64)) != 0
	c.mu.Unlock()
	if used {
		c.logf("dropped %s for channel %d, which is closed", what, chID)
		return nil
	}
	return &wire.FrameError{Code: amqp.ChannelError, Msg: fmt.Sprintf("%s on channel %d, which was never opened", what, chID)}
}

// reusable returns the reader's own struct for methods it consumes itself
// (their fields are copied out before the next frame is read), so
// deliveries and confirms decode without allocating a method struct.
func (c *Conn) reusable(id wire.MethodID) wire.Method {
	k := &c.proto.Known
	switch id {
	case k.BasicDeliver, k.BasicReturn, k.BasicGetOK, k.BasicAck, k.BasicNack:
		if id == 0 {
			return nil
		}
		if c.scratch == nil {
			c.scratch = make(map[wire.MethodID]wire.Method)
		}
		m := c.scratch[id]
		if m == nil {
			m = c.proto.NewMethod(id)
			c.scratch[id] = m
		}
		return m
	}
	return nil
}

// connectionMethod handles a method on channel 0.
func (c *Conn) connectionMethod(m wire.Method) error {
	k := &c.proto.Known
	switch m.ID() {
	case k.ConnectionClose:
		e := m.(wire.Exception).Exception()
		_ = c.sendMethod(0, c.proto.NewMethod(k.ConnectionCloseOK))
		c.shutdown(e)
		return errServerClosed
	case k.ConnectionCloseOK:
		select {
		case <-c.closeOK: // a second one from a confused broker
		default:
			close(c.closeOK)
		}
		c.shutdown(nil)
		return errServerClosed
	case k.ConnectionBlocked:
		reason := "blocked"
		if b, ok := m.(interface{ BlockedReason() string }); ok {
			reason = b.BlockedReason()
		}
		c.mu.Lock()
		c.blocked = reason
		if c.unblock == nil {
			c.unblock = make(chan struct{})
		}
		c.mu.Unlock()
		c.events.push(hookEvent{kind: hookBlocked, reason: reason})
		return nil
	case k.ConnectionUnblocked:
		c.mu.Lock()
		c.blocked = ""
		if c.unblock != nil {
			close(c.unblock)
			c.unblock = nil
		}
		c.mu.Unlock()
		c.events.push(hookEvent{kind: hookUnblocked})
		return nil
	}
	return &wire.FrameError{Code: amqp.CommandInvalid, Msg: "unexpected " + m.Name() + " on channel 0"}
}

// startHeartbeats arms the heartbeat timer: every half interval, a
// heartbeat is sent if nothing was written since the last look. Silence
// from the broker is caught by the reader's deadline.
func (c *Conn) startHeartbeats() {
	c.hbWrites.Store(c.writes.Load())
	t := time.AfterFunc(time.Hour, c.heartbeatTick)
	t.Stop()
	c.hbTimer.Store(t) // set before the first tick can run
	t.Reset(c.tuned.Heartbeat / 2)
}

// heartbeatTick is one look of the heartbeat timer; it re-arms itself
// until the connection ends.
func (c *Conn) heartbeatTick() {
	if !c.setUp.Load() || c.isDone() {
		return
	}
	if n := c.writes.Load(); n != c.hbWrites.Load() {
		c.hbWrites.Store(n)
	} else {
		if c.cfg.Trace != nil {
			c.traceFrame("->", wire.FrameHeartbeat, 0, 0)
		}
		if err := c.appendFrames(flushSync, (*wire.Encoder).Heartbeat); err != nil {
			return
		}
		c.hbWrites.Store(c.writes.Load())
	}
	if !c.isDone() {
		c.hbTimer.Load().Reset(c.tuned.Heartbeat / 2)
	}
}
