package client091

import (
	"context"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Protocol describes AMQP 0-9-1 to the engine.
var Protocol = &amqplib.Protocol{
	Name:      "0-9-1",
	Header:    [8]byte{'A', 'M', 'Q', 'P', 0, 0, 9, 1},
	Known:     Known,
	NewMethod: NewMethod,
	Tables:    wire.TablesRabbit,
}

// capabilities are the RabbitMQ extensions this client handles, announced
// in connection.start-ok.
var capabilities = amqp.Table{
	"publisher_confirms":           true,
	"exchange_exchange_bindings":   true,
	"basic.nack":                   true,
	"consumer_cancel_notify":       true,
	"connection.blocked":           true,
	"authentication_failure_close": true,
}

// Conn is an AMQP 0-9-1 connection. It is safe for use by several
// goroutines; each Channel is for one goroutine at a time.
type Conn struct {
	amqplib.ConnCommon
}

// Dial connects to an AMQP URI such as "amqp://guest:guest@localhost:5672/"
// with the default Config.
func Dial(url string) (*Conn, error) { return DialConfig(url, amqp.Config{}) }

// DialConfig connects with cfg; its non-zero fields win over the URI's query
// options.
func DialConfig(url string, cfg amqp.Config) (*Conn, error) {
	return DialContext(context.Background(), url, cfg)
}

// DialContext connects, bounded by ctx and cfg.ConnectionTimeout.
func DialContext(ctx context.Context, url string, cfg amqp.Config) (*Conn, error) {
	uri, err := amqp.ParseURI(url)
	if err != nil {
		return nil, err
	}
	c, err := amqplib.Dial(ctx, Protocol, uri, cfg, handshake)
	if err != nil {
		return nil, err
	}
	return &Conn{ConnCommon: amqplib.NewConnCommon(c)}, nil
}

// handshake runs connection.start to connection.open-ok.
func handshake(h *amqplib.Handshake) error {
	start, err := amqplib.Expect[*ConnectionStart](h)
	if err != nil {
		return err
	}
	mech, resp, err := h.Login(start.Mechanisms, []string{"PLAIN", "AMQPLAIN"})
	if err != nil {
		return err
	}
	locale := h.Locale(start.Locales)
	err = h.Send(&ConnectionStartOK{ClientProperties: h.ClientProperties(capabilities), Mechanism: mech, Response: resp, Locale: locale})
	if err != nil {
		return err
	}
	var tune *ConnectionTune
	for tune == nil {
		m, err := h.Recv()
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *ConnectionSecure:
			// PLAIN and AMQPLAIN never get a challenge; answer with the same response.
			if err := h.Send(&ConnectionSecureOK{Response: resp}); err != nil {
				return err
			}
		case *ConnectionTune:
			tune = m
		default:
			return h.Unexpected(m)
		}
	}
	chMax, frMax, hb := h.Negotiate(tune.ChannelMax, tune.FrameMax, tune.Heartbeat)
	if err := h.Send(&ConnectionTuneOK{ChannelMax: chMax, FrameMax: frMax, Heartbeat: hb}); err != nil {
		return err
	}
	if err := h.Send(&ConnectionOpen{VirtualHost: h.Vhost()}); err != nil {
		return err
	}
	if _, err := amqplib.Expect[*ConnectionOpenOK](h); err != nil {
		return err
	}
	h.Done(amqplib.Tuned{
		ChannelMax: chMax, FrameMax: frMax, Heartbeat: time.Duration(hb) * time.Second,
		ServerProperties: start.ServerProperties, VersionMajor: start.VersionMajor, VersionMinor: start.VersionMinor,
		Mechanism: mech, Locale: locale,
	})
	return nil
}

// Channel opens a channel with the next free id.
func (c *Conn) Channel() (*Channel, error) { return c.open(0) }

// ChannelID returns the open channel numbered id, opening it if needed.
func (c *Conn) ChannelID(id uint16) (*Channel, error) {
	if id == 0 {
		return nil, amqp.Invalid("channel id 0 is the connection's")
	}
	if ch := c.Engine().Lookup(id); ch != nil {
		return wrap(ch), nil
	}
	return c.open(id)
}

func (c *Conn) open(id uint16) (*Channel, error) {
	ch, err := c.Engine().Channel(id)
	if err != nil {
		return nil, err
	}
	return wrap(ch), nil
}

// WithChannel opens a channel, runs fn with it and closes it, returning
// fn's error or else the close error.
func (c *Conn) WithChannel(fn func(ch *Channel) error) error {
	ch, err := c.Channel()
	if err != nil {
		return err
	}
	ferr := fn(ch)
	cerr := ch.Close()
	if ferr != nil {
		return ferr
	}
	return cerr
}

// PublisherConfirms reports whether the broker supports confirm.select.
func (c *Conn) PublisherConfirms() bool { return c.Capability("publisher_confirms") }

// BasicNack reports whether the broker supports basic.nack.
func (c *Conn) BasicNack() bool { return c.Capability("basic.nack") }

// ExchangeBindings reports whether the broker supports exchange.bind.
func (c *Conn) ExchangeBindings() bool { return c.Capability("exchange_exchange_bindings") }

// ConsumerCancelNotify reports whether the broker tells consumers when it
// cancels them.
func (c *Conn) ConsumerCancelNotify() bool { return c.Capability("consumer_cancel_notify") }

// Blocked returns the broker's reason while it blocks publishers
// (connection.blocked), else "".
func (c *Conn) Blocked() string { return c.Engine().Blocked() }

// OnBlocked sets a hook called when the broker blocks publishers (a memory
// or disk alarm); it runs on the connection's event goroutine.
func (c *Conn) OnBlocked(fn func(reason string)) {
	c.Engine().SetHooks(func(h *amqplib.Hooks) { h.OnBlocked = fn })
}

// OnUnblocked sets a hook called when the broker unblocks publishers.
func (c *Conn) OnUnblocked(fn func()) {
	c.Engine().SetHooks(func(h *amqplib.Hooks) { h.OnUnblocked = fn })
}
