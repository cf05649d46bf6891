package main

import (
	"context"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/cli"
)

// channel is the Channel API that client091 and client08 share.
type channel interface {
	Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error
	Consume(queue string, fn func(*amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error)
	Cancel(consumerTag string) error
	Ack(deliveryTag uint64, opts ...amqp.AckOptions) error
	Qos(prefetchCount int, opts ...amqp.QosOptions) error
	ExchangeDeclare(name, kind string, opts ...amqp.ExchangeOptions) error
	QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error)
	QueueBind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error
	QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error)
	OnReturn(fn func(*amqp.Return))
	OnCancel(fn func(consumerTag string))
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

var (
	_ channel   = (*client091.Channel)(nil)
	_ channel   = (*client08.Channel)(nil)
	_ confirmer = (*client091.Channel)(nil)
)

// conn is a connection of either version.
type conn struct {
	close func() error
	open  func() (channel, error)
}

// Close closes the connection.
func (c *conn) Close() error { return c.close() }

// dial opens a connection with the configured protocol, and a first channel.
// Errors show the URI without its password.
func dial(c config, name string) (*conn, channel, error) {
	cfg := amqp.Config{ConnectionName: name, ExtendedTables: true}
	var cn *conn
	if c.proto == cli.Proto08 {
		k, err := client08.DialURI(c.uri, cfg)
		if err != nil {
			return nil, nil, &cli.OpError{Op: "connecting to " + c.uri.String(), Err: err}
		}
		cn = &conn{close: k.Close, open: func() (channel, error) { return k.Channel() }}
	} else {
		k, err := client091.DialURI(c.uri, cfg)
		if err != nil {
			return nil, nil, &cli.OpError{Op: "connecting to " + c.uri.String(), Err: err}
		}
		cn = &conn{close: k.Close, open: func() (channel, error) { return k.Channel() }}
	}
	ch, err := cn.open()
	if err != nil {
		cn.Close()
		return nil, nil, &cli.OpError{Op: "opening a channel", Err: err}
	}
	return cn, ch, nil
}

// opErr says which step failed; cli.Describe prints it with the broker's
// reply code and text.
func opErr(op string, err error) error { return &cli.OpError{Op: op, Err: err} }
