package amqplib

import (
	"fmt"
	"log/slog"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Routing: where each frame goes.
//
// Invariants (this file owns them):
//
//   - Only the read turn's holder routes (turn.go): readFrame runs on one
//     goroutine at a time, so the reader's state (the frame reader, the
//     decoder, each channel's content assembly) needs no lock.
//   - Routing never blocks and never runs user code: replies go to a
//     one-slot mailbox (rpc.go), events to an unbounded queue (events.go),
//     confirms are resolved in place (confirms.go), and the router's own
//     answers (close-ok, flow-ok) are queued for the flusher (writer.go).
//   - Channel 0 carries the connection's methods. A frame for a channel this
//     connection never opened is a 504 connection error; one for a channel
//     it opened and closed is dropped.
//   - A method on a channel goes, in this order: close and close-ok
//     (closing.go); content methods to assembly (content.go); while the
//     channel closes, everything else is dropped; events; methods nobody
//     asked for (unsolicited.go); else the reply a call waits for (rpc.go),
//     or a connection error naming it.
//   - A frame that breaks the protocol ends the connection with a
//     FrameError, whose code goes out in connection.close.

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
		c.log(slog.LevelDebug, "dropped %s for channel %d, which is closed", what, chID)
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
		_ = c.sendFinal(c.proto.NewMethod(k.ConnectionCloseOK))
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
	case k.ConnectionUpdateSecretOK:
		return c.secretAnswered()
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
		e := m.(wire.Exception).Exception()
		// Whether our own close is out (crossed) is decided under the
		// writer's lock, in order with it (Channel.sendClose).
		var crossed bool
		okm := ch.c.proto.NewMethod(k.ChannelCloseOK)
		_ = ch.c.appendFrames(flushQueued, func(enc *wire.Encoder) {
			ch.brokerClosed, crossed = true, ch.closeSent
			enc.MethodFrame(ch.id, okm)
		})
		if ch.c.cfg.Trace != nil {
			ch.c.traceMethod("->", ch.id, okm)
		}
		ch.mu.Lock()
		if ch.state != chClosed {
			ch.state = chClosed
			if ch.reason == nil {
				ch.reason = e
			}
		}
		ch.mu.Unlock()
		ch.closed(e, !crossed)
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
