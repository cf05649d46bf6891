package client091

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// ConfirmSelect puts the channel in confirm mode: from now on the broker
// acks (or nacks) every published message, numbered from 1 on this channel.
//
// A channel in tx mode (TxSelect) cannot be put in confirm mode: that is
// refused with an error matching amqp.ErrInvalidArgument before anything is
// sent, and the channel stays open.
func (ch *Channel) ConfirmSelect() error {
	return ch.e.SelectConfirms(ch.Context(), &spec091.ConfirmSelect{}, spec091.IDConfirmSelectOK)
}

// PublishConfirmed publishes a message and waits for the broker's confirm;
// the channel must be in confirm mode. A nack returns an error matching
// amqp.ErrNacked. It runs no callbacks: a mandatory message the broker
// returned is queued for OnReturn before its confirm, and runs when Wait
// dispatches it.
func (ch *Channel) PublishConfirmed(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error {
	if !ch.e.Confirming() {
		return amqperr.Invalid("channel %d is not in confirm mode (call ConfirmSelect first)", ch.ID())
	}
	return ch.e.PublishConfirmed(ch.Context(), func(e *amqplib.Channel) (uint64, error) {
		return ch.publishOn(e, exchange, routingKey, &msg, opts)
	})
}

// PublishSeq returns the sequence number of the last message published in
// confirm mode (0 before any): the value to pass to WaitConfirm.
func (ch *Channel) PublishSeq() uint64 { return ch.e.PublishSeq() }

// WaitConfirm waits until the broker confirmed message seq: nil for an
// ack, an error matching amqp.ErrNacked for a nack. It runs no callbacks
// (events that arrive meanwhile stay queued for Wait) and is bounded by the
// connection timeout. It may be called while another goroutine is in Wait.
func (ch *Channel) WaitConfirm(seq uint64) error { return ch.e.WaitConfirm(ch.Context(), seq) }

// WaitConfirms waits until every message published so far is confirmed. It
// reports, as an error matching amqp.ErrNacked, the nacks that no earlier
// WaitConfirms, WaitConfirm or PublishConfirmed reported. It runs no
// callbacks and is bounded by the connection timeout.
func (ch *Channel) WaitConfirms() error { return ch.e.WaitConfirms(ch.Context()) }

// OnConfirm sets a callback for every confirm resolved from now on, one
// call per message even when the broker acks several at once. Like every
// callback it runs inside Wait, in the order the confirms arrived among the
// channel's other events; the confirm waits never run it.
func (ch *Channel) OnConfirm(fn func(amqp.Confirmation)) { ch.e.OnConfirm(fn) }
