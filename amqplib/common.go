package amqplib

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Common is the part of the Channel API that both dialects share. The
// dialects' Channel types embed it and add their typed AMQP methods. Its
// context bounds every blocking call made through it, with the timeout (see
// BindCommon).
type Common struct {
	c   *Chan
	ctx context.Context
}

// NewCommon wraps a channel.
func NewCommon(c *Chan) Common { return Common{c: c, ctx: context.Background()} }

// BindCommon returns c with its blocking calls also bounded by ctx (the
// dialects' WithContext).
func BindCommon(c Common, ctx context.Context) Common {
	if ctx == nil {
		ctx = context.Background()
	}
	c.ctx = ctx
	return c
}

// Context returns the context the channel's blocking calls are bound to
// (context.Background unless the value came from WithContext).
func (c Common) Context() context.Context { return c.ctx }

// String describes the channel: "channel 1 of AMQP 0-9-1 connection to
// 127.0.0.1:5672 (open)".
func (c Common) String() string { return c.c.Engine().name + " of " + c.c.Engine().c.String() }

// GoString is String, so that %#v shows no internals.
func (c Common) GoString() string { return c.String() }

// Engine returns the engine channel, for sending methods this package does
// not wrap (Call, Send).
func (c Common) Engine() *Chan { return c.c }

// ID returns the channel number.
func (c Common) ID() uint16 { return c.c.id }

// Close closes the channel (close handshake, bounded by the timeout).
// Closing a closed channel returns nil.
func (c Common) Close() error { c.c.untrack(); return c.c.Engine().Close(c.ctx, nil) }

// CloseWith closes the channel as Close does, sending the reply code and
// text given (py-amqplib's close(reply_code, reply_text)); a text over 255
// bytes is refused with an error matching amqp.ErrInvalidArgument.
func (c Common) CloseWith(code int, text string) error {
	c.c.untrack()
	return c.c.Engine().Close(c.ctx, &amqp.Error{Code: code, Text: text})
}

// IsClosed reports whether the channel is closed or closing.
func (c Common) IsClosed() bool { return c.c.Engine().IsClosed() }

// Err returns why the channel closed: the broker's *amqp.Error, the
// connection's reason, or nil while open or after Close.
func (c Common) Err() error { return c.c.Engine().Err() }

// Done is closed when the channel has closed.
func (c Common) Done() <-chan struct{} { return c.c.Engine().done }

// Wait dispatches one event (a delivery to its consumer's callback, a
// returned message, a confirm, a cancel) on the caller's goroutine, waiting
// as long as it takes: it has no bound, and returns only for an event or
// once the channel is closed and drained, with an error matching
// amqp.ErrClosed that wraps the reason. Callbacks run only here (and in
// WaitTimeout, WaitContext), one at a time: a Wait from inside a callback,
// or from a second goroutine while one runs, is refused with an error
// matching amqp.ErrInvalidArgument.
func (c Common) Wait() error { return c.c.wait(time.Time{}, c.ctx) }

// WaitTimeout is Wait bounded by d; it returns an error matching
// amqp.ErrTimeout when nothing arrived.
func (c Common) WaitTimeout(d time.Duration) error {
	return c.c.wait(time.Now().Add(d), c.ctx)
}

// WaitContext is Wait bounded by ctx; it returns an error matching ctx's
// (context.Canceled, or context.DeadlineExceeded and amqp.ErrTimeout).
func (c Common) WaitContext(ctx context.Context) error { return c.c.wait(time.Time{}, ctx) }

// Pending returns how many events wait to be dispatched.
func (c Common) Pending() int { return c.c.Engine().Pending() }

// OnReturn sets the callback for mandatory messages the broker could not
// route; it runs inside Wait. Without one, returns are dropped.
func (c Common) OnReturn(fn func(*amqp.Return)) {
	c.c.setHandler(func(ch *Channel) { ch.OnReturn(fn) })
}

// OnCancel sets the callback for consumers the broker cancelled (queue
// deleted, node down); it runs inside Wait.
func (c Common) OnCancel(fn func(consumerTag string)) {
	c.c.setHandler(func(ch *Channel) { ch.OnCancel(fn) })
}

