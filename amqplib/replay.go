package amqplib

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Restoring one channel on a new connection (the log's invariants are at
// the top of chan.go): openLink opens it with the same id, before the
// topology is declared again; restoreLog then replays its log in order.

// openLink opens the channel again on conn, with its callbacks; the new
// link is not yet current.
func (c *Chan) openLink(ctx context.Context, conn *Conn) (*link, error) {
	old := c.cur.Load()
	ch, err := conn.open(ctx, c.id, func(*Channel) any { return c })
	if err != nil {
		return nil, err
	}
	ch.copyHandlers(old.ch)
	l := &link{ch: ch, epoch: old.epoch + 1}
	ch.seqBase = l.epoch << tagShift
	l.prev.Store(old)
	// Earlier links answer WaitConfirm of their numbers; the oldest beyond
	// keptLinks are let go (their numbers' outcome is then unknown).
	p := old
	for i := 1; p != nil && i < keptLinks; i++ {
		p = p.prev.Load()
	}
	if p != nil {
		p.prev.Store(nil) // may still be read: atomic
	}
	return l, nil
}

// restoreLog replays the log on l's channel. A step the broker refuses
// with a channel error (a consumer whose queue is gone) is dropped from the
// log, reported to failed, and the channel opened again without it:
// recovery goes on. An exclusive consumer refused because the lost
// connection still holds its queue (403, 405) is tried again, for up to
// the connection's timeout. It returns the link to make current.
func (c *Chan) restoreLog(ctx context.Context, conn *Conn, l *link, failed func(*amqp.TopologyError)) (*link, error) {
	var lockedSince time.Time
	for {
		bad, err := c.replay(ctx, conn, l)
		if err == nil {
			return l, nil
		}
		var e *amqp.Error
		if bad == nil || !errors.As(err, &e) || e.Hard() || conn.isDone() {
			return nil, err
		}
		held := bad.kind == logConsume && bad.opts.Exclusive && (e.Code == amqp.AccessRefused || e.Code == amqp.ResourceLocked)
		if held && lockedSince.IsZero() {
			lockedSince = time.Now()
		}
		if held && time.Since(lockedSince) < conn.timeout {
			if err := pauseFor(ctx, 50*time.Millisecond); err != nil {
				return nil, err
			}
		} else {
			c.mu.Lock()
			c.log = slices.DeleteFunc(c.log, func(x logEntry) bool { return x.m == bad.m })
			c.mu.Unlock()
			te := &amqp.TopologyError{Kind: bad.m.Name(), Err: err}
			if bad.kind == logConsume {
				te.Kind, te.Name = "consumer", bad.opts.Tag
			}
			conn.logf("recovery: channel %d: %s %s could not be restored, and is dropped: %v", c.id, te.Kind, strconv.Quote(te.Name), err)
			if failed != nil {
				failed(te)
			}
		}
		if l, err = c.openLink(ctx, conn); err != nil {
			return nil, err
		}
	}
}

// replay replays the log on l's channel, sending copies of its methods; on
// failure it returns the entry that failed, once the broker has freed the
// channel's id.
func (c *Chan) replay(ctx context.Context, conn *Conn, l *link) (*logEntry, error) {
	old := c.cur.Load()
	ch := l.ch
	c.mu.Lock()
	log := slices.Clone(c.log)
	c.mu.Unlock()
	for i, e := range log {
		var err error
		m := cloneMethod(e.m)
		switch e.kind {
		case logCall:
			var reply wire.Method
			reply, err = ch.Call(ctx, m, e.reply)
			if err == nil && m.Name() == "access.request" {
				ticketAgain(ch, e, reply)
			}
		case logConfirm:
			err = ch.SelectConfirms(ctx, m, e.reply)
		case logConsume:
			if !old.ch.HasConsumer(e.opts.Tag) { // cancelled by the broker
				c.forget(e.opts.Tag)
				continue
			}
			setField(m, "Queue", e.queue)
			_, err = ch.StartConsumer(ctx, m, e.opts, e.reply, c.deliveries(l.epoch, e.fn))
		}
		if err != nil {
			if !ch.IsClosed() {
				_ = ch.Close(ctx, nil)
			}
			if werr := waitFreed(ctx, conn, ch); werr != nil { // the id is free again before the next open
				return nil, werr
			}
			return &log[i], err
		}
	}
	return nil, nil
}

// ticketAgain notes the ticket a replayed access.request got: when it
// differs from the one the program holds, the channel's later methods carry
// the new one (Channel.prepare).
func ticketAgain(ch *Channel, e logEntry, reply wire.Method) {
	f := field(reply, "Ticket")
	if !f.IsValid() || uint16(f.Uint()) == e.ticket {
		return
	}
	if ch.tickets == nil {
		ch.tickets = map[uint16]uint16{}
	}
	ch.tickets[e.ticket] = uint16(f.Uint())
}
