package amqplib

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Connection states reported by Conn.State.
const (
	StateOpen    = "open"
	StateClosing = "closing"
	StateClosed  = "closed"
)

// Tuned holds what the handshake negotiated and learnt about the broker.
type Tuned struct {
	ChannelMax       uint16
	FrameMax         uint32
	Heartbeat        time.Duration
	ServerProperties amqp.Table
	VersionMajor     uint8
	VersionMinor     uint8
	Mechanism        string
	Locale           string
}

// Conn is one AMQP connection: the socket, the writer, the shared reader and
// the open channels. It is safe for use by several goroutines.
type Conn struct {
	proto   *Protocol
	cfg     amqp.Config
	timeout time.Duration
	nc      net.Conn
	fr      *wire.FrameReader
	tuned   Tuned
	maxMsg  int
	// the reader's own state
	intern  wire.Interner
	dec     wire.Decoder // interns through intern
	scratch map[wire.MethodID]wire.Method
	armed   time.Time // when bytes last arrived (noted at most every heartbeat/4)
	curDL   time.Time // the read deadline set on the socket
	soft    time.Time // a leading caller's own deadline (zero: none)
	started bool      // the handshake is over: the reader sets the deadlines
	turn    turn      // who reads (turn.go)

	interrupted atomic.Bool // a leader must re-check its condition (turn.go)

	reads  atomic.Uint64 // socket reads that returned bytes, after the handshake
	silent atomic.Uint64 // reads+1 when an RPC timed out with nothing read meanwhile (0: never)

	wmu      sync.Mutex // guards the writer state below (see writer.go)
	wcond    *sync.Cond // signalled when a write ends
	enc      wire.Encoder
	spare    []byte
	bufs     [][]byte // write vectors of a large body, during its write
	flushing bool     // a goroutine is writing to the socket
	kicked   bool     // the flusher has been asked to write
	werr     error    // the write error that ended the connection
	kick     chan struct{}
	writes   atomic.Uint64 // bumped on every write, read by the heartbeat sender

	byID sync.Mutex // serialises ChannelByID, so one id is opened once

	mu       sync.Mutex // guards the fields below
	chans    []atomic.Pointer[Channel]
	lastID   uint16
	everUsed []uint64 // bitmap of the channel ids allocated at least once
	closing  bool
	closeErr error // why the connection closed (nil after a clean Close)
	blocked  string
	unblock  chan struct{} // closed when the broker unblocks (nil while unblocked)

	done      chan struct{} // closed when the connection is gone
	closeOK   chan struct{} // closed when connection.close-ok arrived
	readerEnd chan struct{} // closed when the reader goroutine returned (or, never started, at shutdown)

	readerState atomic.Int32               // readerIdle, readerRunning, readerNever (reader.go)
	setUp       atomic.Bool                // start is over: timer callbacks load it first (reader.go)
	readerStart atomic.Pointer[time.Timer] // starts the background reader after idleRead
	hbTimer     atomic.Pointer[time.Timer] // the heartbeat timer (nil: heartbeats off)
	hbWrites    atomic.Uint64              // writes seen at the heartbeat timer's last look
	flusherOn   bool                       // the flusher goroutine runs (guarded by wmu)
	shutOnce    sync.Once
	events      hookQueue
}

// String describes the connection without its internals (and so without
// any secret): "AMQP 0-9-1 connection to 127.0.0.1:5672 (open)".
func (c *Conn) String() string {
	return fmt.Sprintf("AMQP %s connection to %s (%s)", c.proto.Name, c.nc.RemoteAddr(), c.State())
}

// GoString is String: %#v shows no internals either.
func (c *Conn) GoString() string { return c.String() }

// Protocol returns the dialect descriptor.
func (c *Conn) Protocol() *Protocol { return c.proto }

// Tuned returns the negotiated limits and the broker's properties.
func (c *Conn) Tuned() Tuned { return c.tuned }

