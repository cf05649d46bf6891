// Command amqp-consume consumes messages from a queue and runs a command
// once per message with the body on its standard input, acknowledging the
// message when the command exits 0 (unless -A). Without a command it writes
// each body to standard output. Flags and exit codes are those of
// amqp-consume from Debian's amqp-tools (see docs/cli.md).
package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// maxPrefetch is the largest prefetch count basic.qos can carry.
const maxPrefetch = 65535

func run(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	t := cli.New("amqp-consume", "[OPTIONS]... [<command> <args>]", stdout, stderr)
	f := t.Flags
	queue := f.StringP("queue", "q", "", "the queue to consume from (default: a new server-named queue)")
	exchange := f.StringP("exchange", "e", "", "bind the queue to this exchange")
	routingKey := f.StringP("routing-key", "r", "", "the routing key to bind with (comma-separated: one binding each)")
	declare := f.BoolP("declare", "d", false, "declare an exclusive queue (deprecated, use --exclusive instead)")
	exclusive := f.BoolP("exclusive", "x", false, "declare the queue as exclusive")
	noAck := f.BoolP("no-ack", "A", false, "consume in no-ack mode")
	count := f.IntP("count", "c", -1, "stop consuming after this many messages are consumed")
	prefetch := f.IntP("prefetch-count", "p", -1, "receive only this many messages at a time from the server")
	t.Extra.BoolVar(&t.Recover, "recover", false, "keep consuming across connection failures: reconnect by itself (to any --server), declare the queue and bindings again, resume the consumer; a message may then be processed twice")
	if code, ok := t.Parse(args); !ok {
		return code
	}
	if t.Changed("routing-key") && !t.Changed("exchange") {
		return t.Usagef("--routing-key option requires an exchange name to be provided with --exchange")
	}

	s, err := t.Connect()
	if err != nil {
		return t.Fail("", err)
	}
	defer s.Close()

	// As amqp-tools: declare an auto-delete queue when no queue is named,
	// when binding to an exchange, or when asked to.
	name := *queue
	if !t.Changed("queue") || t.Changed("exchange") || *declare || *exclusive {
		q, err := s.QueueDeclare(name, amqp.QueueOptions{Exclusive: *exclusive, AutoDelete: true})
		if err != nil {
			return t.Fail("queue.declare", err)
		}
		if !t.Changed("queue") {
			name = q.Name
			t.Warnf("server provided queue name: %s", cli.Quote(name))
		}
	}
	if t.Changed("exchange") {
		for _, key := range bindingKeys(*routingKey) {
			if err := s.QueueBind(name, *exchange, key); err != nil {
				return t.Fail("queue.bind", err)
			}
		}
	}

	// The same basic.qos calls as amqp-tools: the count, then a smaller
	// prefetch count.
	countLimited := *count > 0 && *count <= maxPrefetch
	if countLimited {
		if err := s.Qos(*count); err != nil {
			return t.Fail("basic.qos", err)
		}
	}
	if *prefetch > 0 && *prefetch <= maxPrefetch && !(countLimited && *prefetch >= *count) {
		if err := s.Qos(*prefetch); err != nil {
			return t.Fail("basic.qos", err)
		}
	}

	c := &consumer{t: t, ch: s.Channel, command: t.Args(), noAck: *noAck}
	s.OnCancel(func(string) { c.err = errors.New("the broker cancelled the consumer (was the queue deleted?)") })
	if _, err := s.Consume(name, c.handle, amqp.ConsumeOptions{NoAck: *noAck}); err != nil {
		return t.Fail("basic.consume", err)
	}
	for *count < 0 || c.n < *count {
		if err := s.Wait(); err != nil {
			return t.Fail("waiting for messages", err)
		}
		if c.err != nil {
			return t.Fail("", c.err)
		}
	}
	if err := s.Close(); err != nil {
		return t.Fail("closing", err)
	}
	return cli.ExitOK
}

// bindingKeys splits -r at commas, skipping empty keys as amqp-tools does;
// no key at all binds once with the empty key.
func bindingKeys(s string) []string {
	var keys []string
	for k := range strings.SplitSeq(s, ",") {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		keys = []string{""}
	}
	return keys
}

// consumer handles deliveries inside Wait, on run's goroutine.
type consumer struct {
	t       *cli.Tool
	ch      cli.Channel
	command []string
	noAck   bool
	n       int   // deliveries handled
	err     error // stops the loop
}

func (c *consumer) handle(d *amqp.Delivery) {
	c.n++
	ok, err := c.process(d.Body)
	if err != nil {
		c.err = err
		return
	}
	if ok && !c.noAck {
		err := c.ch.Ack(d.DeliveryTag)
		if errors.Is(err, amqp.ErrStaleDelivery) {
			// --recover: received before the connection was lost; the
			// broker delivers it again.
			c.t.Warnf("could not acknowledge a message received before the connection was lost: it comes again")
			err = nil
		}
		if err != nil {
			c.err = &cli.OpError{Op: "basic.ack", Err: err}
		}
	}
}

// process hands a body to the command (or writes it to stdout) and
// reports whether it succeeded. A command that exits non-zero leaves the
// message unacknowledged, as with amqp-tools: the broker requeues it when
// the connection closes.
func (c *consumer) process(body []byte) (ok bool, err error) {
	if len(c.command) == 0 {
		if _, err := c.t.Stdout.Write(body); err != nil {
			return false, &cli.OpError{Op: "writing the body", Err: err}
		}
		return true, nil
	}
	cmd := exec.Command(c.command[0], c.command[1:]...)
	cmd.Stdin = bytes.NewReader(body)
	cmd.Stdout, cmd.Stderr = c.t.Stdout, c.t.ChildStderr()
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return false, nil
	}
	if err != nil {
		return false, &cli.OpError{Op: "running " + c.command[0], Err: err}
	}
	return true, nil
}