// TxSelect puts the channel in transaction mode: publishes and acks take
// effect at TxCommit. A channel in confirm mode cannot be transactional:
// that is refused with an error matching amqp.ErrInvalidArgument before
// anything is sent, and the channel stays open.
func (c Common) TxSelect() error {
	return c.c.Tx(c.ctx, c.c.Engine().c.proto.Known.TxSelect, c.c.Engine().c.proto.Known.TxSelectOK)
}

// TxCommit commits the current transaction; when it returns, the
// transaction's messages are in their queues.
func (c Common) TxCommit() error {
	return c.c.Tx(c.ctx, c.c.Engine().c.proto.Known.TxCommit, c.c.Engine().c.proto.Known.TxCommitOK)
}

// TxRollback abandons the current transaction.
func (c Common) TxRollback() error {
	return c.c.Tx(c.ctx, c.c.Engine().c.proto.Known.TxRollback, c.c.Engine().c.proto.Known.TxRollbackOK)
}

// tx sends one of the field-less tx methods and waits for its reply.
// tx.select on a channel in confirm mode is refused before sending (the
// broker would close the channel with 406).
func (ch *Channel) tx(ctx context.Context, req, reply wire.MethodID) error {
	k := &ch.c.proto.Known
	if req == k.TxSelect && ch.Confirming() {
		return fmt.Errorf("%w: %s is in confirm mode: a channel cannot also be transactional (the broker would close it with 406)", amqp.ErrInvalidArgument, ch.name)
	}
	if _, err := ch.Call(ctx, ch.c.proto.NewMethod(req), reply); err != nil {
		return err
	}
	if req == k.TxSelect {
		ch.mu.Lock()
		ch.txOn = true
		ch.mu.Unlock()
	}
	return nil
}

// ConnCommon is the part of the Connection API both dialects share. Its
// context bounds its blocking calls (opening a channel, Close), with the
// timeout (see BindConnCommon).
type ConnCommon struct {
	s   *Session
	ctx context.Context
}

// BindConnCommon returns c with its blocking calls also bounded by ctx.
func BindConnCommon(c ConnCommon, ctx context.Context) ConnCommon {
	if ctx == nil {
		ctx = context.Background()
	}
	c.ctx = ctx
	return c
}

// Context returns the context the connection's blocking calls are bound to
// (context.Background unless the value came from WithContext).
func (c ConnCommon) Context() context.Context { return c.ctx }

// String describes the connection: protocol, broker address and state.
func (c ConnCommon) String() string { return c.s.Conn().String() }

// GoString is String, so that %#v shows no internals (nor any secret).
func (c ConnCommon) GoString() string { return c.s.Conn().String() }

// DialURL parses an AMQP URI and dials it with protocol p (the dialects'
// Dial functions).
func DialURL(ctx context.Context, p *Protocol, url string, cfg amqp.Config, dh DialHooks) (ConnCommon, error) {
	uri, err := amqp.ParseURI(url)
	if err != nil {
		return ConnCommon{}, err
	}
	return DialURI(ctx, p, uri, cfg, dh)
}

// DialHooks are the hooks a program gives the dial itself, since they run
// at the first connection.
type DialHooks struct {
	// OnConnect runs once the connection is open, and with recovery again
	// on every new connection, after the recorded topology is declared and
	// before the channels' consumers and the waiting calls resume. Its
	// error fails that dial (the first) or that recovery attempt (retried).
	OnConnect func(ConnCommon) error
}

// DialURI dials a URI value with protocol p (the dialects' DialURI): the
// URI's address and cfg.Addresses, each once, in shuffled order.
func DialURI(ctx context.Context, p *Protocol, uri amqp.URI, cfg amqp.Config, dh DialHooks) (ConnCommon, error) {
	eps, err := endpoints(uri, cfg.Addresses)
	if err != nil {
		return ConnCommon{}, err
	}
	if cfg.Recovery == nil && uri.Recovery {
		cfg.Recovery = &amqp.Recovery{}
	}
	c, err := dialAny(ctx, p, eps, cfg)
	if err != nil {
		return ConnCommon{}, err
	}
	s := newSession(c, p, eps, cfg)
	s.dial.onConnect = dh.OnConnect
	if err := s.connected(ctx, c); err != nil {
		_ = c.Close(ctx, nil)
		return ConnCommon{}, err
	}
	if s.rec != nil {
		go s.watch()
	}
	return ConnCommon{s: s, ctx: context.Background()}, nil
}

