package cli

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
)

// Conn is a connection of either protocol version.
type Conn interface {
	Channel() (Channel, error)
	Close() error
}

// Channel is the part of the channel API the commands use; both
// *client091.Channel and *client08.Channel implement it.
type Channel interface {
	QueueDeclare(name string, opts ...amqp.QueueOptions) (amqp.QueueInfo, error)
	QueueBind(queue, exchange, routingKey string, opts ...amqp.BindOptions) error
	QueueDelete(name string, opts ...amqp.QueueDeleteOptions) (int, error)
	Publish(exchange, routingKey string, msg amqp.Message, opts ...amqp.PublishOptions) error
	Get(queue string, opts ...amqp.GetOptions) (*amqp.Delivery, bool, error)
	Qos(prefetchCount int, opts ...amqp.QosOptions) error
	Consume(queue string, fn func(*amqp.Delivery), opts ...amqp.ConsumeOptions) (string, error)
	Ack(deliveryTag uint64, opts ...amqp.AckOptions) error
	Wait() error
	Pending() int
	OnReturn(fn func(*amqp.Return))
	OnCancel(fn func(consumerTag string))
	TxSelect() error
	TxCommit() error
	Close() error
	Err() error
}

// Confirmer is the publisher-confirm API, which only 0-9-1 channels have.
type Confirmer interface {
	ConfirmSelect() error
	WaitConfirms() error
}

var (
	_ Channel   = (*client091.Channel)(nil)
	_ Channel   = (*client08.Channel)(nil)
	_ Confirmer = (*client091.Channel)(nil)
)

type conn091 struct{ c *client091.Conn }

func (c conn091) Channel() (Channel, error) {
	ch, err := c.c.Channel()
	if err != nil {
		return nil, err
	}
	return ch, nil
}

func (c conn091) Close() error { return c.c.Close() }

type conn08 struct{ c *client08.Conn }

func (c conn08) Channel() (Channel, error) {
	ch, err := c.c.Channel()
	if err != nil {
		return nil, err
	}
	return ch, nil
}

func (c conn08) Close() error { return c.c.Close() }

// Getenv is how Connect reads $AMQP_URL (tests replace it).
var Getenv = os.Getenv

// Session is a connection and the one channel a command uses.
type Session struct {
	Conn Conn
	Channel
}

// Close closes the channel, then the connection. Like amqp-tools, which
// closes its channel before its connection, it reports an exception the
// broker raised on the channel meanwhile (such as the 404 for a publish to
// a missing exchange). Closing twice returns nil.
func (s *Session) Close() error {
	if s.Conn == nil {
		return nil
	}
	err := s.Channel.Close()
	if err == nil {
		err = s.Channel.Err()
	}
	if cerr := s.Conn.Close(); err == nil {
		err = cerr
	}
	s.Conn = nil
	return err
}

// Connect assembles the URI from the flags, dials it with the chosen
// protocol version and opens a channel. On failure the connection is
// closed and the error says what failed; it never shows the password.
func (t *Tool) Connect() (*Session, error) {
	u, err := t.Conn.URI(Getenv)
	if err != nil {
		return nil, err
	}
	cfg := amqp.Config{
		Timeout:           t.Conn.Timeout,
		ConnectionTimeout: t.Conn.Timeout,
		Heartbeat:         u.Heartbeat,
		FrameMax:          u.FrameMax,
		ChannelMax:        u.ChannelMax,
		AuthMechanisms:    u.AuthMechanisms,
		ConnectionName:    t.Name,
		Addresses:         t.Conn.Addresses(),
		Trace:             t.trace(),
	}
	if cfg.ConnectionTimeout == 0 {
		cfg.ConnectionTimeout = u.ConnectionTimeout
	}
	if t.Recover {
		cfg.Recovery = &amqp.Recovery{}
	}
	if cfg.TLS, err = u.TLSConfig(); err != nil {
		return nil, err
	}
	where := "connecting to " + u.String()
	if t.Conn.Verbose {
		t.Warnf("%s (AMQP %s)", where, t.Conn.Protocol)
	}
	var c Conn
	if t.Conn.Protocol == Proto08 {
		var c8 *client08.Conn
		c8, err = client08.DialURIContext(context.Background(), u, cfg)
		c = conn08{c8}
		if err == nil {
			t.reportRecovery(c8)
		}
	} else {
		var c9 *client091.Conn
		c9, err = client091.DialURIContext(context.Background(), u, cfg)
		c = conn091{c9}
		if err == nil {
			t.reportRecovery(c9)
		}
	}
	if err != nil {
		return nil, &OpError{Op: where, Err: err}
	}
	ch, err := c.Channel()
	if err != nil {
		c.Close()
		return nil, &OpError{Op: "opening a channel", Err: err}
	}
	return &Session{Conn: c, Channel: ch}, nil
}

// recoveryHooks are the hooks both dialects' connections have.
type recoveryHooks interface {
	OnDisconnect(fn func(err error))
	OnRecovered(fn func())
	OnQueueRenamed(fn func(oldName, name string))
	OnTopologyError(fn func(err *amqp.TopologyError))
}

// reportRecovery makes a recovering connection say on stderr what happens.
func (t *Tool) reportRecovery(c recoveryHooks) {
	if !t.Recover {
		return
	}
	c.OnDisconnect(func(err error) { t.Warnf("connection lost (%s); reconnecting", Describe(err)) })
	c.OnRecovered(func() { t.Warnf("connection recovered") })
	c.OnQueueRenamed(func(old, name string) { t.Warnf("server provided queue name %s replaces %s", Quote(name), Quote(old)) })
	c.OnTopologyError(func(err *amqp.TopologyError) { t.Warnf("%s", Describe(err)) })
}

// OpError says which step failed.
type OpError struct {
	Op  string
	Err error
}

// Error says which operation failed and why, with the broker's code and text.
func (e *OpError) Error() string { return e.Op + ": " + Describe(e.Err) }

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

// Describe formats an error for a user: a broker exception as its reply
// code and text ("404 NOT_FOUND - no queue 'x' in vhost '/'"), anything
// else without the library's "amqp: " prefixes.
func Describe(err error) string {
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.Op + ": " + Describe(oe.Err)
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return strconv.Itoa(ae.Code) + " " + Quote(ae.Text)
	}
	return strings.ReplaceAll(err.Error(), "amqp: ", "")
}
