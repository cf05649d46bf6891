package amqplib

import (
	"context"
	"sync/atomic"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Stable channels: the value a dialect's Channel holds.
//
// Invariants (this file owns them):
//
//   - A dialect's Channel holds one *Chan for its whole life, and the *Chan
//     keeps its id. cur is the engine Channel on the connection now in use;
//     it is the only way from a Chan to the engine, so a call always works
//     on the channel of one connection from start to end.
//   - Until recovery is built, cur is set once, when the channel opens.
//   - The dialect's wrapper (owner) is set before the Chan is published to
//     lookups (the engine channel's owner is the Chan).
type Chan struct {
	id    uint16
	cur   atomic.Pointer[Channel]
	owner any // the dialect's *Channel
}

// newChan wraps an engine channel.
func newChan(ch *Channel) *Chan {
	c := &Chan{id: ch.id}
	c.cur.Store(ch)
	return c
}

// Engine returns the engine channel now in use.
func (c *Chan) Engine() *Channel { return c.cur.Load() }

// ID returns the channel number.
func (c *Chan) ID() uint16 { return c.id }

// Call sends a synchronous method and waits for one of the replies (see
// Channel.Call).
func (c *Chan) Call(ctx context.Context, req wire.Method, replies ...wire.MethodID) (wire.Method, error) {
	return c.Engine().Call(ctx, req, replies...)
}

// Request is Call, or Send when noWait (see Channel.Request).
func (c *Chan) Request(ctx context.Context, req wire.Method, noWait bool, reply wire.MethodID) (wire.Method, error) {
	return c.Engine().Request(ctx, req, noWait, reply)
}

// DeclareQueue declares a queue (see Channel.DeclareQueue).
func (c *Chan) DeclareQueue(ctx context.Context, req wire.Method, name string, noWait bool, reply wire.MethodID) (amqp.QueueInfo, error) {
	return c.Engine().DeclareQueue(ctx, req, name, noWait, reply)
}

// Count sends a purge or delete and returns its message count (see
// Channel.Count).
func (c *Chan) Count(ctx context.Context, req wire.Method, noWait bool, reply wire.MethodID) (int, error) {
	return c.Engine().Count(ctx, req, noWait, reply)
}

// StartConsumer registers a consumer (see Channel.StartConsumer).
func (c *Chan) StartConsumer(ctx context.Context, req wire.Method, o amqp.ConsumeOptions, okID wire.MethodID, fn func(*amqp.Delivery)) (string, error) {
	return c.Engine().StartConsumer(ctx, req, o, okID, fn)
}

// CancelConsumer cancels a consumer (see Channel.CancelConsumer).
func (c *Chan) CancelConsumer(ctx context.Context, req wire.Method, tag string, reply wire.MethodID) error {
	return c.Engine().CancelConsumer(ctx, req, tag, reply)
}

// Send writes an asynchronous method (see Channel.Send).
func (c *Chan) Send(req wire.Method) error { return c.Engine().Send(req) }

// PublishContent publishes a message (see Channel.PublishContent).
func (c *Chan) PublishContent(ctx context.Context, req wire.Method, msg *amqp.Message) (uint64, error) {
	return c.Engine().PublishContent(ctx, req, msg)
}

// PublishContentNow publishes a message and flushes it (see
// Channel.PublishContentNow).
func (c *Chan) PublishContentNow(ctx context.Context, req wire.Method, msg *amqp.Message) (uint64, error) {
	return c.Engine().PublishContentNow(ctx, req, msg)
}

// GetMessage sends basic.get and returns its message (see
// Channel.GetMessage).
func (c *Chan) GetMessage(ctx context.Context, req wire.Method) (*amqp.Delivery, bool, error) {
	return c.Engine().GetMessage(ctx, req)
}

// SelectConfirms puts the channel in confirm mode (see
// Channel.SelectConfirms).
func (c *Chan) SelectConfirms(ctx context.Context, req wire.Method, reply wire.MethodID) error {
	return c.Engine().SelectConfirms(ctx, req, reply)
}

// Confirming reports whether the channel is in confirm mode.
func (c *Chan) Confirming() bool { return c.Engine().Confirming() }

// PublishSeq returns the sequence number the next publish will get.
func (c *Chan) PublishSeq() uint64 { return c.Engine().PublishSeq() }

// WaitConfirm waits for the confirm of one sequence number.
func (c *Chan) WaitConfirm(ctx context.Context, seq uint64) error {
	return c.Engine().WaitConfirm(ctx, seq)
}

// WaitConfirms waits until every publish so far is confirmed.
func (c *Chan) WaitConfirms(ctx context.Context) error { return c.Engine().WaitConfirms(ctx) }

// OnConfirm sets the confirm callback.
func (c *Chan) OnConfirm(fn func(amqp.Confirmation)) { c.Engine().OnConfirm(fn) }

// CheckQos checks basic.qos arguments before sending.
func (c *Chan) CheckQos(prefetchCount int, o amqp.QosOptions) error {
	return c.Engine().CheckQos(prefetchCount, o)
}

// CheckFlow checks channel.flow arguments before sending.
func (c *Chan) CheckFlow(o amqp.FlowOptions) error { return c.Engine().CheckFlow(o) }
