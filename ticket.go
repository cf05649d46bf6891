package amqp

// Ticket is an AMQP 0-8 access ticket, granted by access.request for a realm.
// 0-8 exchange, queue and basic methods carry one; 0 means "no ticket".
// RabbitMQ grants ticket 1 for any realm and ignores the value afterwards.
type Ticket uint16

// AccessFlags are the rights asked for in a 0-8 access.request.
type AccessFlags struct {
	Exclusive bool // no other client may use the realm
	Passive   bool // only check access, grant nothing
	Active    bool // publish or consume
	Write     bool // write (publish) access
	Read      bool // read (consume, get) access
}

// DefaultAccess is what py-amqplib asks for: active, write and read.
var DefaultAccess = AccessFlags{Active: true, Write: true, Read: true}
