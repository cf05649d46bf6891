package amqplib

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

const (
	chOpen = iota
	chClosing
	chClosed
)

// Channel is one AMQP channel. RPCs are serialised: a second concurrent RPC
// gets an error instead of corrupting the exchange. Events (deliveries,
// returns, confirms, cancels) queue up until Wait dispatches them.
type Channel struct {
	c    *Conn
	id   uint16
	name string

	tickets map[uint16]uint16 // 0-8, after a recovery: ticket the program holds → this connection's (set before the channel is current)
	seqBase uint64            // added to sequence numbers the program sees (the epoch; confirms.go)
	seqMap  map[uint64]uint64 // a republished message's number → the program's (confirms.go)

	followed  atomic.Bool         // following is not all zero; read without the turn's lock
	following [followKinds]int    // followers registered per kind (guarded by c.turn.mu)
	servings  [followKinds]uint64 // bumped when serve clears a kind (guarded by c.turn.mu)

	rpc       sync.Mutex
	expecting atomic.Bool // a call waits for a reply (unsolicited.go)
	reply     chan reply
	rpcTimer  *time.Timer // reused by every RPC; guarded by rpc

	waiting sync.Mutex // held by the one Wait in progress (events.go)

	mu           sync.Mutex // guards state, reason, the event queue, the handlers and confirms
	state        int
	closeSent    bool // our channel.close is out: the id waits for its close-ok (guarded by c.wmu)
	brokerClosed bool // the broker's channel.close was routed (guarded by c.wmu)
	reason       error
	done         chan struct{} // closed once the channel is unusable (closing or closed)
	doneOnce     sync.Once
	freed        chan struct{} // closed once the id is free for reuse
	queue        eventQueue
	conf         confirms      // confirms.go
	txOn         bool          // tx.select-ok arrived
	flowOff      chan struct{} // non-nil while the broker has the flow off; closed when it is back
	paused       atomic.Bool   // flowOff != nil, read without the lock by publishes

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
		return nil, amqperr.Invalid("channel id %d out of range 1..%d", id, max)
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
		return nil, amqperr.Invalid("channel %d is in use (open, or closing until the broker's close-ok)", id)
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

// settle waits, bounded by the timeout, for the connection to finish
// shutting down when err says it failed (a caller can see the failure a
// moment before the shutdown is complete).
func (c *Conn) settle(err error) {
	var ne net.Error
	if c.isDone() || !(errors.As(err, &ne) || errors.Is(err, io.EOF)) {
		return
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
}

// lostWithConn reports whether the channel ended only because its
// connection did (not by a channel error, a give-up or Close).
func (ch *Channel) lostWithConn() bool {
	if !ch.c.isDone() {
		return false
	}
	connErr := ch.c.Err()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.state == chOpen { // the shutdown closes it in a moment
		return true
	}
	if ch.state != chClosed {
		return false
	}
	var ne net.Error
	r := ch.reason
	return r == nil || r == connErr || errors.As(r, &ne) || errors.Is(r, io.EOF)
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

// isDone reports whether the channel is closing or closed (done is closed).
func (ch *Channel) isDone() bool {
	select {
	case <-ch.done:
		return true
	default:
		return false
	}
}

// prepare adjusts a method about to be sent on a recovering session's
// connection: renamed queues (topology.rewrite) and 0-8 tickets.
func (ch *Channel) prepare(req wire.Method) {
	if rw := ch.c.rewrite; rw != nil {
		rw(req)
	}
	if ch.tickets != nil {
		if f := field(req, "Ticket"); f.IsValid() && f.Kind() == reflect.Uint16 {
			if t, ok := ch.tickets[uint16(f.Uint())]; ok {
				f.SetUint(uint64(t))
			}
		}
	}
}
