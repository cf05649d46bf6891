package amqplib

import (
	"context"
	"fmt"
	"slices"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// assembly is a message being received: its method, then a content header,
// then body frames until body-size bytes arrived. Only the reader touches it.
type assembly struct {
	id      wire.MethodID // the content method; 0 when none is in progress
	name    string
	d       *amqp.Delivery // deliver, get-ok
	r       *amqp.Return   // return
	props   *amqp.Properties
	header  bool
	body    []byte
	off     int
	size    uint64
	discard bool // the channel is closing (or the message is too large): read the content, then drop it
}

func (a *assembly) begin(ch *Channel, m wire.Method) error {
	*a = assembly{id: m.ID(), name: m.Name()}
	switch m := m.(type) {
	case wire.Delivering:
		a.d = &amqp.Delivery{}
		m.DeliveryInfo(a.d)
		a.props = &a.d.Properties
	case wire.Returning:
		a.r = &amqp.Return{}
		m.ReturnInfo(a.r)
		a.props = &a.r.Properties
	default:
		return &wire.FrameError{Code: amqp.CommandInvalid, Msg: fmt.Sprintf("%s: content method %s is not supported", ch.name, m.Name())}
	}
	return nil
}

// header decodes a content header into the message under assembly.
func (ch *Channel) header(payload []byte) error {
	a := &ch.asm
	if a.id == 0 || a.header {
		return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: ch.name + ": content header without a content method"}
	}
	d := wire.NewDecoder(payload)
	class, size := d.ContentHeader(a.props)
	if err := d.Finish(); err != nil {
		return &wire.FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("%s: bad content header: %v", ch.name, err)}
	}
	if class != a.id.Class() {
		return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("%s: content header for class %d after %s", ch.name, class, a.name)}
	}
	a.header, a.size = true, size
	switch {
	case a.discard:
	case size > uint64(ch.c.maxMsg):
		// Refused at once, not once its body has arrived (a hostile size
		// never does): the channel is given up, which fails a Get waiting
		// for this message; the body frames still coming are read and
		// dropped, and the broker requeues the message.
		ch.abandon(fmt.Errorf("%w: %s: a %d-byte message exceeds the limit of %d bytes (Config.MaxMessageSize)", amqp.ErrTooLarge, ch.name, size, ch.c.maxMsg))
		a.discard = true
	default:
		a.body = make([]byte, size)
	}
	if size == 0 {
		return ch.complete()
	}
	return nil
}

// readBody reads a body frame straight into the message's buffer, which was
// sized from the content header.
func (ch *Channel) readBody(size uint32) error {
	a := &ch.asm
	if !a.header {
		_, _ = ch.c.fr.ReadPayload()
		return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: ch.name + ": body frame before the content header"}
	}
	if uint64(a.off)+uint64(size) > a.size {
		_, _ = ch.c.fr.ReadPayload()
		return &wire.FrameError{Code: amqp.UnexpectedFrame, Msg: fmt.Sprintf("%s: body frames exceed the body size %d", ch.name, a.size)}
	}
	var err error
	if a.discard {
		_, err = ch.c.fr.ReadPayload()
	} else {
		err = ch.c.fr.Payload(a.body[a.off : a.off+int(size)])
	}
	if err != nil {
		return err
	}
	a.off += int(size)
	if uint64(a.off) == a.size {
		return ch.complete()
	}
	return nil
}

// complete hands a whole message on: get-ok to the waiting caller,
// deliveries and returns to the event queue.
func (ch *Channel) complete() error {
	a := ch.asm
	ch.asm = assembly{}
	if a.discard {
		return nil
	}
	switch {
	case a.d != nil:
		a.d.Body = a.body
		if a.id == ch.c.proto.Known.BasicGetOK {
			return ch.deliverReply(reply{id: a.id, d: a.d})
		}
		ch.push(event{kind: evDeliver, d: a.d})
	case a.r != nil:
		a.r.Body = a.body
		ch.push(event{kind: evReturn, r: a.r})
	}
	return nil
}

// smallBody is the size up to which a body is copied into the write buffer
// and left to the flusher; larger bodies are written from the caller's slice
// before PublishContent returns.
const smallBody = 64 << 10

