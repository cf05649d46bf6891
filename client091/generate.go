// Package client091 is the AMQP 0-9-1 client for RabbitMQ, including its
// protocol extensions (publisher confirms, basic.nack, exchange-to-exchange
// bindings, consumer-cancel and connection.blocked notifications). The method
// structs in zmethods.go are generated from the spec XML by amqplib/gen.
package client091

//go:generate go run ../amqplib/gen -spec /usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml -extra ../amqplib/gen/rabbitmq-0-9-1-extensions.xml -package client091 -out zmethods.go
