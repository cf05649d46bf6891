// Package client08 is the AMQP 0-8 client, in the dialect py-amqplib speaks:
// access tickets (access.request), the last ticket used by default, AMQPLAIN
// login, and 0-8's method ids and argument shapes. RabbitMQ still accepts
// AMQP 0-8. Features 0-8 lacks (publisher confirms, basic.nack,
// exchange-to-exchange bindings, connection.blocked) do not exist here.
// Its method structs, ids and protocol tables live in amqplib/spec08.
package client08

//go:generate go run ../amqplib/gen/api -common ../amqplib/common.go -package client08 -out zapi.go