// Timeout returns the bound on blocking calls.
func (c *Conn) Timeout() time.Duration { return c.timeout }

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// State returns "open", "closing" or "closed".
func (c *Conn) State() string {
	select {
	case <-c.done:
		return StateClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return StateClosing
	}
	return StateOpen
}

// logf writes a diagnostic line through Config.Logf, if set.
func (c *Conn) logf(format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf("amqp: "+format, args...)
	}
}

// Err returns why the connection closed: nil while open or after Close.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Blocked returns the broker's reason while it blocks publishers, else "".
func (c *Conn) Blocked() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

// waitUnblocked waits, up to Config.BlockedTimeout when it is set, while
// the broker blocks the connection.
func (c *Conn) waitUnblocked(ctx context.Context) error {
	if c.cfg.BlockedTimeout <= 0 {
		return nil
	}
	c.mu.Lock()
	unblock, reason := c.unblock, c.blocked
	c.mu.Unlock()
	if unblock == nil {
		return nil
	}
	defer c.needReader()()
	t := time.NewTimer(c.cfg.BlockedTimeout)
	defer t.Stop()
	select {
	case <-unblock:
		return nil
	case <-c.done:
		return c.closedError()
	case <-t.C:
		return fmt.Errorf("%w: the broker has blocked publishing for over %s (%s)", amqp.ErrTimeout, c.cfg.BlockedTimeout, reason)
	case <-ctx.Done():
		return ctxError(ctx, "waiting while the broker blocks publishing ("+reason+")")
	}
}

// unresponsive reports whether an RPC timed out without a byte from the
// broker, and nothing has arrived since: then a close handshake would only
// wait for another timeout, so Close does not wait for its close-ok.
func (c *Conn) unresponsive() bool {
	s := c.silent.Load()
	return s != 0 && c.reads.Load() == s-1
}

// ctxError is the error for a wait that ctx ended, what naming the wait: it
// matches ctx's cause (context.Canceled, context.DeadlineExceeded) and,
// for a deadline, amqp.ErrTimeout too; a cancellation is never a timeout.
func ctxError(ctx context.Context, what string) error {
	cause := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", amqp.ErrTimeout, what, cause)
	}
	return fmt.Errorf("amqp: %s: %w", what, cause)
}

// closedError describes the closed connection for callers.
func (c *Conn) closedError() error {
	return &amqp.ClosedError{What: "connection", Reason: c.Err()}
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
	err := c.sendMethod(0, msg)
	if err == nil && c.unresponsive() {
		err = fmt.Errorf("%w: closed without waiting for connection.close-ok: the broker has sent nothing since a call timed out", amqp.ErrTimeout)
	} else if err == nil {
		err = c.awaitCloseOK(ctx)
	}
	c.shutdown(nil) // no-op when the broker's close-ok (or its own close) got there first
	<-c.readerEnd
	return err
}

