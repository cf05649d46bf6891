package amqplib_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec08"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// The recorder reads both protocols' method structs: declarations are
// kept in replay order (exchanges, queues, bindings), passive declares are
// not, deletes and unbinds remove records, and auto-delete entities go as
// the broker drops them.
func TestTopologyRecords091(t *testing.T) {
	var r amqplib.Topology
	r.Observe(&spec091.QueueDeclare{Queue: "q1"}, "q1")
	r.Observe(&spec091.ExchangeDeclare{Exchange: "x", Type: "direct"}, "")
	r.Observe(&spec091.ExchangeDeclare{Exchange: "auto", Type: "fanout", AutoDelete: true}, "")
	r.Observe(&spec091.ExchangeDeclare{Exchange: "p", Passive: true}, "")
	r.Observe(&spec091.QueueDeclare{Queue: "p", Passive: true}, "p")
	r.Observe(&spec091.QueueDeclare{Queue: "", Exclusive: true}, "amq.gen-1")
	r.Observe(&spec091.QueueBind{Queue: "q1", Exchange: "x", RoutingKey: "k"}, "")
	r.Observe(&spec091.QueueBind{Queue: "q1", Exchange: "x", RoutingKey: "k"}, "") // again: one record
	r.Observe(&spec091.QueueBind{Queue: "amq.gen-1", Exchange: "auto"}, "")
	r.Observe(&spec091.ExchangeBind{Destination: "x", Source: "auto", RoutingKey: "e"}, "")
	assert.Equal(t, []string{"exchange x", "exchange auto", "queue q1", "queue amq.gen-1",
		"queue binding q1 x k", "queue binding amq.gen-1 auto ", "exchange binding x auto e"}, r.Records())

	r.Observe(&spec091.ExchangeUnbind{Destination: "x", Source: "auto", RoutingKey: "e"}, "")
	assert.Contains(t, r.Records(), "exchange auto", "still bound to amq.gen-1")
	r.Observe(&spec091.QueueDelete{Queue: "amq.gen-1"}, "")
	assert.Equal(t, []string{"exchange x", "queue q1", "queue binding q1 x k"}, r.Records(),
		"the queue's bindings went with it, and then the auto-delete exchange")
	r.Observe(&spec091.QueueUnbind{Queue: "q1", Exchange: "x", RoutingKey: "k"}, "")
	assert.Equal(t, []string{"exchange x", "queue q1"}, r.Records(), "x is not auto-delete")
	r.Observe(&spec091.ExchangeDelete{Exchange: "x"}, "")
	assert.Equal(t, []string{"queue q1"}, r.Records())

	r.Observe(&spec091.QueueDeclare{Queue: "a", AutoDelete: true}, "a")
	r.Observe(&spec091.QueueBind{Queue: "a", Exchange: "amq.direct"}, "")
	r.ConsumerGone("q1")
	r.ConsumerGone("a")
	assert.Equal(t, []string{"queue q1"}, r.Records(), "an auto-delete queue goes with its last consumer")
}

func TestTopologyRecords08(t *testing.T) {
	var r amqplib.Topology
	r.Observe(&spec08.ExchangeDeclare{Ticket: 1, Exchange: "x", Type: "topic"}, "")
	r.Observe(&spec08.QueueDeclare{Ticket: 1, Queue: "q"}, "q")
	r.Observe(&spec08.QueueBind{Ticket: 1, Queue: "q", Exchange: "x", RoutingKey: "a.#"}, "")
	assert.Equal(t, []string{"exchange x", "queue q", "queue binding q x a.#"}, r.Records())
	r.Observe(&spec08.ExchangeDelete{Ticket: 1, Exchange: "x"}, "")
	assert.Equal(t, []string{"queue q"}, r.Records())
}

// After a rename, the old name in a method's queue field and in the
// routing key of a publish to the default exchange becomes the newest
// name (through a chain of renames); other exchanges' keys are kept. A
// changed 0-8 ticket is mapped the same way.
func TestTopologyRewrite(t *testing.T) {
	var r amqplib.Topology
	get := &spec091.BasicGet{Queue: "old"}
	r.Rewrite(get)
	assert.Equal(t, "old", get.Queue, "nothing renamed yet")

	r.Observe(&spec091.QueueDeclare{Exclusive: true}, "old")
	r.Observe(&spec091.QueueBind{Queue: "old", Exchange: "x"}, "")
	r.Renamed("old", "mid")
	r.Renamed("mid", "new")
	assert.Equal(t, []string{"queue new", "queue binding new x "}, r.Records())
	for _, name := range []string{"old", "mid"} {
		c := &spec091.BasicConsume{Queue: name}
		r.Rewrite(c)
		assert.Equal(t, "new", c.Queue)
		p := &spec091.BasicPublish{RoutingKey: name}
		r.Rewrite(p)
		assert.Equal(t, "new", p.RoutingKey)
	}
	p := &spec091.BasicPublish{Exchange: "x", RoutingKey: "old"}
	r.Rewrite(p)
	assert.Equal(t, "old", p.RoutingKey, "a routing key on another exchange is not a queue name")

	g := &spec08.BasicGet{Ticket: 1, Queue: "old"}
	r.Rewrite(g)
	assert.Equal(t, "new", g.Queue)
}

// A 0-8 channel whose access.request got another ticket on the new
// connection sends that one where the program's ticket was; one that got
// the program's own ticket back maps nothing (each restored channel starts
// afresh, so an earlier recovery's mapping does not linger).
func TestTicketsAfterRecovery(t *testing.T) {
	tickets := amqplib.TicketsAfter(1, &spec08.AccessRequestOK{Ticket: 2})
	assert.Equal(t, map[uint16]uint16{1: 2}, tickets)
	g := &spec08.BasicGet{Ticket: 1}
	amqplib.PrepareOn(tickets, g)
	assert.Equal(t, uint16(2), g.Ticket)
	other := &spec08.BasicGet{Ticket: 5}
	amqplib.PrepareOn(tickets, other)
	assert.Equal(t, uint16(5), other.Ticket, "a ticket the channel never asked for")
	assert.Nil(t, amqplib.TicketsAfter(1, &spec08.AccessRequestOK{Ticket: 1}))
}
