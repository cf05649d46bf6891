package amqplib_test

import (
	"bytes"
	"testing"

	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec08"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// FuzzMethodDecode feeds arbitrary method arguments to every generated
// method of both protocol versions: decoding never panics, and whatever
// decodes cleanly encodes back to arguments that decode to the same value.
func FuzzMethodDecode(f *testing.F) {
	protos := []*amqplib.Protocol{spec091.Protocol, spec08.Protocol}
	seed := func(p uint8, m wire.Method) {
		var e wire.Encoder
		m.Encode(&e)
		id := m.ID()
		f.Add(p, id.Class(), id.Method(), e.Buf)
	}
	seed(0, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 42, Redelivered: true, Exchange: "ex", RoutingKey: "rk"})
	seed(0, &spec091.QueueDeclare{Queue: "q", Durable: true})
	seed(0, &spec091.ConnectionClose{ReplyCode: 320, ReplyText: "CONNECTION_FORCED - x", ClassID: 10, MethodID: 40})
	seed(1, &spec08.AccessRequestOK{Ticket: 1})
	seed(1, &spec08.BasicConsume{Ticket: 1, Queue: "q", NoAck: true})
	f.Fuzz(func(t *testing.T, which uint8, class, method uint16, args []byte) {
		p := protos[int(which)%len(protos)]
		id := wire.ID(class, method)
		m := p.NewMethod(id)
		if m == nil {
			return
		}
		d := wire.NewDecoder(args)
		m.Decode(&d)
		if d.Finish() != nil {
			return
		}
		var e wire.Encoder
		m.Encode(&e)
		if e.Err() != nil {
			return // e.g. invalid UTF-8 in a short string: decoding is lenient, encoding is not
		}
		again := p.NewMethod(id)
		d2 := wire.NewDecoder(e.Buf)
		again.Decode(&d2)
		if err := d2.Finish(); err != nil {
			t.Fatalf("%s: re-encoded arguments do not decode: %v", m.Name(), err)
		}
		// Bytes, not values: a NaN in a table is not equal to itself.
		var e2 wire.Encoder
		again.Encode(&e2)
		if !bytes.Equal(e.Buf, e2.Buf) {
			t.Fatalf("%s: round trip changed the value:\n%+v\n%+v", m.Name(), m, again)
		}
	})
}
