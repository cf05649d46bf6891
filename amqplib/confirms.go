package amqplib

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Publisher confirms.
//
// Invariants (this file owns them):
//
//   - A confirm is resolved where its frame is routed, by whoever holds the
//     read turn (Channel.confirm), never by whoever dispatches events. A
//     confirm wait therefore depends on nobody dispatching, and no goroutine
//     can take another's confirm away.
//   - Confirm waits (WaitConfirm, WaitConfirms, PublishConfirmed) never run
//     callbacks. OnConfirm callbacks are queued as events, one per run of
//     sequence numbers resolved together, and run inside Wait.
//   - The state below is guarded by Channel.mu. Every resolution serves the
//     channel's confirm followers (turn.go) and then closes and replaces
//     signal, so a waiter that captured signal before checking its condition
//     never misses a resolution.
//   - Memory is bounded by outstanding work: ahead holds only resolved
//     numbers above low (at most the unconfirmed publishes), and outcomes are
//     kept for the last confirmWindow numbers in two fixed bitmaps allocated
//     at the first nack.
//   - A nack is reported once to the waits: WaitConfirm (and so
//     PublishConfirmed) of a nacked number takes it out of the count that
//     WaitConfirms reports; WaitConfirm of the same number still reports the
//     nack, since that is its outcome.

//   - With recovery on, the numbers the program sees carry the epoch
//     (seqBase), and a message published again after a recovery keeps the
//     number it had (seqMap); both are set before the channel is current.

// confirmWindow is how many of the latest sequence numbers keep their
// outcome for WaitConfirm (a power of two).
const confirmWindow = 1 << 16

// confirms is a channel's confirm-mode bookkeeping.
type confirms struct {
	on     bool
	next   uint64              // last sequence number given out
	low    uint64              // every seq < low is resolved
	ahead  map[uint64]struct{} // resolved seqs above low (out of order)
	nacked []uint64            // bitmap over the window: seq was nacked
	unrep  []uint64            // bitmap over the window: nacked, not yet reported by WaitConfirm
	nacks  int                 // nacks not yet reported, for WaitConfirms
	signal chan struct{}       // closed and replaced at every resolution
}

func bit(seq uint64) (word int, mask uint64) {
	i := seq & (confirmWindow - 1)
	return int(i / 64), 1 << (i % 64)
}

// inWindow reports whether seq's outcome is still kept.
func (cf *confirms) inWindow(seq uint64) bool { return seq+confirmWindow > cf.next }

// isResolved reports whether the broker confirmed seq.
func (cf *confirms) isResolved(seq uint64) bool {
	if seq < cf.low {
		return true
	}
	_, ok := cf.ahead[seq]
	return ok
}

// isNacked reports whether seq (resolved, in the window) was nacked.
func (cf *confirms) isNacked(seq uint64) bool {
	if cf.nacked == nil {
		return false
	}
	w, m := bit(seq)
	return cf.nacked[w]&m != 0
}

// SelectConfirms puts the channel in confirm mode with req
// (confirm.select), waiting for reply unless it already is. A channel in
// tx mode is refused before sending (the broker would close it with 406).
func (ch *Channel) SelectConfirms(ctx context.Context, req wire.Method, reply wire.MethodID) error {
	ch.mu.Lock()
	on, tx := ch.conf.on, ch.txOn
	ch.mu.Unlock()
	switch {
	case on:
		return nil
	case tx:
		return fmt.Errorf("%w: %s is in tx mode: a channel cannot also be in confirm mode (the broker would close it with 406)", amqp.ErrInvalidArgument, ch.name)
	}
	// Numbering starts with the publishes written after confirm.select,
	// as the broker's does, whichever goroutine publishes them.
	_, err := ch.callThen(ctx, req, []wire.MethodID{reply}, func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if !ch.conf.on {
			ch.conf = confirms{on: true, low: 1, ahead: map[uint64]struct{}{}, signal: make(chan struct{})}
		}
	})
	return err
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

