package wire

import "github.com/amqplib-go/amqp"

// Delivering is implemented by basic.deliver and basic.get-ok: it copies the
// method's fields into a Delivery.
type Delivering interface {
	Method
	DeliveryInfo(d *amqp.Delivery)
}

// Returning is implemented by basic.return.
type Returning interface {
	Method
	ReturnInfo(r *amqp.Return)
}

// Confirming is implemented by basic.ack and basic.nack: the broker's
// publisher confirms.
type Confirming interface {
	Method
	ConfirmInfo() (tag uint64, multiple bool)
}

// Cancelling is implemented by basic.cancel (sent by the broker when a
// consumer goes away).
type Cancelling interface {
	Method
	CancelTag() string
}

// BlockedNotice is implemented by connection.blocked.
type BlockedNotice interface {
	Method
	BlockedReason() string
}
