package client091

import "github.com/amqplib-go/amqp"

// ConfirmSelect puts the channel in confirm mode: from now on the broker
// acks (or nacks) every published message, numbered from 1 on this channel.
func (ch *Channel) ConfirmSelect() error {
	if ch.e.Confirming() {
		return nil
	}
	if _, err := ch.e.Call(&ConfirmSelect{}, IDConfirmSelectOK); err != nil {
		return err
	}
	ch.e.StartConfirms()
	return nil
}

// PublishConfirmed publishes a message and waits for the broker's confirm;
// the channel must be in confirm mode. A nack returns an error matching
// amqp.ErrNacked.
func (ch *Channel) PublishConfirmed(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error {
	if !ch.e.Confirming() {
		return amqp.Invalid("channel %d is not in confirm mode (call ConfirmSelect first)", ch.ID())
	}
	seq, err := ch.publish(exchange, routingKey, &msg, opts, writeNow)
	if err != nil {
		return err
	}
	return ch.e.WaitConfirm(seq)
}

// PublishSeq returns the sequence number of the last message published in
// confirm mode (0 before any): the value to pass to WaitConfirm.
func (ch *Channel) PublishSeq() uint64 { return ch.e.PublishSeq() }

// WaitConfirm dispatches events (see Wait) until the broker confirmed
// message seq; nil for an ack, an error matching amqp.ErrNacked for a nack.
// Bounded by the connection timeout.
func (ch *Channel) WaitConfirm(seq uint64) error { return ch.e.WaitConfirm(seq) }

// WaitConfirms dispatches events until every message published so far is
// confirmed; it reports nacks since the previous WaitConfirms as an error
// matching amqp.ErrNacked. Bounded by the connection timeout.
func (ch *Channel) WaitConfirms() error { return ch.e.WaitConfirms() }

// OnConfirm sets a callback run inside Wait for every confirm, one call per
// message even when the broker acks several at once.
func (ch *Channel) OnConfirm(fn func(amqp.Confirmation)) { ch.e.OnConfirm(fn) }