// awaitCloseOK waits for connection.close-ok, bounded by the timeout and
// ctx. It reads for itself when nobody else does (turn.go), so closing an
// idle connection needs no other goroutine; otherwise whoever reads routes
// the close-ok.
func (c *Conn) awaitCloseOK(ctx context.Context) error {
	deadline := time.Now().Add(c.timeout)
	timeout := func() error {
		return fmt.Errorf("%w: no connection.close-ok from the broker within %s", amqp.ErrTimeout, c.timeout)
	}
	over := func() bool {
		select {
		case <-c.closeOK:
			return true
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
	led, _, err := c.lead(nil, 0, func() bool { return over() || ctx.Err() != nil }, deadline)
	switch {
	case led && over():
		return nil
	case led && errors.Is(err, errLeadTimeout):
		return timeout()
	case ctx.Err() != nil:
		return ctxError(ctx, "waiting for connection.close-ok")
	}
	defer c.needReader()()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-c.closeOK:
	case <-c.done:
	case <-timer.C:
		return timeout()
	case <-ctx.Done():
		return ctxError(ctx, "waiting for connection.close-ok")
	}
	return nil
}

// hooks

const (
	hookClose = iota
	hookBlocked
	hookUnblocked
	hookFlow
	hookAlert
)

type hookEvent struct {
	kind   int
	reason string
	err    error
	ch     uint16 // hookFlow, hookAlert
	active bool   // hookFlow
	code   int    // hookAlert
}

// Hooks are the connection-level callbacks. They run on the connection's
// event goroutine, one at a time, never on the reader.
type Hooks struct {
	OnClose     func(err error)     // nil err: closed by Close
	OnBlocked   func(reason string) // connection.blocked (0-9-1)
	OnUnblocked func()              // connection.unblocked (0-9-1)
	// OnFlow reports the broker turning a channel's flow off or on
	// (channel.flow); publishes on the channel wait while it is off.
	OnFlow func(channel uint16, active bool)
	// OnAlert reports a 0-8 channel.alert.
	OnAlert func(channel uint16, code int, text string)
}

// hookQueue is an unbounded queue drained by one goroutine, started at the
// first event that a hook is set for (events nobody hooks are dropped).
type hookQueue struct {
	mu      sync.Mutex
	hooks   Hooks
	q       []hookEvent
	closed  bool
	running bool // run has been started
	signal  chan struct{}
	done    chan struct{}
}

func (h *hookQueue) start() {
	h.signal = make(chan struct{}, 1)
	h.done = make(chan struct{})
}

// hooked reports whether a hook is set for e (h.mu held).
func (h *hookQueue) hooked(e hookEvent) bool {
	switch e.kind {
	case hookClose:
		return h.hooks.OnClose != nil
	case hookBlocked:
		return h.hooks.OnBlocked != nil
	case hookUnblocked:
		return h.hooks.OnUnblocked != nil
	case hookFlow:
		return h.hooks.OnFlow != nil
	case hookAlert:
		return h.hooks.OnAlert != nil
	}
	return false
}

func (h *hookQueue) set(f func(*Hooks)) {
	h.mu.Lock()
	f(&h.hooks)
	h.mu.Unlock()
}

func (h *hookQueue) push(e hookEvent) {
	h.mu.Lock()
	if h.closed || !h.hooked(e) {
		h.mu.Unlock()
		return
	}
	h.q = append(h.q, e)
	if !h.running {
		h.running = true
		go h.run()
	}
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

func (h *hookQueue) close() {
	h.mu.Lock()
	h.closed = true
	if !h.running { // nothing ever ran: done at once
		h.running = true
		close(h.done)
	}
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

func (h *hookQueue) run() {
	defer close(h.done)
	for range h.signal {
		for {
			h.mu.Lock()
			if len(h.q) == 0 {
				closed := h.closed
				h.mu.Unlock()
				if closed {
					return
				}
				break
			}
			e := h.q[0]
			h.q = h.q[1:]
			hooks := h.hooks
			h.mu.Unlock()
			switch e.kind {
			case hookClose:
				if hooks.OnClose != nil {
					hooks.OnClose(e.err)
				}
			case hookBlocked:
				if hooks.OnBlocked != nil {
					hooks.OnBlocked(e.reason)
				}
			case hookUnblocked:
				if hooks.OnUnblocked != nil {
					hooks.OnUnblocked()
				}
			case hookFlow:
				if hooks.OnFlow != nil {
					hooks.OnFlow(e.ch, e.active)
				}
			case hookAlert:
				if hooks.OnAlert != nil {
					hooks.OnAlert(e.ch, e.code, e.reason)
				}
			}
		}
	}
}

// SetHooks replaces the connection hooks through f.
func (c *Conn) SetHooks(f func(*Hooks)) { c.events.set(f) }

// HooksDone is closed when the last hook (OnClose) has returned.
func (c *Conn) HooksDone() <-chan struct{} { return c.events.done }
