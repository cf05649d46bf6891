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

// Flowing is implemented by channel.flow and channel.flow-ok.
type Flowing interface {
	Method
	FlowActive() bool
	SetFlowActive(active bool)
}

// Alerting is implemented by the 0-8 channel.alert.
type Alerting interface {
	Method
	AlertInfo() (code uint16, text string)
}

// ConsumeStarted is implemented by basic.consume-ok.
type ConsumeStarted interface {
	Method
	StartedTag() string
}

// QueueDeclared is implemented by queue.declare-ok.
type QueueDeclared interface {
	Method
	QueueInfo() amqp.QueueInfo
}

// Counted is implemented by queue.purge-ok and queue.delete-ok.
type Counted interface {
	Method
	Count() int
}

// Start is what connection.start announces.
type Start struct {
	VersionMajor, VersionMinor uint8
	ServerProperties           amqp.Table
	Mechanisms, Locales        string // space-separated lists
}

// Starting is implemented by connection.start.
type Starting interface {
	Method
	StartInfo() Start
}

// Tuning is implemented by connection.tune.
type Tuning interface {
	Method
	TuneInfo() (channelMax uint16, frameMax uint32, heartbeat uint16)
}

// Redirecting is implemented by the 0-8 connection.redirect.
type Redirecting interface {
	Method
	RedirectHost() string
}
