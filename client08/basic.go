package client08

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec08"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Publish sends a message to an exchange ("" is the default exchange, which
// routes by queue name). It does not wait for the broker: AMQP 0-8 has no
// publisher confirms (use TxSelect/TxCommit to know it was stored).
func (ch *Channel) Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if err := amqplib.CheckPublish(o); err != nil {
		return err
	}
	s := ch.s
	s.pubMu.Lock()
	defer s.pubMu.Unlock()
	s.pub = spec08.BasicPublish{Ticket: ch.ticket(), Exchange: exchange, RoutingKey: routingKey, Mandatory: o.Mandatory}
	_, err = ch.e.PublishContent(ch.Context(), &s.pub, &msg)
	return err
}

// Get fetches one message from a queue. ok is false, with a nil error, when
// the queue was empty.
func (ch *Channel) Get(queue string, opts ...amqp.GetOptions) (d *amqp.Delivery, ok bool, err error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return nil, false, err
	}
	return ch.e.GetMessage(ch.Context(), &spec08.BasicGet{Ticket: ch.ticket(), Queue: queue, NoAck: o.NoAck})
}

// Consume starts a consumer on a queue and returns its tag. Deliveries are
// passed to fn inside Wait, on the caller's goroutine. AMQP 0-8's
// basic.consume has no arguments table, so Arguments are refused.
func (ch *Channel) Consume(queue string, fn func(d *amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error) {
	o, err := amqplib.Options(opts)
	if err != nil {
		return "", err
	}
	if len(o.Arguments) > 0 {
		return "", amqperr.Invalid("AMQP 0-8 basic.consume has no arguments table (x-priority and other consumer arguments need 0-9-1)")
	}
	return ch.e.StartConsumer(ch.Context(), &spec08.BasicConsume{Ticket: ch.ticket(), Queue: queue, ConsumerTag: o.Tag, NoLocal: o.NoLocal,
		NoAck: o.NoAck, Exclusive: o.Exclusive, NoWait: o.NoWait}, o, spec08.IDBasicConsumeOK, fn)
}

// Cancel stops a consumer. Deliveries still queued for it are dropped
// (unacknowledged ones return to the queue when the channel closes).
func (ch *Channel) Cancel(consumerTag string) error {
	return ch.e.CancelConsumer(ch.Context(), &spec08.BasicCancel{ConsumerTag: consumerTag}, consumerTag, spec08.IDBasicCancelOK)
}

// Ack acknowledges a delivery (with Multiple, every one up to it).
func (ch *Channel) Ack(deliveryTag uint64, opts ...amqp.AckOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	return ch.e.Send(&spec08.BasicAck{DeliveryTag: deliveryTag, Multiple: o.Multiple})
}

// Reject rejects one delivery, putting it back in the queue with Requeue.
// (AMQP 0-8 has no basic.nack.)
func (ch *Channel) Reject(deliveryTag uint64, opts ...amqp.NackOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if err := amqplib.CheckReject(o); err != nil {
		return err
	}
	return ch.e.Send(&spec08.BasicReject{DeliveryTag: deliveryTag, Requeue: o.Requeue})
}

// Recover asks the broker to redeliver every unacknowledged message on the
// channel (they come back with Redelivered set), and waits for its answer.
// It always requeues: RabbitMQ closes the connection for requeue=false.
func (ch *Channel) Recover() error {
	_, err := ch.e.Call(ch.Context(), &spec08.BasicRecoverSync{Requeue: true}, spec08.IDBasicRecoverSyncOK)
	return err
}
