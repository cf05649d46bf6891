package amqplib

import (
	"context"
	"errors"
	"slices"
	"strconv"

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
	l.prev.Store(old)
	if old.told.Load() { // old's own predecessors were reported: drop them
		old.prev.Store(nil) // old may still be read: atomic
	}
	return l, nil
}

// restoreLog replays the log on l's channel. A step the broker refuses
// with a channel error (a consumer whose queue is gone) is dropped from the
// log, reported to failed, and the channel opened again without it:
// recovery goes on. It returns the link to make current.
func (c *Chan) restoreLog(ctx context.Context, conn *Conn, l *link, failed func(*amqp.TopologyError)) (*link, error) {
	for {
		bad, err := c.replay(ctx, conn, l)
		if err == nil {
			return l, nil
		}
		var e *amqp.Error
		if bad == nil || !errors.As(err, &e) || e.Hard() || conn.isDone() {
			return nil, err
		}
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
		if l, err = c.openLink(ctx, conn); err != nil {
			return nil, err
		}
	}
}

// replay replays the log on l's channel; on failure it returns the entry
// that failed, once the broker has freed the channel's id.
func (c *Chan) replay(ctx context.Context, conn *Conn, l *link) (*logEntry, error) {
	old := c.cur.Load()
	ch := l.ch
	c.mu.Lock()
	log := slices.Clone(c.log)
	c.mu.Unlock()
	for i, e := range log {
		var err error
		switch e.kind {
		case logCall:
			var m wire.Method
			m, err = ch.Call(ctx, e.m, e.reply)
			if err == nil && e.m.Name() == "access.request" {
				c.ticketAgain(e, m)
			}
		case logConfirm:
			err = ch.SelectConfirms(ctx, e.m, e.reply)
		case logConsume:
			if !old.ch.HasConsumer(e.opts.Tag) { // cancelled by the broker
				c.forget(e.opts.Tag)
				continue
			}
			_, err = ch.StartConsumer(ctx, e.m, e.opts, e.reply, c.deliveries(l.epoch, e.fn))
		}
		if err != nil {
			if !ch.IsClosed() {
				_ = ch.Close(ctx, nil)
			}
			select { // the id is free again before the next open
			case <-ch.freed:
			case <-conn.done:
			}
			return &log[i], err
		}
	}
	return nil, nil
}

// ticketAgain notes the ticket a replayed access.request got: when it
// differs from the one the program holds, later methods carry the new one
// (topology.rewrite).
func (c *Chan) ticketAgain(e logEntry, reply wire.Method) {
	if f := field(reply, "Ticket"); f.IsValid() && uint16(f.Uint()) != e.ticket {
		c.s.topo.ticketChanged(e.ticket, uint16(f.Uint()))
	}
}
