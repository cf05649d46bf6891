package wire

import (
	"strconv"

	"github.com/amqplib-go/amqp"
)

// MethodID is a class id and method id packed as class<<16 | method.
type MethodID uint32

// ID packs a class id and a method id.
func ID(class, method uint16) MethodID { return MethodID(uint32(class)<<16 | uint32(method)) }

// Class returns the class id.
func (id MethodID) Class() uint16 { return uint16(id >> 16) }

// Method returns the method id within its class.
func (id MethodID) Method() uint16 { return uint16(id) }

// String formats the id as "50.10".
func (id MethodID) String() string {
	return strconv.Itoa(int(id.Class())) + "." + strconv.Itoa(int(id.Method()))
}

// Method is one AMQP method's arguments. The structs implementing it are
// generated from the spec XML, one set per protocol version.
type Method interface {
	// ID returns the method's class and method ids.
	ID() MethodID
	// Name returns the spec name, e.g. "queue.declare".
	Name() string
	// HasContent reports whether a content header and body follow the method.
	HasContent() bool
	// Encode appends the arguments (not the class and method ids).
	Encode(e *Encoder)
	// Decode reads the arguments (not the ids); the caller calls d.Finish.
	Decode(d *Decoder)
}

// Roles the engine needs from a few generated methods. The generator emits
// these methods on the structs that play each role.

// Exception is implemented by connection.close and channel.close.
type Exception interface {
	Method
	Exception() *amqp.Error
	SetException(e *amqp.Error)
}

// Known lists the ids of the methods the engine must recognise, per protocol
// version (e.g. connection.close is 10.60 in 0-8 and 10.50 in 0-9-1). A zero
// id means the version lacks the method.
type Known struct {
	ConnectionStart, ConnectionStartOK, ConnectionSecure, ConnectionSecureOK MethodID
	ConnectionTune, ConnectionTuneOK, ConnectionOpen, ConnectionOpenOK       MethodID
	ConnectionRedirect, ConnectionClose, ConnectionCloseOK                   MethodID
	ConnectionBlocked, ConnectionUnblocked                                   MethodID
	ConnectionUpdateSecret, ConnectionUpdateSecretOK                         MethodID
	ChannelOpen, ChannelOpenOK, ChannelFlow, ChannelFlowOK, ChannelAlert     MethodID
	ChannelClose, ChannelCloseOK                                             MethodID
	BasicConsumeOK, BasicCancel, BasicCancelOK, BasicPublish, BasicReturn    MethodID
	BasicDeliver, BasicGet, BasicGetOK, BasicGetEmpty, BasicAck, BasicNack   MethodID
	TxSelect, TxSelectOK, TxCommit, TxCommitOK, TxRollback, TxRollbackOK     MethodID
}
