package main

import "fmt"

// A role is one of the small interfaces of package wire (method.go,
// roles.go) through which the engine reads a few methods' fields without
// knowing the dialect. The generator adds the role's methods to every struct
// listed, after checking that the fields it reads exist with the right type,
// so a spec that differs shows up here rather than as a compile error.
type role struct {
	iface    string      // wire interface, e.g. "Exception"
	methods  []string    // spec names of the methods that play it
	needs    [][2]string // fields each must have: Go name, AMQP type
	usesAmqp bool        // the emitted code refers to package amqp
	emit     func(w *writer, m *Method)
}

var roles = []*role{
	{
		iface:    "Exception",
		methods:  []string{"connection.close", "channel.close"},
		needs:    [][2]string{{"ReplyCode", "short"}, {"ReplyText", "shortstr"}, {"ClassID", "short"}, {"MethodID", "short"}},
		usesAmqp: true,
		emit:     emitException,
	},
	{
		iface:    "Delivering",
		methods:  []string{"basic.deliver", "basic.get-ok"},
		needs:    [][2]string{{"DeliveryTag", "longlong"}, {"Redelivered", "bit"}, {"Exchange", "shortstr"}, {"RoutingKey", "shortstr"}},
		usesAmqp: true,
		emit:     emitDelivering,
	},
	{
		iface:    "Returning",
		methods:  []string{"basic.return"},
		needs:    [][2]string{{"ReplyCode", "short"}, {"ReplyText", "shortstr"}, {"Exchange", "shortstr"}, {"RoutingKey", "shortstr"}},
		usesAmqp: true,
		emit:     emitReturning,
	},
	{
		iface:   "Confirming",
		methods: []string{"basic.ack", "basic.nack"},
		needs:   [][2]string{{"DeliveryTag", "longlong"}, {"Multiple", "bit"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// ConfirmInfo returns the delivery tag and the multiple flag.")
			w.p("func (m *%s) ConfirmInfo() (tag uint64, multiple bool) { return m.DeliveryTag, m.Multiple }\n", m.GoName)
		},
	},
	{
		iface:   "Cancelling",
		methods: []string{"basic.cancel"},
		needs:   [][2]string{{"ConsumerTag", "shortstr"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// CancelTag returns the consumer tag.")
			w.p("func (m *%s) CancelTag() string { return m.ConsumerTag }\n", m.GoName)
		},
	},
	{
		iface:   "BlockedNotice",
		methods: []string{"connection.blocked"},
		needs:   [][2]string{{"Reason", "shortstr"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// BlockedReason returns the reason the broker gave.")
			w.p("func (m *%s) BlockedReason() string { return m.Reason }\n", m.GoName)
		},
	},
	{
		iface:    "Starting",
		methods:  []string{"connection.start"},
		needs:    [][2]string{{"VersionMajor", "octet"}, {"VersionMinor", "octet"}, {"ServerProperties", "table"}, {"Mechanisms", "longstr"}, {"Locales", "longstr"}},
		usesAmqp: false,
		emit: func(w *writer, m *Method) {
			w.p("\n// StartInfo returns what the broker announced.")
			w.p("func (m *%s) StartInfo() wire.Start {", m.GoName)
			w.p("return wire.Start{VersionMajor: m.VersionMajor, VersionMinor: m.VersionMinor, ServerProperties: m.ServerProperties, Mechanisms: m.Mechanisms, Locales: m.Locales}")
			w.p("}\n")
		},
	},
	{
		iface:   "Tuning",
		methods: []string{"connection.tune"},
		needs:   [][2]string{{"ChannelMax", "short"}, {"FrameMax", "long"}, {"Heartbeat", "short"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// TuneInfo returns the broker's proposal.")
			w.p("func (m *%s) TuneInfo() (channelMax uint16, frameMax uint32, heartbeat uint16) {", m.GoName)
			w.p("return m.ChannelMax, m.FrameMax, m.Heartbeat")
			w.p("}\n")
		},
	},
	{
		iface:   "Redirecting",
		methods: []string{"connection.redirect"},
		needs:   [][2]string{{"Host", "shortstr"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// RedirectHost returns the host the broker sends the client to.")
			w.p("func (m *%s) RedirectHost() string { return m.Host }\n", m.GoName)
		},
	},
	{
		iface:   "ConsumeStarted",
		methods: []string{"basic.consume-ok"},
		needs:   [][2]string{{"ConsumerTag", "shortstr"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// StartedTag returns the consumer tag the broker confirmed.")
			w.p("func (m *%s) StartedTag() string { return m.ConsumerTag }\n", m.GoName)
		},
	},
	{
		iface:    "QueueDeclared",
		methods:  []string{"queue.declare-ok"},
		needs:    [][2]string{{"Queue", "shortstr"}, {"MessageCount", "long"}, {"ConsumerCount", "long"}},
		usesAmqp: true,
		emit: func(w *writer, m *Method) {
			w.p("\n// QueueInfo returns the declared queue's name and counts.")
			w.p("func (m *%s) QueueInfo() amqp.QueueInfo {", m.GoName)
			w.p("return amqp.QueueInfo{Name: m.Queue, Messages: int(m.MessageCount), Consumers: int(m.ConsumerCount)}")
			w.p("}\n")
		},
	},
	{
		iface:   "Flowing",
		methods: []string{"channel.flow", "channel.flow-ok"},
		needs:   [][2]string{{"Active", "bit"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// FlowActive reports whether the flow is on.")
			w.p("func (m *%s) FlowActive() bool { return m.Active }\n", m.GoName)
			w.p("// SetFlowActive sets the flow on or off.")
			w.p("func (m *%s) SetFlowActive(active bool) { m.Active = active }\n", m.GoName)
		},
	},
	{
		iface:   "Alerting",
		methods: []string{"channel.alert"},
		needs:   [][2]string{{"ReplyCode", "short"}, {"ReplyText", "shortstr"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// AlertInfo returns the alert's reply code and text.")
			w.p("func (m *%s) AlertInfo() (code uint16, text string) { return m.ReplyCode, m.ReplyText }\n", m.GoName)
		},
	},
	{
		iface:   "Counted",
		methods: []string{"queue.purge-ok", "queue.delete-ok"},
		needs:   [][2]string{{"MessageCount", "long"}},
		emit: func(w *writer, m *Method) {
			w.p("\n// Count returns the message count.")
			w.p("func (m *%s) Count() int { return int(m.MessageCount) }\n", m.GoName)
		},
	},
}

// check reports whether m has the fields the role reads.
func (r *role) check(m *Method) error {
	for _, need := range r.needs {
		if f := m.field(need[0]); f == nil || f.Type != need[1] {
			return fmt.Errorf("%s lacks a %s field of type %s, needed for wire.%s", m.FullName(), need[0], need[1], r.iface)
		}
	}
	return nil
}

// field returns the exported field named goName, or nil.
func (m *Method) field(goName string) *Field {
	for _, f := range m.Fields {
		if f.GoName == goName && !f.Reserved {
			return f
		}
	}
	return nil
}

func emitException(w *writer, m *Method) {
	w.p("\n// Exception returns the close reason as a server-sent *amqp.Error.")
	w.p("func (m *%s) Exception() *amqp.Error {", m.GoName)
	w.p("return &amqp.Error{Code: int(m.ReplyCode), Text: m.ReplyText, ClassID: m.ClassID, MethodID: m.MethodID, Server: true}")
	w.p("}\n")
	w.p("// SetException fills the close reason from e.")
	w.p("func (m *%s) SetException(e *amqp.Error) {", m.GoName)
	w.p("m.ReplyCode = uint16(e.Code)\nm.ReplyText = e.Text\nm.ClassID = e.ClassID\nm.MethodID = e.MethodID")
	w.p("}\n")
}

// deliveryFields are the amqp.Delivery fields copied from a method that has
// them: basic.deliver has a consumer tag, basic.get-ok a message count.
var deliveryFields = []string{"ConsumerTag", "DeliveryTag", "Redelivered", "Exchange", "RoutingKey", "MessageCount"}

func emitDelivering(w *writer, m *Method) {
	w.p("\n// DeliveryInfo copies the method's fields into d.")
	w.p("func (m *%s) DeliveryInfo(d *amqp.Delivery) {", m.GoName)
	for _, name := range deliveryFields {
		if m.field(name) != nil {
			w.p("d.%s = m.%[1]s", name)
		}
	}
	w.p("}\n")
}

func emitReturning(w *writer, m *Method) {
	w.p("\n// ReturnInfo copies the method's fields into r.")
	w.p("func (m *%s) ReturnInfo(r *amqp.Return) {", m.GoName)
	w.p("r.ReplyCode = int(m.ReplyCode)\nr.ReplyText = m.ReplyText\nr.Exchange = m.Exchange\nr.RoutingKey = m.RoutingKey")
	w.p("}\n")
}
