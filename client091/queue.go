package client091

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// maybeWait sends req and, unless noWait, waits for the reply.
func (ch *Channel) maybeWait(req wire.Method, noWait bool, reply wire.MethodID) error {
	if noWait {
		return ch.e.Send(req)
	}
	_, err := ch.e.Call(req, reply)
	return err
}

// QueueDeclare declares a queue; an empty name asks the broker for a unique
// one, returned in QueueInfo.Name.
func (ch *Channel) QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return amqp.QueueInfo{}, err
	}
	req := &QueueDeclare{Queue: name, Passive: o.Passive, Durable: o.Durable, Exclusive: o.Exclusive,
		AutoDelete: o.AutoDelete, NoWait: o.NoWait, Arguments: o.Arguments}
	if o.NoWait {
		return amqp.QueueInfo{Name: name}, ch.e.Send(req)
	}
	m, err := ch.e.Call(req, IDQueueDeclareOK)
	if err != nil {
		return amqp.QueueInfo{}, err
	}
	ok := m.(*QueueDeclareOK)
	return amqp.QueueInfo{Name: ok.Queue, Messages: int(ok.MessageCount), Consumers: int(ok.ConsumerCount)}, nil
}

// QueueBind binds a queue to an exchange with a routing key.
func (ch *Channel) QueueBind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	return ch.maybeWait(&QueueBind{Queue: queue, Exchange: exchange, RoutingKey: routingKey, NoWait: o.NoWait,
		Arguments: o.Arguments}, o.NoWait, IDQueueBindOK)
}

// QueueUnbind removes a binding. queue.unbind has no no-wait form.
func (ch *Channel) QueueUnbind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if o.NoWait {
		return amqp.Invalid("queue.unbind has no no-wait form")
	}
	_, err = ch.e.Call(&QueueUnbind{Queue: queue, Exchange: exchange, RoutingKey: routingKey, Arguments: o.Arguments}, IDQueueUnbindOK)
	return err
}

// QueuePurge removes every ready message and returns how many there were.
func (ch *Channel) QueuePurge(name string, opts ...amqp.PurgeOptions) (int, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	req := &QueuePurge{Queue: name, NoWait: o.NoWait}
	if o.NoWait {
		return 0, ch.e.Send(req)
	}
	m, err := ch.e.Call(req, IDQueuePurgeOK)
	if err != nil {
		return 0, err
	}
	return int(m.(*QueuePurgeOK).MessageCount), nil
}

// QueueDelete deletes a queue and returns how many messages it held.
func (ch *Channel) QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	req := &QueueDelete{Queue: name, IfUnused: o.IfUnused, IfEmpty: o.IfEmpty, NoWait: o.NoWait}
	if o.NoWait {
		return 0, ch.e.Send(req)
	}
	m, err := ch.e.Call(req, IDQueueDeleteOK)
	if err != nil {
		return 0, err
	}
	return int(m.(*QueueDeleteOK).MessageCount), nil
}
