package client08

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec08"
)

// ExchangeDeclare declares an exchange of a kind ("direct", "fanout",
// "topic", "headers").
func (ch *Channel) ExchangeDeclare(name, kind string, opts ...amqp.ExchangeOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec08.ExchangeDeclare{Ticket: ch.ticket(), Exchange: name, Type: kind, Passive: o.Passive,
		Durable: o.Durable, AutoDelete: o.AutoDelete, Internal: o.Internal, NoWait: o.NoWait, Arguments: o.Arguments},
		o.NoWait, spec08.IDExchangeDeclareOK)
	return err
}

// ExchangeDelete deletes an exchange.
func (ch *Channel) ExchangeDelete(name string, opts ...amqp.ExchangeDeleteOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec08.ExchangeDelete{Ticket: ch.ticket(), Exchange: name, IfUnused: o.IfUnused, NoWait: o.NoWait},
		o.NoWait, spec08.IDExchangeDeleteOK)
	return err
}

// QueueDeclare declares a queue; an empty name asks the broker for a unique
// one, returned in QueueInfo.Name.
func (ch *Channel) QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return amqp.QueueInfo{}, err
	}
	return ch.e.DeclareQueue(ch.Context(), &spec08.QueueDeclare{Ticket: ch.ticket(), Queue: name, Passive: o.Passive, Durable: o.Durable,
		Exclusive: o.Exclusive, AutoDelete: o.AutoDelete, NoWait: o.NoWait, Arguments: o.Arguments},
		name, o.NoWait, spec08.IDQueueDeclareOK)
}

// QueueBind binds a queue to an exchange with a routing key.
func (ch *Channel) QueueBind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec08.QueueBind{Ticket: ch.ticket(), Queue: queue, Exchange: exchange, RoutingKey: routingKey,
		NoWait: o.NoWait, Arguments: o.Arguments}, o.NoWait, spec08.IDQueueBindOK)
	return err
}

// QueueUnbind removes a binding. The 0-8 spec lacks queue.unbind; RabbitMQ
// accepts 0-9-1's form on 0-8 connections.
func (ch *Channel) QueueUnbind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if err := amqplib.CheckUnbind(o); err != nil {
		return err
	}
	_, err = ch.e.Call(ch.Context(), &spec08.QueueUnbind{Ticket: ch.ticket(), Queue: queue, Exchange: exchange, RoutingKey: routingKey,
		Arguments: o.Arguments}, spec08.IDQueueUnbindOK)
	return err
}

// QueuePurge removes every ready message and returns how many there were.
func (ch *Channel) QueuePurge(name string, opts ...amqp.PurgeOptions) (int, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	return ch.e.Count(ch.Context(), &spec08.QueuePurge{Ticket: ch.ticket(), Queue: name, NoWait: o.NoWait}, o.NoWait, spec08.IDQueuePurgeOK)
}

// QueueDelete deletes a queue and returns how many messages it held.
func (ch *Channel) QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	return ch.e.Count(ch.Context(), &spec08.QueueDelete{Ticket: ch.ticket(), Queue: name, IfUnused: o.IfUnused, IfEmpty: o.IfEmpty,
		NoWait: o.NoWait}, o.NoWait, spec08.IDQueueDeleteOK)
}
