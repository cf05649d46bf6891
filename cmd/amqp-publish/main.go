// Command amqp-publish publishes a message: the -b body, else the whole of
// standard input, or with -l each line of standard input (newline kept).
// Flags, output and exit codes are those of amqp-publish from Debian's
// amqp-tools, plus --confirm and --mandatory (see docs/cli.md).
package main

import (
	"bufio"
	"errors"
	"io"
	"os"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	t := cli.New("amqp-publish", "[OPTIONS]...", stdout, stderr)
	f := t.Flags
	exchange := f.StringP("exchange", "e", "", "the exchange to publish to")
	routingKey := f.StringP("routing-key", "r", "", "the routing key to publish with")
	persistent := f.BoolP("persistent", "p", false, "use the persistent delivery mode")
	contentType := f.StringP("content-type", "C", "", "the content-type for the message")
	replyTo := f.StringP("reply-to", "t", "", "the replyTo to use for the message")
	lines := f.BoolP("line-buffered", "l", false, "treat each line from standard in as a separate message")
	contentEncoding := f.StringP("content-encoding", "E", "", "the content-encoding for the message")
	headers := f.StringArrayP("header", "H", nil, "set a message header, \"key: value\" (may be specified multiple times)")
	body := f.StringP("body", "b", "", "specify the message body")
	confirm := t.Extra.Bool("confirm", false, "wait for the broker's publisher confirm; exit 1 unless it acked (0-9-1 only)")
	mandatory := t.Extra.Bool("mandatory", false, "publish as mandatory; exit 1 if the broker returned the message as unroutable")
	if code, ok := t.Parse(args); !ok {
		return code
	}
	if code, ok := t.NoOperands(); !ok {
		return code
	}
	if !t.Changed("exchange") && !t.Changed("routing-key") {
		return t.Usagef("neither exchange nor routing key specified")
	}
	if *confirm && t.Conn.Protocol == cli.Proto08 {
		return t.Usagef("--confirm needs --protocol %s (AMQP 0-8 has no publisher confirms)", cli.Proto091)
	}

	var props amqp.Properties
	props.DeliveryMode = amqp.Transient // amqp-tools always sends a delivery mode
	if *persistent {
		props.DeliveryMode = amqp.Persistent
	}
	props.ContentType, props.ContentEncoding, props.ReplyTo = *contentType, *contentEncoding, *replyTo
	for _, h := range *headers {
		k, v, ok := cli.ParseHeader(h)
		if !ok {
			t.Warnf("ignored header definition missing ':' delimiter in %q", h)
			continue
		}
		if props.Headers == nil {
			props.Headers = amqp.Table{}
		}
		props.Headers[k] = v
	}

	s, err := t.Connect()
	if err != nil {
		return t.Fail("", err)
	}
	defer s.Close()
	p := &publisher{t: t, ch: s.Channel, exchange: *exchange, key: *routingKey, props: props}
	p.opts.Mandatory = *mandatory
	if err := p.start(*confirm); err != nil {
		return t.Fail("", err)
	}

	switch {
	case t.Changed("body"):
		err = p.publish([]byte(*body))
	case *lines:
		err = p.publishLines(stdin)
	default:
		var all []byte
		if all, err = io.ReadAll(stdin); err != nil {
			err = &cli.OpError{Op: "reading standard input", Err: err}
		} else {
			err = p.publish(all)
		}
	}
	if err == nil {
		err = p.sync()
	}
	if err != nil {
		return t.Fail("", err)
	}
	if err := s.Close(); err != nil {
		return t.Fail("closing", err)
	}
	if p.returned > 0 {
		t.Warnf("%d message(s) returned by the broker as unroutable", p.returned)
		return cli.ExitError
	}
	return cli.ExitOK
}

// publisher publishes with the sync point the flags need: with --confirm
// (and with --mandatory on 0-9-1) the channel is in confirm mode and sync
// waits for the confirms; with --mandatory on 0-8, which has no confirms,
// the channel is transactional and sync commits. Either way a basic.return
// arrives before the confirm or the commit-ok, so after sync every return
// has been counted. Without either flag the connection's close handshake
// is the only sync point, as with amqp-tools.
type publisher struct {
	t        *cli.Tool
	ch       cli.Channel
	exchange string
	key      string
	props    amqp.Properties
	opts     amqp.PublishOptions
	conf     cli.Confirmer // confirm mode
	tx       bool          // transaction mode
	unsynced int           // messages published since the last sync
	returned int
}

func (p *publisher) start(confirm bool) error {
	if !confirm && !p.opts.Mandatory {
		return nil
	}
	p.ch.OnReturn(func(r *amqp.Return) {
		p.returned++
		p.t.Warnf("message returned: %d %s (exchange %q, routing key %q)", r.ReplyCode, cli.Quote(r.ReplyText), r.Exchange, r.RoutingKey)
	})
	if c, ok := p.ch.(cli.Confirmer); ok {
		if err := c.ConfirmSelect(); err != nil {
			return &cli.OpError{Op: "confirm.select", Err: err}
		}
		p.conf = c
		return nil
	}
	if err := p.ch.TxSelect(); err != nil {
		return &cli.OpError{Op: "tx.select", Err: err}
	}
	p.tx = true
	return nil
}

func (p *publisher) publish(body []byte) error {
	if err := p.ch.Publish(p.exchange, p.key, amqp.Message{Properties: p.props, Body: body}, p.opts); err != nil {
		return &cli.OpError{Op: "basic.publish", Err: err}
	}
	p.unsynced++
	return nil
}

// sync waits until the broker has dealt with every message published so
// far, running the return callback for those it returned.
func (p *publisher) sync() error {
	if p.unsynced == 0 {
		return nil
	}
	p.unsynced = 0
	switch {
	case p.conf != nil:
		if err := p.conf.WaitConfirms(); err != nil {
			return &cli.OpError{Op: "waiting for publisher confirms", Err: err}
		}
	case p.tx:
		if err := p.ch.TxCommit(); err != nil {
			return &cli.OpError{Op: "tx.commit", Err: err}
		}
	}
	for p.ch.Pending() > 0 { // the returns queued before the confirms or commit-ok
		if err := p.ch.Wait(); err != nil {
			return &cli.OpError{Op: "basic.return", Err: err}
		}
	}
	return nil
}

// publishLines publishes each line of r, newline included; a last line
// without a newline is published as it is. It syncs whenever it has read
// all the input available so far, so that a stream (tail -f) is confirmed
// as it goes and a file in batches.
func (p *publisher) publishLines(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		if br.Buffered() == 0 {
			if err := p.sync(); err != nil {
				return err
			}
		}
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if err := p.publish(line); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &cli.OpError{Op: "reading standard input", Err: err}
		}
	}
}