// SetConnHooks changes the connection's hooks (the dialects' OnBlocked and
// the like); with recovery they carry over to every new connection.
func SetConnHooks(c ConnCommon, f func(*Hooks)) { c.s.SetHooks(f) }

// Engine returns the engine connection.
func (c ConnCommon) Engine() *Conn { return c.s.Conn() }

// Close closes every channel and the connection with the close handshake,
// then the socket; bounded by the timeout and idempotent.
func (c ConnCommon) Close() error { return c.s.Close(c.ctx, nil) }

// CloseWith closes the connection as Close does, sending the reply code
// and text given (py-amqplib's close(reply_code, reply_text)); a text over
// 255 bytes is refused with an error matching amqp.ErrInvalidArgument.
func (c ConnCommon) CloseWith(code int, text string) error {
	return c.s.Close(c.ctx, &amqp.Error{Code: code, Text: text})
}

// State returns "open", "closing" or "closed".
func (c ConnCommon) State() string { return c.s.State() }

// RemoteAddr returns the broker's address, as the socket has it.
func (c ConnCommon) RemoteAddr() net.Addr { return c.s.Conn().nc.RemoteAddr() }

// LocalAddr returns the connection's local address.
func (c ConnCommon) LocalAddr() net.Addr { return c.s.Conn().nc.LocalAddr() }

// IsClosed reports whether the connection is closed.
func (c ConnCommon) IsClosed() bool { return c.s.State() == StateClosed }

// Err returns why the connection closed: nil while open or after Close.
func (c ConnCommon) Err() error { return c.s.Err() }

// Done is closed when the connection has closed.
func (c ConnCommon) Done() <-chan struct{} { return c.s.Done() }

// ServerProperties returns the broker's connection.start properties.
func (c ConnCommon) ServerProperties() amqp.Table { return c.s.Conn().tuned.ServerProperties }

// ServerVersion returns the broker's product and version, e.g. "RabbitMQ 3.10.8".
func (c ConnCommon) ServerVersion() string {
	p, _ := c.s.Conn().tuned.ServerProperties["product"].(string)
	v, _ := c.s.Conn().tuned.ServerProperties["version"].(string)
	return strings.TrimSpace(p + " " + v)
}

// ChannelMax returns the negotiated highest channel number.
func (c ConnCommon) ChannelMax() uint16 { return c.s.Conn().tuned.ChannelMax }

// FrameMax returns the negotiated largest frame size in bytes.
func (c ConnCommon) FrameMax() uint32 { return c.s.Conn().tuned.FrameMax }

// Heartbeat returns the negotiated heartbeat interval (0: off).
func (c ConnCommon) Heartbeat() time.Duration { return c.s.Conn().tuned.Heartbeat }

// Capability reports whether the broker announced a capability in its
// server properties (e.g. "consumer_priorities").
func (c ConnCommon) Capability(name string) bool {
	caps, _ := c.s.Conn().tuned.ServerProperties["capabilities"].(amqp.Table)
	v, _ := caps[name].(bool)
	return v
}

// OnClose sets a hook called once when the connection closes, with the
// reason (nil after Close). It runs on the connection's event goroutine.
func (c ConnCommon) OnClose(fn func(err error)) {
	c.s.SetHooks(func(h *Hooks) { h.OnClose = fn })
}

// OnFlow sets a hook called when the broker turns a channel's flow off
// (active false) or back on (channel.flow). The library answers the broker
// itself; while the flow is off, publishes on that channel wait for it,
// bounded by Config.Timeout. It runs on the connection's event goroutine.
func (c ConnCommon) OnFlow(fn func(channel uint16, active bool)) {
	c.s.SetHooks(func(h *Hooks) { h.OnFlow = fn })
}

// OnDisconnect sets a hook called, with recovery on (Config.Recovery), each
// time the connection is lost, with the cause, before recovery begins. It
// runs on the recovery's goroutine: recovery waits for it.
func (c ConnCommon) OnDisconnect(fn func(err error)) {
	c.s.SetRecoveryHooks(func(h *RecoveryHooks) { h.OnDisconnect = fn })
}

