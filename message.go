package amqp

import "time"

// Delivery modes for Properties.DeliveryMode.
const (
	Transient  uint8 = 1
	Persistent uint8 = 2
)

// Properties are the 14 basic-class content properties. A zero field is not
// sent (so an empty string, a zero priority, a zero time or nil Headers is
// "absent"; an empty non-nil Headers table is sent as an empty table).
type Properties struct {
	ContentType     string    // MIME type, e.g. "text/plain"
	ContentEncoding string    // e.g. "UTF-8" or "gzip"
	Headers         Table     // application headers
	DeliveryMode    uint8     // Transient (1) or Persistent (2); 0 = absent
	Priority        uint8     // 0-9
	CorrelationID   string    // correlates a reply with its request
	ReplyTo         string    // queue name for replies
	Expiration      string    // per-message TTL in milliseconds, as a decimal string
	MessageID       string    // application message id
	Timestamp       time.Time // whole seconds on the wire
	Type            string    // application message type
	UserID          string    // checked by RabbitMQ against the login
	AppID           string    // creating application
	ClusterID       string    // 0-8 cluster-id, reserved in 0-9-1 (RabbitMQ passes it through)
}

// Message is a body with its properties, as published or received.
type Message struct {
	Properties
	Body []byte
}

// NewMessage makes a message from a string or a byte slice. A string body is
// sent as its UTF-8 bytes with ContentEncoding "UTF-8"; a []byte body is sent
// as it is, with no encoding set.
func NewMessage[B string | []byte](body B) Message {
	switch b := any(body).(type) {
	case string:
		return Message{Properties: Properties{ContentEncoding: "UTF-8"}, Body: []byte(b)}
	case []byte:
		return Message{Body: b}
	}
	return Message{}
}

// Text returns the body as a string.
func (m *Message) Text() string { return string(m.Body) }

// Delivery is a message received by basic.deliver (a consumer) or basic.get-ok.
type Delivery struct {
	Message
	ConsumerTag  string // empty for basic.get
	DeliveryTag  uint64 // per channel; pass it to Ack, Nack or Reject
	Redelivered  bool
	Exchange     string
	RoutingKey   string
	MessageCount uint32 // basic.get-ok only: messages left in the queue
}

// Return is a mandatory message the broker could not route (basic.return).
type Return struct {
	Message
	ReplyCode  int    // 312 NO_ROUTE
	ReplyText  string // "NO_ROUTE"
	Exchange   string
	RoutingKey string
}

// Confirmation is the broker's answer to one published message in confirm
// mode, or, with recovery on, the news that the connection was lost before
// the broker answered.
type Confirmation struct {
	DeliveryTag uint64 // the publish sequence number, from 1 (PublishSeq)
	Ack         bool   // false: the broker nacked it (not stored), or it was lost
	// Lost says that the connection was lost before the broker confirmed
	// the message: it may or may not be in its queues. (With
	// Recovery.RepublishUnconfirmed it is published again instead, and its
	// confirmation comes later under the same number.)
	Lost bool
}
