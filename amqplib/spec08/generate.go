// Package spec08 is the AMQP 0-8 wire vocabulary of the client08 dialect:
// one struct per method (generated from the spec XML by amqplib/gen), the
// method ids, NewMethod, the ids the engine recognises (Known), and
// Protocol, the descriptor the engine runs the dialect with. Programs use
// client08; this package is for the library and its tests.
package spec08

//go:generate go run ../gen -spec /usr/share/amqp/specs/0-8/amqp0-8.stripped.xml -extra ../gen/rabbitmq-0-8-extensions.xml -package spec08 -out zmethods.go
