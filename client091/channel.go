package client091

import (
	"context"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// Channel is an AMQP 0-9-1 channel. Every method that expects a reply
// blocks until the broker answers or the connection timeout passes.
// Callbacks run only inside Wait, WaitTimeout and WaitContext.
//
// Sharing between goroutines: a channel is meant for one goroutine at a
// time, and misuse gives an error, never a corrupt stream. One RPC at a
// time (a second concurrent one returns an error matching
// amqp.ErrInvalidArgument) and one Wait at a time (the same). Safe from any
// goroutine at any moment: Publish and PublishConfirmed (serialised per channel), WaitConfirm,
// WaitConfirms, the callback setters, Pending, IsClosed, Err, Done and Close.
type Channel struct {
	common amqplib.Common // the shared channel API (zapi.go forwards to it)
	e      *amqplib.Chan
	pub    *publisher // shared by every view of the channel
}

func wrap(ch *amqplib.Chan) *Channel {
	return &Channel{common: amqplib.NewCommon(ch), e: ch, pub: &publisher{}}
}

// WithContext returns a view of the channel whose blocking calls (every
// RPC, Get, Close, the confirm waits, Wait, and a publish waiting on a
// blocked connection or a paused flow) end when ctx does, as well as at the
// connection timeout: ch.WithContext(ctx).QueueDeclare("q"). The error then
// matches ctx's (context.Canceled; for a deadline, context.DeadlineExceeded
// and amqp.ErrTimeout). An RPC ended that way gives the channel up, as a
// timeout does, since its reply may still come. The view shares everything
// else with ch; callbacks set through it are the channel's.
func (ch *Channel) WithContext(ctx context.Context) *Channel {
	v := *ch
	v.common = amqplib.BindCommon(ch.common, ctx)
	return &v
}

// Qos limits unacknowledged deliveries: prefetchCount messages (0 = no
// limit). RabbitMQ applies it per consumer created afterwards, or to the
// whole channel with Global.
func (ch *Channel) Qos(prefetchCount int, opts ...amqp.QosOptions) error {
	o, err := amqplib.Options(opts)
	if err != nil {
		return err
	}
	if err := ch.e.CheckQos(prefetchCount, o); err != nil {
		return err
	}
	_, err = ch.e.Call(ch.Context(), &spec091.BasicQos{PrefetchSize: o.PrefetchSize, PrefetchCount: uint16(prefetchCount), Global: o.Global}, spec091.IDBasicQosOK)
	return err
}

// Flow asks the broker to pause (Stop) or resume deliveries on the channel.
// RabbitMQ closes the connection for a pause (540), so Stop is refused
// with ErrUnsupported before anything is sent when the broker is RabbitMQ.
func (ch *Channel) Flow(opts amqp.FlowOptions) error {
	if err := ch.e.CheckFlow(opts); err != nil {
		return err
	}
	_, err := ch.e.Call(ch.Context(), &spec091.ChannelFlow{Active: !opts.Stop}, spec091.IDChannelFlowOK)
	return err
}