// nextSeq numbers a publish in confirm mode (under wmu, so numbers follow
// the order on the wire). The window slot it takes over is cleared; a nack
// still unreported there stays counted for WaitConfirms.
func (ch *Channel) nextSeq() uint64 {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	cf := &ch.conf
	if !cf.on {
		return 0
	}
	cf.next++
	if cf.nacked != nil {
		w, m := bit(cf.next)
		cf.nacked[w] &^= m
		cf.unrep[w] &^= m
	}
	return cf.next
}

// confirm applies a basic.ack or basic.nack as it is routed (the turn's
// holder). Sequence numbers never published or already resolved are
// ignored, so a duplicate changes nothing.
func (ch *Channel) confirm(tag uint64, multiple, ack bool) {
	ch.serve(followConfirm)
	ch.mu.Lock()
	cf := &ch.conf
	if !cf.on {
		ch.mu.Unlock()
		return
	}
	from := tag
	if multiple {
		from = cf.low
	}
	tag = min(tag, cf.next)
	notify := ch.onConfirm != nil
	var runFrom uint64 // start of the current run of newly resolved seqs (0: none)
	for s := max(from, cf.low); s <= tag; s++ {
		if _, seen := cf.ahead[s]; seen {
			if runFrom != 0 && notify {
				ch.queueEvent(event{kind: evConfirm, tag: runFrom, last: s - 1, ack: ack})
			}
			runFrom = 0
			continue
		}
		if runFrom == 0 {
			runFrom = s
		}
		if !ack {
			cf.nacks++
			if cf.inWindow(s) {
				if cf.nacked == nil {
					cf.nacked, cf.unrep = make([]uint64, confirmWindow/64), make([]uint64, confirmWindow/64)
				}
				w, m := bit(s)
				cf.nacked[w] |= m
				cf.unrep[w] |= m
			}
		}
		if s == cf.low {
			cf.low++
		} else {
			cf.ahead[s] = struct{}{}
		}
	}
	if runFrom != 0 && notify {
		ch.queueEvent(event{kind: evConfirm, tag: runFrom, last: tag, ack: ack})
	}
	for {
		if _, ok := cf.ahead[cf.low]; !ok {
			break
		}
		delete(cf.ahead, cf.low)
		cf.low++
	}
	close(cf.signal)
	cf.signal = make(chan struct{})
	ch.mu.Unlock()
	ch.queue.wake()
}

// WaitConfirm waits until the broker confirmed message seq: nil for an ack,
// an error matching amqp.ErrNacked for a nack. It runs no callbacks and is
// bounded by the connection timeout and ctx.
func (ch *Channel) WaitConfirm(ctx context.Context, seq uint64) error {
	ch.mu.Lock()
	on, next := ch.conf.on, ch.conf.next
	ch.mu.Unlock()
	if !on {
		return fmt.Errorf("%w: %s is not in confirm mode (call ConfirmSelect first)", amqp.ErrInvalidArgument, ch.name)
	}
	if seq == 0 || seq > next {
		return amqperr.Invalid("no message with sequence number %d was published on %s", seq, ch.name)
	}
	return ch.waitConfirms(ctx, "confirm of message "+fmt.Sprint(seq), func(cf *confirms) (bool, error) {
		if !cf.isResolved(seq) {
			return false, nil
		}
		if !cf.inWindow(seq) {
			return true, amqperr.Invalid("the outcome of message %d on %s is no longer known: over %d messages were published since", seq, ch.name, confirmWindow)
		}
		if !cf.isNacked(seq) {
			return true, nil
		}
		if w, m := bit(seq); cf.unrep[w]&m != 0 {
			cf.unrep[w] &^= m
			cf.nacks--
		}
		return true, fmt.Errorf("%w: message %d on %s", amqp.ErrNacked, seq, ch.name)
	})
}

// WaitConfirms waits until every message published so far is confirmed. It
// returns an error matching amqp.ErrNacked if any message was nacked that
// no earlier wait reported. It runs no callbacks and is bounded by the
// connection timeout and ctx.
func (ch *Channel) WaitConfirms(ctx context.Context) error {
	ch.mu.Lock()
	on, target := ch.conf.on, ch.conf.next
	ch.mu.Unlock()
	if !on {
		return fmt.Errorf("%w: %s is not in confirm mode (call ConfirmSelect first)", amqp.ErrInvalidArgument, ch.name)
	}
	return ch.waitConfirms(ctx, "confirms", func(cf *confirms) (bool, error) {
		if cf.low <= target {
			return false, nil
		}
		n := cf.nacks
		if n == 0 {
			return true, nil
		}
		cf.nacks = 0
		clear(cf.unrep)
		return true, fmt.Errorf("%w: %d message(s) on %s", amqp.ErrNacked, n, ch.name)
	})
}

