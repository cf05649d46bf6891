package client091

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// ExchangeDeclare declares an exchange of a kind ("direct", "fanout",
// "topic", "headers", or a plugin's type).
func (ch *Channel) ExchangeDeclare(name, kind string, opts ...amqp.ExchangeOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec091.ExchangeDeclare{Exchange: name, Type: kind, Passive: o.Passive, Durable: o.Durable,
		AutoDelete: o.AutoDelete, Internal: o.Internal, NoWait: o.NoWait, Arguments: o.Arguments}, o.NoWait, spec091.IDExchangeDeclareOK)
	return err
}

// ExchangeDelete deletes an exchange.
func (ch *Channel) ExchangeDelete(name string, opts ...amqp.ExchangeDeleteOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec091.ExchangeDelete{Exchange: name, IfUnused: o.IfUnused, NoWait: o.NoWait}, o.NoWait, spec091.IDExchangeDeleteOK)
	return err
}

// ExchangeBind routes messages from the source exchange to the destination
// exchange (a RabbitMQ extension).
func (ch *Channel) ExchangeBind(destination, source, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec091.ExchangeBind{Destination: destination, Source: source, RoutingKey: routingKey,
		NoWait: o.NoWait, Arguments: o.Arguments}, o.NoWait, spec091.IDExchangeBindOK)
	return err
}

// ExchangeUnbind removes an exchange-to-exchange binding.
func (ch *Channel) ExchangeUnbind(destination, source, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec091.ExchangeUnbind{Destination: destination, Source: source, RoutingKey: routingKey,
		NoWait: o.NoWait, Arguments: o.Arguments}, o.NoWait, spec091.IDExchangeUnbindOK)
	return err
}
