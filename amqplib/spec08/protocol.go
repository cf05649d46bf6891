package spec08

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Protocol describes AMQP 0-8 to the engine.
var Protocol = &amqplib.Protocol{
	Name:      "0-8",
	Header:    [8]byte{'A', 'M', 'Q', 'P', 1, 1, 8, 0},
	Known:     Known,
	NewMethod: NewMethod,
	Tables:    wire.Tables08,
	Steps: amqplib.Steps{
		// RabbitMQ reads these on 0-8 too; connection.blocked must not be
		// announced (its ids are 0-8's connection.close).
		Capabilities: amqp.Table{
			"consumer_cancel_notify":       true,
			"authentication_failure_close": true,
		},
		Mechanisms: []string{"AMQPLAIN", "PLAIN"},
		StartOK: func(props amqp.Table, mech, resp, locale string) wire.Method {
			return &ConnectionStartOK{ClientProperties: props, Mechanism: mech, Response: resp, Locale: locale}
		},
		SecureOK: func(resp string) wire.Method { return &ConnectionSecureOK{Response: resp} },
		TuneOK: func(ch uint16, fr uint32, hb uint16) wire.Method {
			return &ConnectionTuneOK{ChannelMax: ch, FrameMax: fr, Heartbeat: hb}
		},
		Open: func(vhost string) wire.Method { return &ConnectionOpen{VirtualHost: vhost} },
	},
}
