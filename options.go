package amqp

// ExchangeOptions are the optional parts of exchange.declare. The zero value
// declares a transient exchange that stays when unused.
type ExchangeOptions struct {
	Passive    bool  // only check the exchange exists (404 otherwise)
	Durable    bool  // survives a broker restart
	AutoDelete bool  // deleted when its last binding goes
	Internal   bool  // cannot be published to directly
	NoWait     bool  // do not wait for declare-ok
	Arguments  Table // e.g. "alternate-exchange"
}

// QueueOptions are the optional parts of queue.declare.
type QueueOptions struct {
	Passive    bool  // only check the queue exists (404 otherwise)
	Durable    bool  // survives a broker restart
	Exclusive  bool  // used only by this connection, deleted when it closes
	AutoDelete bool  // deleted when its last consumer goes
	NoWait     bool  // do not wait for declare-ok (the result is then empty)
	Arguments  Table // e.g. "x-message-ttl", "x-queue-type"
}

// QueueInfo is the result of queue.declare.
type QueueInfo struct {
	Name      string // the server-chosen name when the declared name was ""
	Messages  int    // messages ready in the queue
	Consumers int    // active consumers
}

// BindOptions are the optional parts of queue.bind, queue.unbind,
// exchange.bind and exchange.unbind.
type BindOptions struct {
	NoWait    bool // do not wait for the reply (not available for queue.unbind)
	Arguments Table
}

// ExchangeDeleteOptions are the optional parts of exchange.delete.
type ExchangeDeleteOptions struct {
	IfUnused bool // refuse (406) if the exchange has bindings
	NoWait   bool
}

// QueueDeleteOptions are the optional parts of queue.delete.
type QueueDeleteOptions struct {
	IfUnused bool // refuse (406) if the queue has consumers
	IfEmpty  bool // refuse (406) if the queue has messages
	NoWait   bool
}

// PublishOptions are the optional parts of basic.publish.
type PublishOptions struct {
	// Mandatory asks the broker to return the message (basic.return) when no
	// queue receives it.
	Mandatory bool
	// Immediate is refused with ErrUnsupported before sending: RabbitMQ 3.0
	// and later close the connection for it.
	Immediate bool
}

// GetOptions are the optional parts of basic.get.
type GetOptions struct {
	NoAck bool // the message counts as acknowledged on delivery
}

// ConsumeOptions are the optional parts of basic.consume.
type ConsumeOptions struct {
	Tag       string // consumer tag; empty lets the broker choose one
	NoLocal   bool   // do not receive messages published on this connection
	NoAck     bool   // messages count as acknowledged on delivery
	Exclusive bool   // be the queue's only consumer
	NoWait    bool   // do not wait for consume-ok (Tag must then be set)
	Arguments Table  // e.g. "x-priority" (0-9-1 only)
}

// AckOptions are the optional parts of basic.ack.
type AckOptions struct {
	Multiple bool // acknowledge every tag up to and including this one
}

// NackOptions are the optional parts of basic.nack and basic.reject.
type NackOptions struct {
	Multiple bool // every tag up to and including this one (nack only)
	Requeue  bool // put the messages back in the queue
}

// QosOptions are the optional parts of basic.qos.
type QosOptions struct {
	// PrefetchSize limits unacknowledged bytes. RabbitMQ closes the
	// connection for a non-zero value, so Qos refuses it there before
	// sending (ErrUnsupported).
	PrefetchSize uint32
	// Global makes the limit shared by all consumers on the channel; without
	// it RabbitMQ applies the limit to each consumer created afterwards.
	Global bool
}

// PurgeOptions are the optional parts of queue.purge.
type PurgeOptions struct {
	NoWait bool // do not wait for purge-ok (the count is then 0)
}

// FlowOptions are the arguments of channel.flow.
type FlowOptions struct {
	Stop bool // pause deliveries (active=false); the zero value resumes
}
