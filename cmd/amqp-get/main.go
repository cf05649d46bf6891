// Command amqp-get gets one message from a queue and writes its body, as
// received, to standard output. It exits 0 when it printed a message, 2 when
// the queue was empty and 1 on error, like amqp-get from Debian's
// amqp-tools, whose flags it takes (see docs/cli.md).
package main

import (
	"io"
	"os"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	t := cli.New("amqp-get", "[OPTIONS]...", stdout, stderr)
	queue := t.Flags.StringP("queue", "q", "", "the queue to get a message from")
	if code, ok := t.Parse(args); !ok {
		return code
	}
	if code, ok := t.NoOperands(); !ok {
		return code
	}
	if !t.Changed("queue") {
		return t.Usagef("queue not specified")
	}
	s, err := t.Connect()
	if err != nil {
		return t.Fail("", err)
	}
	defer s.Close()
	d, ok, err := s.Get(*queue, amqp.GetOptions{NoAck: true})
	if err != nil {
		return t.Fail("basic.get", err)
	}
	if ok {
		if _, err := stdout.Write(d.Body); err != nil {
			return t.Fail("writing the body", err)
		}
	}
	if err := s.Close(); err != nil {
		return t.Fail("closing", err)
	}
	if !ok {
		return cli.ExitEmpty
	}
	return cli.ExitOK
}
