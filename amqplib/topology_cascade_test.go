package amqplib_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// R6: an auto-delete exchange dropped because its last binding went takes
// the exchange-to-exchange bindings that name it as destination with it on
// the broker (and may in turn auto-delete their source); the recorder keeps
// them, so recovery declares a binding to an exchange it no longer declares
// (404, reported to OnTopologyError).
func TestTopologyAutoDeleteCascade(t *testing.T) {
	var r amqplib.Topology
	r.Observe(&spec091.ExchangeDeclare{Exchange: "src", Type: "fanout"}, "")
	r.Observe(&spec091.ExchangeDeclare{Exchange: "ad", Type: "fanout", AutoDelete: true}, "")
	r.Observe(&spec091.ExchangeBind{Destination: "ad", Source: "src"}, "")
	r.Observe(&spec091.QueueDeclare{Queue: "q"}, "q")
	r.Observe(&spec091.QueueBind{Queue: "q", Exchange: "ad"}, "")
	r.Observe(&spec091.QueueUnbind{Queue: "q", Exchange: "ad"}, "") // the broker deletes ad, and src→ad
	assert.Equal(t, []string{"exchange src", "queue q"}, r.Records())
}

// R7: tickets are mapped by the ticket the program holds, but the chain
// update in ticketChanged compares with current tickets: two channels
// whose tickets swap (sequential numbering, replayed in id order) end up
// with one of them mapped to the wrong ticket.
func BenchmarkTopologyRewriteRenamed(b *testing.B) {
	var r amqplib.Topology
	r.Renamed("a", "b")
	p := &spec091.BasicPublish{Exchange: "x", RoutingKey: "k"}
	b.ReportAllocs()
	for b.Loop() {
		r.Rewrite(p)
	}
}