// PublishContent writes a content method (basic.publish), its header and its
// body split into frames of at most frame_max-8 bytes, in order and without
// interleaving. Small messages are batched by the writer. In confirm mode it
// returns the message's sequence number.
func (ch *Channel) PublishContent(ctx context.Context, req wire.Method, msg *amqp.Message) (uint64, error) {
	return ch.publishContent(ctx, req, msg, flushAsync)
}

// PublishContentNow is PublishContent for a caller about to wait for the
// answer (a confirm): the frames are written before it returns, with no
// hand-off to the flusher goroutine.
func (ch *Channel) PublishContentNow(ctx context.Context, req wire.Method, msg *amqp.Message) (uint64, error) {
	return ch.publishContent(ctx, req, msg, flushSync)
}

// publishContent writes a publish; ctx and the timeouts bound only the
// waits before it (a blocked connection, a channel's flow off): once
// written, a publish is not taken back.
func (ch *Channel) publishContent(ctx context.Context, req wire.Method, msg *amqp.Message, mode int) (uint64, error) {
	if err := ch.usable(); err != nil {
		return 0, err
	}
	if ch.c.rewrite != nil {
		ch.prepare(req)
	}
	c := ch.c
	if err := c.waitUnblocked(ctx); err != nil {
		return 0, err
	}
	if err := ch.waitFlow(ctx); err != nil {
		return 0, err
	}
	max := int(c.tuned.FrameMax) - wire.FrameOverhead
	if c.tuned.FrameMax == 0 {
		max = 1 << 24
	}
	body := msg.Body
	var seq uint64
	frames := func(e *wire.Encoder) {
		e.MethodFrame(ch.id, req)
		hstart := e.BeginFrame(wire.FrameHeader, ch.id)
		e.ContentHeader(req.ID().Class(), uint64(len(body)), &msg.Properties)
		if len(e.Buf)-hstart > max && e.Err() == nil {
			e.Fail(amqperr.Invalid("message properties of %d bytes do not fit in one frame (frame_max %d)", len(e.Buf)-hstart, c.tuned.FrameMax))
		}
		e.EndFrame(hstart)
		if e.Err() != nil {
			return
		}
		if len(body) <= smallBody {
			for off := 0; off < len(body); off += max {
				s := e.BeginFrame(wire.FrameBody, ch.id)
				e.Buf = append(e.Buf, body[off:min(off+max, len(body))]...)
				e.EndFrame(s)
			}
		} else {
			ch.bodyVectors(body, max)
		}
		seq = ch.nextSeq()
	}
	if c.cfg.Trace != nil {
		c.tracePublish(ch.id, req, len(body))
	}
	var err error
	if len(body) <= smallBody {
		err = c.appendFrames(mode, frames)
	} else {
		err = c.writeLarge(frames)
	}
	if err != nil {
		return 0, ch.sendFailed(err)
	}
	return seq, nil
}

// bodyVectors lays out a large body as write vectors pointing into the
// caller's slice, with the frame headers and end octets in the encoder. The
// first vector also carries every frame pending before it.
func (ch *Channel) bodyVectors(body []byte, max int) {
	c := ch.c
	e := &c.enc
	n := (len(body) + max - 1) / max
	e.Buf = slices.Grow(e.Buf, n*wire.FrameOverhead)
	mark := 0
	for off := 0; off < len(body); off += max {
		chunk := body[off:min(off+max, len(body))]
		if off > 0 {
			e.Buf = append(e.Buf, wire.FrameEnd)
		}
		e.Buf = append(e.Buf, wire.FrameBody, byte(ch.id>>8), byte(ch.id),
			byte(len(chunk)>>24), byte(len(chunk)>>16), byte(len(chunk)>>8), byte(len(chunk)))
		c.bufs = append(c.bufs, e.Buf[mark:len(e.Buf):len(e.Buf)], chunk)
		mark = len(e.Buf)
	}
	e.Buf = append(e.Buf, wire.FrameEnd)
	c.bufs = append(c.bufs, e.Buf[mark:])
}

// GetMessage sends basic.get and returns the message, or ok=false when the queue
// was empty.
func (ch *Channel) GetMessage(ctx context.Context, req wire.Method) (d *amqp.Delivery, ok bool, err error) {
	k := &ch.c.proto.Known
	r, err := ch.call(ctx, req, []wire.MethodID{k.BasicGetOK, k.BasicGetEmpty})
	if err != nil || r.id == k.BasicGetEmpty {
		return nil, false, err
	}
	return r.d, true, nil
}
