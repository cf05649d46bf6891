package amqplib

import (
	"context"
	"fmt"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Request-shaped helpers shared by the dialects' typed APIs: the dialect
// builds its method struct, the engine does the rest once.

// Request sends req and, unless noWait, waits for reply. It returns the
// reply (nil with noWait).
func (ch *Channel) Request(ctx context.Context, req wire.Method, noWait bool, reply wire.MethodID) (wire.Method, error) {
	if noWait {
		return nil, ch.Send(req)
	}
	return ch.Call(ctx, req, reply)
}

// DeclareQueue sends queue.declare; with noWait the info holds only name.
func (ch *Channel) DeclareQueue(ctx context.Context, req wire.Method, name string, noWait bool, reply wire.MethodID) (amqp.QueueInfo, error) {
	m, err := ch.Request(ctx, req, noWait, reply)
	if err != nil || noWait {
		return amqp.QueueInfo{Name: name}, err
	}
	return m.(wire.QueueDeclared).QueueInfo(), nil
}

// Count sends queue.purge or queue.delete and returns the message count
// (0 with noWait).
func (ch *Channel) Count(ctx context.Context, req wire.Method, noWait bool, reply wire.MethodID) (int, error) {
	m, err := ch.Request(ctx, req, noWait, reply)
	if err != nil || noWait {
		return 0, err
	}
	return m.(wire.Counted).Count(), nil
}

// StartConsumer sends basic.consume and registers fn for the consumer tag:
// the caller's own, or else the broker's from consume-ok. The callback is
// in place before the first delivery can be dispatched, even by a Wait on
// another goroutine: a caller's tag is registered before sending, a
// broker's by the router as it routes consume-ok (Channel.consumeOK).
func (ch *Channel) StartConsumer(ctx context.Context, req wire.Method, o amqp.ConsumeOptions, okID wire.MethodID, fn func(*amqp.Delivery)) (string, error) {
	if fn == nil {
		return "", amqperr.Invalid("Consume needs a callback")
	}
	if o.NoWait && o.Tag == "" {
		return "", amqperr.Invalid("a no-wait consumer needs a tag")
	}
	// Registered as the request goes out (under the RPC lock, so a refused
	// call changes nothing); undone if the call fails.
	start := &consumerStart{fn: fn}
	var prev func(*amqp.Delivery)
	var had, registered bool
	register := func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		registered = true
		if o.Tag == "" {
			ch.starting = start
			return
		}
		if ch.consumers == nil {
			ch.consumers = make(map[string]func(*amqp.Delivery))
		}
		prev, had = ch.consumers[o.Tag]
		ch.consumers[o.Tag] = fn
	}
	var m wire.Method
	var err error
	if o.NoWait {
		register()
		err = ch.Send(req)
	} else {
		var r reply
		r, err = ch.callThen(ctx, req, []wire.MethodID{okID}, register)
		m = r.m
	}
	ch.mu.Lock()
	if ch.starting == start {
		ch.starting = nil
	}
	if err != nil && registered && o.Tag != "" {
		if had {
			ch.consumers[o.Tag] = prev
		} else {
			delete(ch.consumers, o.Tag)
		}
	}
	ch.mu.Unlock()
	if err != nil {
		return "", err
	}
	tag := o.Tag
	if m != nil {
		tag = m.(wire.ConsumeStarted).StartedTag()
	}
	ch.AddConsumer(tag, fn) // the router did so already for a broker's tag
	return tag, nil
}

// consumerStart is the callback of a consume waiting for the broker's tag;
// a pointer, so that its call clears only its own.
type consumerStart struct{ fn func(*amqp.Delivery) }

// consumeOK registers the callback of a consumer whose tag the broker
// chose, as its consume-ok is routed: before any of its deliveries.
func (ch *Channel) consumeOK(m wire.Method) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.starting == nil {
		return
	}
	if ch.consumers == nil {
		ch.consumers = make(map[string]func(*amqp.Delivery))
	}
	ch.consumers[m.(wire.ConsumeStarted).StartedTag()] = ch.starting.fn
	ch.starting = nil
}

// CancelConsumer sends basic.cancel, waits for cancel-ok and forgets the tag.
func (ch *Channel) CancelConsumer(ctx context.Context, req wire.Method, tag string, reply wire.MethodID) error {
	_, err := ch.Call(ctx, req, reply)
	ch.RemoveConsumer(tag)
	return err
}

// CheckPublish refuses publish options RabbitMQ would close the connection for.
func CheckPublish(o amqp.PublishOptions) error {
	if o.Immediate {
		return amqperr.Unsupported("the immediate flag: RabbitMQ 3.0 and later close the connection for it")
	}
	return nil
}

// CheckReject refuses Multiple, which basic.reject cannot carry.
func CheckReject(o amqp.NackOptions) error {
	if o.Multiple {
		return amqperr.Invalid("basic.reject takes one delivery; use Nack for Multiple")
	}
	return nil
}

// CheckQos validates a prefetch count, and refuses a prefetch size on
// RabbitMQ, which closes the connection for it (540 NOT_IMPLEMENTED).
func (ch *Channel) CheckQos(prefetchCount int, o amqp.QosOptions) error {
	if prefetchCount < 0 || prefetchCount > 65535 {
		return amqperr.Invalid("prefetch count %d out of range 0..65535", prefetchCount)
	}
	if o.PrefetchSize != 0 && ch.isRabbit() {
		return amqperr.Unsupported("basic.qos with a prefetch size: RabbitMQ closes the connection for it")
	}
	return nil
}

func (ch *Channel) isRabbit() bool {
	p, _ := ch.c.tuned.ServerProperties["product"].(string)
	return p == "RabbitMQ"
}

// CheckFlow refuses pausing a RabbitMQ channel, which closes the connection.
func (ch *Channel) CheckFlow(o amqp.FlowOptions) error {
	if o.Stop && ch.isRabbit() {
		return amqperr.Unsupported("channel.flow with active=false: RabbitMQ closes the connection for it")
	}
	return nil
}

// CheckUnbind refuses NoWait on queue.unbind, which has no such bit.
func CheckUnbind(o amqp.BindOptions) error {
	if o.NoWait {
		return fmt.Errorf("%w: queue.unbind has no no-wait form", amqp.ErrInvalidArgument)
	}
	return nil
}
