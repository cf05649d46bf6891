// Command amqp-declare-queue declares a queue and prints its name followed
// by a newline; an empty name (-q "") asks the broker to choose one. Flags
// and exit codes are those of amqp-declare-queue from Debian's amqp-tools
// (see docs/cli.md).
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	t := cli.New("amqp-declare-queue", "[OPTIONS]...", stdout, stderr)
	queue := t.Flags.StringP("queue", "q", "", "the queue name to declare, or the empty string")
	durable := t.Flags.BoolP("durable", "d", false, "declare a durable queue")
	if code, ok := t.Parse(args); !ok {
		return code
	}
	if code, ok := t.NoOperands(); !ok {
		return code
	}
	if !t.Changed("queue") {
		return t.Usagef("queue name not specified")
	}
	s, err := t.Connect()
	if err != nil {
		return t.Fail("", err)
	}
	defer s.Close()
	q, err := s.QueueDeclare(*queue, amqp.QueueOptions{Durable: *durable})
	if err != nil {
		return t.Fail("queue.declare", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", q.Name); err != nil {
		return t.Fail("writing the queue name", err)
	}
	if err := s.Close(); err != nil {
		return t.Fail("closing", err)
	}
	return cli.ExitOK
}
