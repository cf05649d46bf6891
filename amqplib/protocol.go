package amqplib

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Protocol describes one AMQP dialect to the engine.
type Protocol struct {
	// Name is the version as users write it: "0-9-1" or "0-8".
	Name string
	// Header is the 8-byte protocol header the client sends first.
	Header [8]byte
	// Known holds the ids of the methods the engine recognises.
	Known wire.Known
	// NewMethod returns a new zero method struct for an id, or nil.
	NewMethod func(id wire.MethodID) wire.Method
	// Tables is the field-table policy used to encode.
	Tables wire.TablePolicy
}

// newMethod makes a method the engine sends itself (channel.open, the close
// methods); the id comes from Known and is never zero for those.
func (p *Protocol) newMethod(id wire.MethodID) wire.Method { return p.NewMethod(id) }

// closeMethod builds a connection.close or channel.close with a reply.
func (p *Protocol) closeMethod(id wire.MethodID, e *amqp.Error) wire.Method {
	m := p.NewMethod(id)
	m.(wire.Exception).SetException(e)
	return m
}

// isAsync reports whether a method received on a channel is an event rather
// than the reply to an RPC.
func (p *Protocol) isAsync(id wire.MethodID) bool {
	k := &p.Known
	switch id {
	case k.BasicDeliver, k.BasicReturn, k.BasicAck, k.BasicCancel:
		return true
	case k.BasicNack:
		return k.BasicNack != 0
	}
	return false
}
