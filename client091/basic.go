package client091

import (
	"sync"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// publisher reuses one basic.publish struct so publishing allocates nothing.
type publisher struct {
	mu  sync.Mutex
	req spec091.BasicPublish
}

// Publish sends a message to an exchange ("" is the default exchange, which
// routes by queue name). It does not wait for the broker; use confirm mode
// (ConfirmSelect, WaitConfirm) to know the message was stored.
func (ch *Channel) Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error {
	_, err := ch.publish(exchange, routingKey, &msg, opts)
	return err
}

func (ch *Channel) publish(exchange, routingKey string, msg *amqp.Message, opts []amqp.PublishOptions) (uint64, error) {
	return ch.publishWith(exchange, routingKey, opts, func(req *spec091.BasicPublish) (uint64, error) {
		return ch.e.PublishContent(ch.Context(), req, msg)
	})
}

// publishOn publishes on one engine channel, written at once (the caller
// waits for its confirm next).
func (ch *Channel) publishOn(e *amqplib.Channel, exchange, routingKey string, msg *amqp.Message, opts []amqp.PublishOptions) (uint64, error) {
	return ch.publishWith(exchange, routingKey, opts, func(req *spec091.BasicPublish) (uint64, error) {
		return e.PublishContentNow(ch.Context(), req, msg)
	})
}

// publishWith checks the options and sends the channel's reused
// basic.publish with send, under the publishing lock.
func (ch *Channel) publishWith(exchange, routingKey string, opts []amqp.PublishOptions, send func(*spec091.BasicPublish) (uint64, error)) (uint64, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return 0, err
	}
	if err := amqplib.CheckPublish(o); err != nil {
		return 0, err
	}
	p := ch.pub
	p.mu.Lock()
	defer p.mu.Unlock()
	p.req = spec091.BasicPublish{Exchange: exchange, RoutingKey: routingKey, Mandatory: o.Mandatory}
	return send(&p.req)
}

// Get fetches one message from a queue. ok is false, with a nil error, when
// the queue was empty.
func (ch *Channel) Get(queue string, opts ...amqp.GetOptions) (d *amqp.Delivery, ok bool, err error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return nil, false, err
	}
	return ch.e.GetMessage(ch.Context(), &spec091.BasicGet{Queue: queue, NoAck: o.NoAck})
}

// Consume starts a consumer on a queue and returns its tag. Deliveries are
// passed to fn inside Wait, on the caller's goroutine.
func (ch *Channel) Consume(queue string, fn func(d *amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return "", err
	}
	return ch.e.StartConsumer(ch.Context(), &spec091.BasicConsume{Queue: queue, ConsumerTag: o.Tag, NoLocal: o.NoLocal, NoAck: o.NoAck,
		Exclusive: o.Exclusive, NoWait: o.NoWait, Arguments: o.Arguments}, o, spec091.IDBasicConsumeOK, fn)
}

// Cancel stops a consumer. Deliveries still queued for it are dropped
// (unacknowledged ones return to the queue when the channel closes).
func (ch *Channel) Cancel(consumerTag string) error {
	return ch.e.CancelConsumer(ch.Context(), &spec091.BasicCancel{ConsumerTag: consumerTag}, consumerTag, spec091.IDBasicCancelOK)
}

// Ack acknowledges a delivery (with Multiple, every one up to it).
func (ch *Channel) Ack(deliveryTag uint64, opts ...amqp.AckOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	return ch.e.Send(&spec091.BasicAck{DeliveryTag: deliveryTag, Multiple: o.Multiple})
}

// Nack rejects a delivery (with Multiple, every one up to it), putting it
// back in the queue with Requeue (a RabbitMQ extension).
func (ch *Channel) Nack(deliveryTag uint64, opts ...amqp.NackOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	return ch.e.Send(&spec091.BasicNack{DeliveryTag: deliveryTag, Multiple: o.Multiple, Requeue: o.Requeue})
}

// Reject rejects one delivery, putting it back in the queue with Requeue.
func (ch *Channel) Reject(deliveryTag uint64, opts ...amqp.NackOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if err := amqplib.CheckReject(o); err != nil {
		return err
	}
	return ch.e.Send(&spec091.BasicReject{DeliveryTag: deliveryTag, Requeue: o.Requeue})
}

// Recover asks the broker to redeliver every unacknowledged message on the
// channel (they come back with Redelivered set). It always requeues: RabbitMQ
// closes the connection for requeue=false.
func (ch *Channel) Recover() error {
	_, err := ch.e.Call(ch.Context(), &spec091.BasicRecover{Requeue: true}, spec091.IDBasicRecoverOK)
	return err
}
