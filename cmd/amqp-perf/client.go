package main

import (
	"context"
	"io"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
)

// channel is the Channel API that client091 and client08 share.
type channel interface {
	Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error
	Consume(queue string, fn func(*amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error)
	Ack(deliveryTag uint64, opts ...amqp.AckOptions) error
	Qos(prefetchCount int, opts ...amqp.QosOptions) error
	QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error)
	QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error)
	Wait() error
	WaitTimeout(d time.Duration) error
	WaitContext(ctx context.Context) error
	Pending() int
	Close() error
}

// confirmer is the 0-9-1 publisher-confirm API.
type confirmer interface {
	ConfirmSelect() error
	OnConfirm(fn func(amqp.Confirmation))
	PublishSeq() uint64
	WaitConfirms() error
}

// dial opens a connection and a channel with the configured protocol.
func dial(c config, name string) (io.Closer, channel, error) {
	cfg := amqp.Config{ConnectionName: name}
	if c.proto == "0-8" {
		conn, err := client08.DialConfig(c.url, cfg)
		if err != nil {
			return nil, nil, err
		}
		ch, err := conn.Channel()
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		return conn, ch, nil
	}
	conn, err := client091.DialConfig(c.url, cfg)
	if err != nil {
		return nil, nil, err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, ch, nil
}
