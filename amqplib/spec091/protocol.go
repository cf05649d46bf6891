package spec091

import (
	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Protocol describes AMQP 0-9-1 to the engine.
var Protocol = &amqplib.Protocol{
	Name:      "0-9-1",
	Header:    [8]byte{'A', 'M', 'Q', 'P', 0, 0, 9, 1},
	Known:     Known,
	NewMethod: NewMethod,
	Tables:    wire.TablesRabbit,
	Steps: amqplib.Steps{
		// The RabbitMQ extensions this client handles.
		Capabilities: amqp.Table{
			"publisher_confirms":           true,
			"exchange_exchange_bindings":   true,
			"basic.nack":                   true,
			"consumer_cancel_notify":       true,
			"connection.blocked":           true,
			"authentication_failure_close": true,
		},
		Mechanisms: []string{"PLAIN", "AMQPLAIN"},
		StartOK: func(props amqp.Table, mech, resp, locale string) wire.Method {
			return &ConnectionStartOK{ClientProperties: props, Mechanism: mech, Response: resp, Locale: locale}
		},
		SecureOK: func(resp string) wire.Method { return &ConnectionSecureOK{Response: resp} },
		TuneOK: func(ch uint16, fr uint32, hb uint16) wire.Method {
			return &ConnectionTuneOK{ChannelMax: ch, FrameMax: fr, Heartbeat: hb}
		},
		Open: func(vhost string) wire.Method { return &ConnectionOpen{VirtualHost: vhost} },
		UpdateSecret: func(secret, reason string) wire.Method {
			return &ConnectionUpdateSecret{NewSecret: secret, Reason: reason}
		},
	},
}
