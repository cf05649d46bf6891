// Package client091 is the AMQP 0-9-1 client for RabbitMQ, including its
// protocol extensions (publisher confirms, basic.nack, exchange-to-exchange
// bindings, consumer-cancel and connection.blocked notifications). Its method
// structs, ids and protocol tables live in amqplib/spec091.
package client091

//go:generate go run ../amqplib/gen/api -common ../amqplib/common.go -package client091 -out zapi.go
