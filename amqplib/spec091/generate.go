// Package spec091 is the AMQP 0-9-1 wire vocabulary of the client091 dialect:
// one struct per method (generated from the spec XML by amqplib/gen), the
// method ids, NewMethod, the ids the engine recognises (Known), and
// Protocol, the descriptor the engine runs the dialect with. Programs use
// client091; this package is for the library and its tests.
package spec091

//go:generate go run ../gen -spec /usr/share/amqp/specs/0-9-1-rabbit/amqp0-9-1.stripped.extended.xml -extra ../gen/rabbitmq-0-9-1-extensions.xml -package spec091 -out zmethods.go