// OnRecovered sets a hook called, with recovery on, each time a recovery
// completed: the connection is open again with its channels, modes and
// consumers, and the calls that waited are resuming. It runs on the
// recovery's goroutine.
func (c ConnCommon) OnRecovered(fn func()) {
	c.s.SetRecoveryHooks(func(h *RecoveryHooks) { h.OnRecovered = fn })
}

// OnTopologyError sets a hook called, with recovery on, for each exchange,
// queue, binding or consumer that a recovery could not restore (the broker
// refused it on the new connection). The entity is forgotten and the
// recovery goes on. It runs on the recovery's goroutine.
func (c ConnCommon) OnTopologyError(fn func(err *amqp.TopologyError)) {
	c.s.SetRecoveryHooks(func(h *RecoveryHooks) { h.OnTopologyError = fn })
}

// OnQueueRenamed sets a hook called, with recovery on, when a server-named
// queue (declared with an empty name) was declared again and got a new
// name. Later methods on this connection that name the old queue (bind,
// consume, get, purge, delete, a publish to the default exchange) use the
// new name by themselves. It runs on the recovery's goroutine, before
// OnRecovered.
func (c ConnCommon) OnQueueRenamed(fn func(oldName, name string)) {
	c.s.SetRecoveryHooks(func(h *RecoveryHooks) { h.OnQueueRenamed = fn })
}

// Options returns the single optional options struct of a variadic call
// (its zero value when none was given); more than one is an error.
func Options[T any](opts []T) (T, error) {
	var zero T
	switch len(opts) {
	case 0:
		return zero, nil
	case 1:
		return opts[0], nil
	}
	return zero, amqperr.Invalid("at most one %T may be given, got %d", zero, len(opts))
}

// OpenChannel opens a channel (id 0: the next free one) and wraps it in the
// dialect's type; the wrapper is kept so ChannelByID returns the same one.
func OpenChannel[C any](ctx context.Context, cc ConnCommon, id uint16, wrap func(*Chan) C) (C, error) {
	s := cc.s
	for {
		if s.rec != nil { // a recovery restores the channel, or it opens on the new connection
			if err := s.rlock(ctx); err != nil {
				var zero C
				return zero, err
			}
		}
		c := s.Conn()
		ch, err := c.open(ctx, id, func(ch *Channel) any {
			sc := newChan(s, ch)
			sc.owner = wrap(sc)
			return sc
		})
		if err == nil {
			s.track(ch.owner.(*Chan))
		}
		if s.rec != nil {
			s.recording.RUnlock()
		}
		if err == nil {
			return ch.owner.(*Chan).owner.(C), nil
		}
		var zero C
		if s.rec == nil || !c.isDone() {
			return zero, err
		}
		if werr := s.await(ctx, c, 0); werr != nil { // opened again once recovered
			return zero, werr
		}
	}
}

// ChannelByID returns the open channel id in the dialect's type, opening it
// if needed. Concurrent calls for one id open it once and return the same
// value.
func ChannelByID[C any](ctx context.Context, cc ConnCommon, id uint16, wrap func(*Chan) C) (C, error) {
	if id == 0 {
		var zero C
		return zero, amqperr.Invalid("channel id 0 is the connection's")
	}
	c := cc.s.Conn()
	c.byID.Lock()
	defer c.byID.Unlock()
	if ch := c.Lookup(id); ch != nil {
		if s, ok := ch.owner.(*Chan); ok && s.s == cc.s { // not one a recovery is restoring, seen from an on-connect view
			if w, ok := s.owner.(C); ok {
				return w, nil
			}
		}
	}
	return OpenChannel(ctx, cc, id, wrap)
}

// WithChannel opens a channel, runs fn with it and closes it, returning
// fn's error or else the close error.
func WithChannel[C interface{ Close() error }](open func() (C, error), fn func(C) error) error {
	ch, err := open()
	if err != nil {
		return err
	}
	ferr := fn(ch)
	cerr := ch.Close()
	if ferr != nil {
		return ferr
	}
	return cerr
}
