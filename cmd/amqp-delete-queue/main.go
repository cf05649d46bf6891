// Command amqp-delete-queue deletes a queue and prints how many messages it
// held, followed by a newline. Flags and exit codes are those of
// amqp-delete-queue from Debian's amqp-tools (see docs/cli.md); as there,
// -u means --url, so --if-unused has no short form.
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
	t := cli.New("amqp-delete-queue", "[OPTIONS]...", stdout, stderr)
	queue := t.Flags.StringP("queue", "q", "", "the queue name to delete")
	// amqp-tools lists -u for --if-unused too, but its --url takes -u first.
	ifUnused := t.Flags.Bool("if-unused", false, "do not delete unless the queue is unused")
	ifEmpty := t.Flags.BoolP("if-empty", "e", false, "do not delete unless the queue is empty")
	if code, ok := t.Parse(args); !ok {
		return code
	}
	if code, ok := t.NoOperands(); !ok {
		return code
	}
	if *queue == "" {
		return t.Usagef("queue name not specified")
	}
	s, err := t.Connect()
	if err != nil {
		return t.Fail("", err)
	}
	defer s.Close()
	n, err := s.QueueDelete(*queue, amqp.QueueDeleteOptions{IfUnused: *ifUnused, IfEmpty: *ifEmpty})
	if err != nil {
		return t.Fail("queue.delete", err)
	}
	if _, err := fmt.Fprintf(stdout, "%d\n", n); err != nil {
		return t.Fail("writing the message count", err)
	}
	if err := s.Close(); err != nil {
		return t.Fail("closing", err)
	}
	return cli.ExitOK
}
