package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
)

// ourChannel is the Channel API that client091 and client08 share, so one
// implementation of a scenario serves both protocol versions.
type ourChannel interface {
	Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error
	Get(queue string, opts ...amqp.GetOptions) (*amqp.Delivery, bool, error)
	Consume(queue string, fn func(*amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error)
	Cancel(consumerTag string) error
	Ack(deliveryTag uint64, opts ...amqp.AckOptions) error
	Qos(prefetchCount int, opts ...amqp.QosOptions) error
	QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error)
	Wait() error
	Close() error
}

// ours is this library over one protocol version.
type ours struct {
	proto string
	dial  func(url string) (io.Closer, ourChannel, error)
}

var ours091 = ours{proto: "0-9-1", dial: func(url string) (io.Closer, ourChannel, error) {
	c, err := client091.Dial(url)
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.Channel()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, ch, nil
}}

var ours08 = ours{proto: "0-8", dial: func(url string) (io.Closer, ourChannel, error) {
	c, err := client08.Dial(url)
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.Channel()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, ch, nil
}}

// The option slices are built once: passing a variadic argument through an
// interface call would otherwise allocate a slice per call, a cost of this
// harness, not of the library.
var (
	passive  = []amqp.QueueOptions{{Passive: true}}
	noAck    = []amqp.GetOptions{{NoAck: true}}
	multiple = []amqp.AckOptions{{Multiple: true}}
)

func passiveCount(ch ourChannel, q string) func() (int, error) {
	return func() (int, error) {
		info, err := ch.QueueDeclare(q, passive...)
		return info.Messages, err
	}
}

// S1: publish n small messages without confirms; the clock stops when a
// passive declare shows all of them in the queue.
func (o ours) publish(env *env, m *meter, q string, n int) error {
	conn, ch, err := o.dial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	msg := amqp.Message{Body: env.small}
	m.Start()
	for i := 0; i < n; i++ {
		if err := ch.Publish("", q, msg); err != nil {
			return err
		}
	}
	err = waitReady(passiveCount(ch, q), n)
	m.Stop()
	return err
}

// S2: publish n small messages in confirm mode, then wait for every
// confirm. Confirms queue up on the channel while publishing and are
// dispatched by WaitConfirms.
func (o ours) publishConfirms(env *env, m *meter, q string, n int) error {
	conn, och, err := o.dial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch := och.(*client091.Channel)
	if err := ch.ConfirmSelect(); err != nil {
		return err
	}
	msg := amqp.Message{Body: env.small}
	m.Start()
	for i := 0; i < n; i++ {
		if err := ch.Publish("", q, msg); err != nil {
			return err
		}
	}
	err = ch.WaitConfirms()
	m.Stop()
	return err
}

// S3: publish n small messages, each waiting for its own confirm.
func (o ours) publishEachConfirmed(env *env, m *meter, q string, n int) error {
	conn, och, err := o.dial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch := och.(*client091.Channel)
	if err := ch.ConfirmSelect(); err != nil {
		return err
	}
	msg := amqp.Message{Body: env.small}
	m.Start()
	for i := 0; i < n; i++ {
		if err := ch.PublishConfirmed("", q, msg); err != nil {
			return err
		}
	}
	m.Stop()
	return nil
}

// S4: n basic.get round trips (no-ack) from a pre-filled queue.
func (o ours) get(env *env, m *meter, q string, n int) error {
	conn, ch, err := o.dial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	m.Start()
	for i := 0; i < n; i++ {
		d, ok, err := ch.Get(q, noAck...)
		if err != nil {
			return err
		}
		if !ok || len(d.Body) != len(env.small) {
			return fmt.Errorf("get %d: ok=%v", i, ok)
		}
	}
	m.Stop()
	return nil
}

// S5: consume n pre-filled messages with a prefetch of 1000, acking
// (multiple) every 100th.
func (o ours) consume(env *env, m *meter, q string, n int) error {
	conn, ch, err := o.dial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := ch.Qos(1000); err != nil {
		return err
	}
	got := 0
	var ackErr error
	m.Start()
	tag, err := ch.Consume(q, func(d *amqp.Delivery) {
		got++
		if got%100 == 0 || got == n {
			if err := ch.Ack(d.DeliveryTag, multiple...); err != nil && ackErr == nil {
				ackErr = err
			}
		}
	})
	if err != nil {
		return err
	}
	for got < n && ackErr == nil {
		if err := ch.Wait(); err != nil {
			return err
		}
	}
	m.Stop()
	if ackErr != nil {
		return ackErr
	}
	return ch.Cancel(tag)
}

// S6: publish one large message and get it back, n times.
func (o ours) large(env *env, m *meter, q string, n int) error {
	conn, ch, err := o.dial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	msg := amqp.Message{Body: env.large}
	m.Start()
	for i := 0; i < n; i++ {
		if err := ch.Publish("", q, msg); err != nil {
			return err
		}
		for {
			d, ok, err := ch.Get(q, noAck...)
			if err != nil {
				return err
			}
			if ok {
				if len(d.Body) != len(env.large) || !bytes.Equal(d.Body[:64], env.large[:64]) {
					return errors.New("large message came back changed")
				}
				break
			}
			time.Sleep(pollEvery)
		}
	}
	m.Stop()
	return nil
}

// S7: connect, open a channel and close the connection, n times.
func (o ours) connect(env *env, m *meter, _ string, n int) error {
	m.Start()
	for i := 0; i < n; i++ {
		conn, _, err := o.dial(env.url)
		if err != nil {
			return err
		}
		if err := conn.Close(); err != nil {
			return err
		}
	}
	m.Stop()
	return nil
}
