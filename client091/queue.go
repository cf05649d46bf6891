package client091

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// QueueDeclare declares a queue; an empty name asks the broker for a unique
// one, returned in QueueInfo.Name.
func (ch *Channel) QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return amqp.QueueInfo{}, err
	}
	return ch.e.DeclareQueue(ch.Context(), &spec091.QueueDeclare{Queue: name, Passive: o.Passive, Durable: o.Durable, Exclusive: o.Exclusive,
		AutoDelete: o.AutoDelete, NoWait: o.NoWait, Arguments: o.Arguments}, name, o.NoWait, spec091.IDQueueDeclareOK)
}

// QueueBind binds a queue to an exchange with a routing key.
func (ch *Channel) QueueBind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	_, err = ch.e.Request(ch.Context(), &spec091.QueueBind{Queue: queue, Exchange: exchange, RoutingKey: routingKey, NoWait: o.NoWait,
		Arguments: o.Arguments}, o.NoWait, spec091.IDQueueBindOK)
	return err
}

// QueueUnbind removes a binding. queue.unbind has no no-wait form.
func (ch *Channel) QueueUnbind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if err := amqplib.CheckUnbind(o); err != nil {
		return err
	}
	_, err = ch.e.Call(ch.Context(), &spec091.QueueUnbind{Queue: queue, Exchange: exchange, RoutingKey: routingKey, Arguments: o.Arguments}, spec091.IDQueueUnbindOK)
	return err
}

// QueuePurge removes every ready message and returns how many there were.
func (ch *Channel) QueuePurge(name string, opts ...amqp.PurgeOptions) (int, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	return ch.e.Count(ch.Context(), &spec091.QueuePurge{Queue: name, NoWait: o.NoWait}, o.NoWait, spec091.IDQueuePurgeOK)
}

// QueueDelete deletes a queue and returns how many messages it held.
func (ch *Channel) QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	return ch.e.Count(ch.Context(), &spec091.QueueDelete{Queue: name, IfUnused: o.IfUnused, IfEmpty: o.IfEmpty, NoWait: o.NoWait}, o.NoWait, spec091.IDQueueDeleteOK)
}
