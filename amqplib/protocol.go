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
	// Steps are the dialect's pieces of the handshake.
	Steps Steps
}

// Steps are a dialect's pieces of the connection handshake; the engine runs
// the sequence (start, start-ok, secure*, tune, tune-ok, open, open-ok or
// redirect) once for both versions.
type Steps struct {
	// Capabilities announced in the client properties.
	Capabilities amqp.Table
	// Mechanisms in order of preference when the caller names none.
	Mechanisms []string
	// Constructors of the client's handshake methods.
	StartOK  func(properties amqp.Table, mechanism, response, locale string) wire.Method
	SecureOK func(response string) wire.Method
	TuneOK   func(channelMax uint16, frameMax uint32, heartbeat uint16) wire.Method
	Open     func(vhost string) wire.Method
	// UpdateSecret builds connection.update-secret (nil: the version lacks
	// it).
	UpdateSecret func(secret, reason string) wire.Method
}

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
