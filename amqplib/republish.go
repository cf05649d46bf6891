package amqplib

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Streaming confirms across recoveries.
//
// Invariants (this file owns them; the numbering is in chan.go):
//
//   - Every number a publish got ends acked, nacked, or lost, and is
//     reported once to each kind of wait. When a connection is lost, its
//     unconfirmed numbers are, before the restored channel becomes current,
//     either queued as lost confirmations for OnConfirm (and reported lost
//     by the next WaitConfirms, and by WaitConfirm of each), or, with
//     Recovery.RepublishUnconfirmed, published again on the restored
//     channel in order, keeping their numbers (the engine's seqMap, and
//     the old link's moved for WaitConfirm).
//   - With RepublishUnconfirmed a link keeps a copy of each Publish until
//     the broker resolved it: kept is in increasing order and pruned below
//     the lowest unresolved number at each publish, so it holds at most the
//     unconfirmed messages. PublishConfirmed publishes again by itself and
//     keeps nothing.
//   - A confirm wait whose connection is lost waits for the recovery and
//     then answers from the old link (or follows a republished number).

// keptLinks is how many lost connections' channels a channel keeps for
// WaitConfirm of their numbers.
const keptLinks = 64

// keptPub is a copy of an unconfirmed publish.
type keptPub struct {
	seq uint64
	req wire.Method
	msg amqp.Message
}

// republishes reports whether unconfirmed publishes are published again.
func (c *Chan) republishes() bool { return c.recovers() && c.s.rec.RepublishUnconfirmed }

// publishKept runs publish on l and, with RepublishUnconfirmed, keeps a
// copy of the message under the number it got, both under l.pmu, so a
// recovery's resend sees every number l gave out with its copy.
func (c *Chan) publishKept(l *link, req wire.Method, msg *amqp.Message, publish func() (uint64, error)) (uint64, error) {
	if !c.republishes() {
		return publish()
	}
	l.pmu.Lock()
	defer l.pmu.Unlock()
	seq, err := publish()
	if err != nil || seq == 0 {
		return seq, err
	}
	k := keptPub{seq: seq, req: cloneMethod(req), msg: *msg}
	k.msg.Body = slices.Clone(msg.Body)
	if msg.Headers != nil {
		k.msg.Headers = copyTable(msg.Headers)
	}
	l.keepLocked(k)
	return seq, nil
}

// keepLocked adds k to l.kept (l.pmu held), dropping what is resolved.
func (l *link) keepLocked(k keptPub) {
	low := l.ch.confirmedBelow()
	i := 0
	for i < len(l.kept) && l.kept[i].seq < low {
		i++
	}
	l.kept = append(l.kept[i:], k)
}

// resend deals with what old, a lost connection's channel, left
// unconfirmed, on l (restored, not yet current): it publishes the kept
// copies again, or queues their loss for OnConfirm.
func (c *Chan) resend(ctx context.Context, old, l *link) error {
	lost := old.ch.unresolved()
	if len(lost) == 0 {
		return nil
	}
	if !c.republishes() || !l.ch.Confirming() {
		tags := make([]uint64, len(lost))
		for i, n := range lost {
			tags[i] = old.ch.programSeq(n)
		}
		l.ch.queueLost(tags)
		return nil
	}
	old.pmu.Lock()
	kept := slices.Clone(old.kept)
	old.pmu.Unlock()
	l.pmu.Lock()
	defer l.pmu.Unlock()
	moved := map[uint64]uint64{}
	for _, n := range lost {
		i, found := slices.BinarySearchFunc(kept, n, func(k keptPub, n uint64) int { return int(k.seq) - int(n) })
		if !found { // PublishConfirmed's: it publishes again by itself
			continue
		}
		k := kept[i]
		seq, err := l.ch.PublishContent(ctx, cloneMethod(k.req), &k.msg)
		if err != nil {
			return err
		}
		if l.ch.seqMap == nil {
			l.ch.seqMap = map[uint64]uint64{}
		}
		l.ch.seqMap[seq] = old.ch.programSeq(n)
		moved[n] = seq + l.epoch<<tagShift
		k.seq = seq
		l.keepLocked(k)
	}
	old.pmu.Lock()
	old.moved = moved // old.kept stays until the attempt succeeded (a failed one resends again)
	old.pmu.Unlock()
	return nil
}