// waitConfirms waits until cond, checked under ch.mu, holds; bounded by the
// connection timeout and ctx. It reads frames itself when nobody else does
// (turn.go) and dispatches nothing.
func (ch *Channel) waitConfirms(ctx context.Context, what string, cond func(*confirms) (bool, error)) error {
	// What we wait for answers frames still pending: write them now rather
	// than wait for the flusher goroutine to wake.
	ch.c.flushPending()
	deadline := time.Now().Add(ch.c.timeout)
	timeout := func() error {
		return fmt.Errorf("%w: %s: no %s within %s", amqp.ErrTimeout, ch.name, what, ch.c.timeout)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ch.mu.Lock()
		sig := ch.conf.signal
		ok, err := cond(&ch.conf)
		ch.mu.Unlock()
		switch {
		case ok:
			return err
		case ch.isDone():
			return ch.failure()
		case ctx.Err() != nil:
			return ctxError(ctx, ch.name+": waiting for "+what)
		case !time.Now().Before(deadline):
			return timeout()
		}
		ready := func() bool {
			select {
			case <-sig:
				return true
			default:
				return ch.isDone() || ctx.Err() != nil
			}
		}
		led, gen, err := ch.leadFor(ctx, followConfirm, ready, deadline)
		if led {
			if errors.Is(err, errLeadTimeout) {
				return timeout()
			}
			continue // a resolution, a close, a failure or ctx: the loop looks
		}
		if timer == nil {
			timer = time.NewTimer(time.Until(deadline))
		}
		select {
		case <-sig:
		case <-ch.done:
		case <-ctx.Done():
		case <-timer.C:
		}
		ch.c.unfollow(ch, followConfirm, gen)
	}
}

// programSeq maps one of this channel's sequence numbers to the program's.
func (ch *Channel) programSeq(seq uint64) uint64 {
	if orig, ok := ch.seqMap[seq]; ok {
		return orig
	}
	return seq + ch.seqBase
}

// unresolved returns the sequence numbers the broker has not confirmed (a
// lost connection's, once it is gone).
func (ch *Channel) unresolved() []uint64 {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	cf := &ch.conf
	if !cf.on {
		return nil
	}
	var out []uint64
	for s := cf.low; s <= cf.next; s++ {
		if _, ok := cf.ahead[s]; !ok && s > 0 {
			out = append(out, s)
		}
	}
	return out
}

// takeOutcome returns, for a lost connection's channel, how many numbers
// it left unresolved (not counting those published again, in moved) and
// how many nacks no wait reported; the nacks count as reported.
func (ch *Channel) takeOutcome(moved map[uint64]uint64) (lost, nacks int) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	cf := &ch.conf
	if !cf.on {
		return 0, 0
	}
	for s := cf.low; s <= cf.next; s++ {
		if _, ok := cf.ahead[s]; ok {
			continue
		}
		if _, ok := moved[s]; !ok {
			lost++
		}
	}
	nacks, cf.nacks = cf.nacks, 0
	clear(cf.unrep)
	return lost, nacks
}

// confirmedBelow returns the number below which every publish is resolved.
func (ch *Channel) confirmedBelow() uint64 {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.conf.low
}

// queueLost queues an OnConfirm report for each of the program's numbers a
// lost connection left unconfirmed (nothing without a callback).
func (ch *Channel) queueLost(seqs []uint64) {
	ch.mu.Lock()
	if ch.onConfirm == nil || len(seqs) == 0 {
		ch.mu.Unlock()
		return
	}
	for _, s := range seqs {
		ch.queueEvent(event{kind: evConfirm, tag: s, last: s, lost: true})
	}
	ch.mu.Unlock()
	ch.queue.wake()
}
