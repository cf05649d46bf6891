package client08

import (
	"context"
	"sync"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec08"
)

// Channel is an AMQP 0-8 channel. Every method that expects a reply blocks
// until the broker answers or the connection timeout passes. Exchange, queue
// and basic methods carry the channel's access ticket: the last one
// AccessRequest returned (0 before any), as py-amqplib does, unless the
// channel came from WithTicket. Callbacks run only inside Wait, WaitTimeout
// and WaitContext.
//
// Sharing between goroutines: a channel is meant for one goroutine at a
// time, and misuse gives an error, never a corrupt stream. One RPC at a
// time (a second concurrent one returns an error matching
// amqp.ErrInvalidArgument) and one Wait at a time (the same). Safe from any
// goroutine at any moment: Publish (serialised per channel), the callback
// setters, Pending, IsClosed, Err, Done and Close.
type Channel struct {
	common amqplib.Common // the shared channel API (zapi.go forwards to it)
	e      *amqplib.Chan
	s      *shared
	fixed  *amqp.Ticket // set on a WithTicket view
}

// shared is the state every view of one channel shares.
type shared struct {
	mu     sync.Mutex
	ticket amqp.Ticket
	pubMu  sync.Mutex
	pub    spec08.BasicPublish // reused so publishing allocates nothing
}

func wrap(ch *amqplib.Chan) *Channel {
	return &Channel{common: amqplib.NewCommon(ch), e: ch, s: &shared{}}
}

// AccessRequest asks for an access ticket to a realm (e.g. "/data") with
// the given rights; the ticket becomes the channel's default for later
// exchange, queue and basic methods. amqp.DefaultAccess asks for active,
// write and read, as py-amqplib does.
func (ch *Channel) AccessRequest(realm string, flags amqp.AccessFlags) (amqp.Ticket, error) {
	m, err := ch.e.Call(ch.Context(), &spec08.AccessRequest{Realm: realm, Exclusive: flags.Exclusive, Passive: flags.Passive,
		Active: flags.Active, Write: flags.Write, Read: flags.Read}, spec08.IDAccessRequestOK)
	if err != nil {
		return 0, err
	}
	t := amqp.Ticket(m.(*spec08.AccessRequestOK).Ticket)
	ch.s.mu.Lock()
	ch.s.ticket = t
	ch.s.mu.Unlock()
	return t, nil
}

// Ticket returns the ticket this channel's methods carry.
func (ch *Channel) Ticket() amqp.Ticket {
	if ch.fixed != nil {
		return *ch.fixed
	}
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.s.ticket
}

// WithContext returns a view of the channel whose blocking calls (every
// RPC, Get, Close, Wait, and a publish waiting on a paused flow) end when
// ctx does, as well as at the connection timeout:
// ch.WithContext(ctx).QueueDeclare("q"). The error then matches ctx's
// (context.Canceled; for a deadline, context.DeadlineExceeded and
// amqp.ErrTimeout). An RPC ended that way gives the channel up, as a
// timeout does, since its reply may still come. The view shares everything
// else with ch, its ticket included.
func (ch *Channel) WithContext(ctx context.Context) *Channel {
	v := *ch
	v.common = amqplib.BindCommon(ch.common, ctx)
	return &v
}

// WithTicket returns a view of the channel whose methods carry ticket t
// instead of the default: ch.WithTicket(t).QueueDeclare("q"). The view
// shares everything else with ch.
func (ch *Channel) WithTicket(t amqp.Ticket) *Channel {
	v := *ch
	v.fixed = &t
	return &v
}

func (ch *Channel) ticket() uint16 { return uint16(ch.Ticket()) }

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
	_, err = ch.e.Call(ch.Context(), &spec08.BasicQos{PrefetchSize: o.PrefetchSize, PrefetchCount: uint16(prefetchCount), Global: o.Global}, spec08.IDBasicQosOK)
	return err
}

// Flow asks the broker to pause (Stop) or resume deliveries on the channel.
// RabbitMQ closes the connection for a pause, so Stop is refused with
// ErrUnsupported before anything is sent when the broker is RabbitMQ.
func (ch *Channel) Flow(opts amqp.FlowOptions) error {
	if err := ch.e.CheckFlow(opts); err != nil {
		return err
	}
	_, err := ch.e.Call(ch.Context(), &spec08.ChannelFlow{Active: !opts.Stop}, spec08.IDChannelFlowOK)
	return err
}
