package wire

import "github.com/amqplib-go/amqp"

// ContentHeader appends a content-header payload: class id, weight 0, body
// size, property flags and the present properties.
func (e *Encoder) ContentHeader(class uint16, bodySize uint64, p *amqp.Properties) {
	panic("TODO")
}

// ContentHeader reads a content-header payload into p and returns its class
// id and body size. The caller calls d.Finish.
func (d *Decoder) ContentHeader(p *amqp.Properties) (class uint16, bodySize uint64) {
	panic("TODO")
}