// PublishSeq returns the sequence number of the last publish; with
// recovery on it carries the epoch (as delivery tags do), so numbers keep
// increasing across recoveries.
func (c *Chan) PublishSeq() uint64 {
	l := c.cur.Load()
	if !c.recovers() || l.epoch == 0 {
		return l.ch.PublishSeq()
	}
	return l.ch.PublishSeq() + l.epoch<<tagShift
}

// WaitConfirm waits for the confirm of one sequence number. A number from
// before a recovery is answered from that connection's confirms: an
// unconfirmed one returns an error matching ErrClosed (the message may or
// may not be in its queue), unless it was published again
// (RepublishUnconfirmed): then its new confirm is waited for.
func (c *Chan) WaitConfirm(ctx context.Context, seq uint64) error {
	if !c.recovers() {
		return c.Engine().WaitConfirm(ctx, seq)
	}
	for {
		l := c.cur.Load()
		err, lostConn := c.waitConfirmFrom(ctx, l, seq)
		if !lostConn {
			return err
		}
		if werr := c.s.await(ctx, l.ch.c, 0); werr != nil {
			return werr
		}
		if c.cur.Load() == l {
			return err
		}
	}
}

// waitConfirmFrom answers WaitConfirm(seq) with l current; lostConn says
// that l's connection was lost meanwhile (ask again once recovered).
func (c *Chan) waitConfirmFrom(ctx context.Context, l *link, seq uint64) (err error, lostConn bool) {
	for {
		epoch, n := seq>>tagShift, seq&(1<<tagShift-1)
		if epoch == l.epoch {
			err := l.ch.WaitConfirm(ctx, n)
			if err != nil && !errors.Is(err, amqp.ErrNacked) {
				l.ch.c.settle(err)
				if l.ch.lostWithConn() {
					return err, true
				}
			}
			return err, false
		}
		p := l.prev.Load()
		for p != nil && p.epoch != epoch {
			p = p.prev.Load()
		}
		if p == nil {
			return lostConfirm(amqp.ErrClosed), false
		}
		p.pmu.Lock()
		next, ok := p.moved[n]
		p.pmu.Unlock()
		if !ok {
			return lostConfirm(p.ch.WaitConfirm(ctx, n)), false
		}
		seq = next // published again: its confirm is the one to wait for
	}
}

// WaitConfirms waits until every publish so far is confirmed. After a
// recovery, the first call reports publishes the old connection left
// unconfirmed with an error (they are not counted as confirmed), unless
// they were published again.
func (c *Chan) WaitConfirms(ctx context.Context) error {
	if !c.recovers() {
		return c.Engine().WaitConfirms(ctx)
	}
	for {
		l := c.cur.Load()
		if l.told.CompareAndSwap(false, true) {
			// Once: what the earlier connections left (each link's
			// losses are reported by its successor).
			lost, nacks := 0, 0
			for p := l.prev.Load(); p != nil; p = p.prev.Load() {
				p.pmu.Lock()
				moved := p.moved
				p.pmu.Unlock()
				lo, na := p.ch.takeOutcome(moved)
				lost, nacks = lost+lo, nacks+na
				if p.told.Load() {
					break
				}
			}
			if lost > 0 {
				return lostConfirm(fmt.Errorf("%d publishes", lost))
			}
			if nacks > 0 {
				return fmt.Errorf("%w: %d message(s) before the connection was lost", amqp.ErrNacked, nacks)
			}
		}
		err := l.ch.WaitConfirms(ctx)
		if err == nil || errors.Is(err, amqp.ErrNacked) {
			return err
		}
		l.ch.c.settle(err)
		if !l.ch.lostWithConn() {
			return err
		}
		if werr := c.s.await(ctx, l.ch.c, 0); werr != nil {
			return werr
		}
		if c.cur.Load() == l {
			return err
		}
	}
}

// lostConfirm says that a confirm went with a lost connection.
func lostConfirm(err error) error {
	if err == nil || errors.Is(err, amqp.ErrNacked) {
		return err
	}
	return fmt.Errorf("%w: publishes were not confirmed before the connection was lost (they may or may not have reached their queues): %w", amqp.ErrClosed, err)
}
