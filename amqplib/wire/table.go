package wire

import "github.com/amqplib-go/amqp"

// Table appends a field table (u32 length, then entries), using e.Policy.
func (e *Encoder) Table(t amqp.Table) {
	panic("TODO")
}

// TableBody appends a field table's entries without the u32 length prefix
// (the AMQPLAIN login response).
func (e *Encoder) TableBody(t amqp.Table) {
	panic("TODO")
}

// Table reads a field table, accepting RabbitMQ's full type set.
func (d *Decoder) Table() amqp.Table {
	panic("TODO")
}
