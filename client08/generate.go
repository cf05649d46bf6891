// Package client08 is the AMQP 0-8 client, in the dialect py-amqplib speaks:
// access tickets (access.request), the last ticket used by default, AMQPLAIN
// login, and 0-8's method ids and argument shapes. RabbitMQ still accepts
// AMQP 0-8. Features 0-8 lacks (publisher confirms, basic.nack,
// exchange-to-exchange bindings, connection.blocked) do not exist here.
// The method structs in zmethods.go are generated from the spec XML by
// amqplib/gen.
package client08

//go:generate go run ../amqplib/gen -spec /usr/share/amqp/specs/0-8/amqp0-8.stripped.xml -extra ../amqplib/gen/rabbitmq-0-8-extensions.xml -package client08 -out zmethods.go
