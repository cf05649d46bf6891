package client091

import (
	"context"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// Conn is an AMQP 0-9-1 connection. It is safe for use by several
// goroutines: opening channels, Close, the hooks and every query method may
// be called from any of them at once. Each Channel is for one goroutine at
// a time, with the exceptions its own doc lists.
type Conn struct {
	common amqplib.ConnCommon // the shared connection API (zapi.go forwards to it)
}

// Dial connects to an AMQP URI such as "amqp://guest:guest@localhost:5672"
// with the default Config.
func Dial(url string) (*Conn, error) { return DialConfig(url, amqp.Config{}) }

// DialConfig connects with cfg; its non-zero fields win over the URI's query
// options.
func DialConfig(url string, cfg amqp.Config) (*Conn, error) {
	return DialContext(context.Background(), url, cfg)
}

// DialContext connects, bounded by ctx and cfg.ConnectionTimeout.
//
// Options given here apply to the connection's whole life: OnConnect is the
// one way to run code on every connection, the first included.
func DialContext(ctx context.Context, url string, cfg amqp.Config, opts ...DialOption) (*Conn, error) {
	c, err := amqplib.DialURL(ctx, spec091.Protocol, url, cfg, dialHooks(opts))
	if err != nil {
		return nil, err
	}
	return &Conn{common: c}, nil
}

// DialURI connects to a URI value (built in code, or from amqp.ParseURI)
// with cfg, as DialConfig does with a URL.
func DialURI(uri amqp.URI, cfg amqp.Config) (*Conn, error) {
	return DialURIContext(context.Background(), uri, cfg)
}

// DialURIContext is DialURI bounded by ctx and cfg.ConnectionTimeout, with
// options as DialContext takes them.
func DialURIContext(ctx context.Context, uri amqp.URI, cfg amqp.Config, opts ...DialOption) (*Conn, error) {
	c, err := amqplib.DialURI(ctx, spec091.Protocol, uri, cfg, dialHooks(opts))
	if err != nil {
		return nil, err
	}
	return &Conn{common: c}, nil
}

// A DialOption is a hook given to DialContext or DialURIContext.
type DialOption struct{ set func(*amqplib.DialHooks) }

// OnConnect runs fn once the connection is open, before the dial returns,
// and with recovery on (Config.Recovery) again on every new connection:
// after the recorded exchanges, queues and bindings are declared again and
// before consumers and the calls that waited resume. fn gets a Conn for
// that one connection, which no recovery follows: channels it opens end
// with it (fn opens them again next time), and what it declares is not
// recorded. An error from fn fails the dial, or that recovery attempt,
// which is then retried. It is the place for set-up that must be there
// before anything else runs, in the style of nucleon.amqp's on_connect.
// fn must use only the Conn it is given: during a recovery, the program's
// own Conn and Channels wait for the recovery, which waits for fn.
func OnConnect(fn func(c *Conn) error) DialOption {
	return DialOption{func(h *amqplib.DialHooks) {
		h.OnConnect = func(cc amqplib.ConnCommon) error { return fn(&Conn{common: cc}) }
	}}
}

func dialHooks(opts []DialOption) amqplib.DialHooks {
	var h amqplib.DialHooks
	for _, o := range opts {
		if o.set != nil {
			o.set(&h)
		}
	}
	return h
}

// WithContext returns a view of the connection whose blocking calls
// (opening a channel, Close) end when ctx does, as well as at the
// connection timeout. Channels opened through the view are not bound to
// ctx: bind them with their own WithContext.
func (c *Conn) WithContext(ctx context.Context) *Conn {
	return &Conn{common: amqplib.BindConnCommon(c.common, ctx)}
}

// Channel opens a channel with the next free id.
func (c *Conn) Channel() (*Channel, error) {
	return amqplib.OpenChannel(c.Context(), c.common, 0, wrap)
}

// ChannelID returns the open channel numbered id, opening it if needed.
func (c *Conn) ChannelID(id uint16) (*Channel, error) {
	return amqplib.ChannelByID(c.Context(), c.common, id, wrap)
}

// WithChannel opens a channel, runs fn with it and closes it, returning
// fn's error or else the close error.
func (c *Conn) WithChannel(fn func(ch *Channel) error) error {
	return amqplib.WithChannel(c.Channel, fn)
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
func (c *Conn) Blocked() string { return c.common.Engine().Blocked() }

// OnBlocked sets a hook called when the broker blocks publishers (a memory
// or disk alarm); it runs on the connection's event goroutine.
func (c *Conn) OnBlocked(fn func(reason string)) {
	amqplib.SetConnHooks(c.common, func(h *amqplib.Hooks) { h.OnBlocked = fn })
}

// UpdateSecret replaces the secret the connection authenticated with (an
// OAuth 2 access token about to expire) without reconnecting: it sends
// RabbitMQ's connection.update-secret with reason (at most 255 bytes; it
// appears in the broker's log) and waits for the broker's update-secret-ok,
// bounded by the timeout and the connection's context. A broker that
// refuses the secret closes the connection with 530 NOT_ALLOWED, and the
// error matches amqp.ErrNotAllowed. The secret never appears in errors,
// logs or traces. With recovery on (Config.Recovery), the recovery logs in
// with the newest secret, and a call while the connection is lost waits for
// the recovery and runs on the new connection.
func (c *Conn) UpdateSecret(secret, reason string) error {
	return amqplib.UpdateSecret(c.common, c.Context(), secret, reason)
}

// OnUnblocked sets a hook called when the broker unblocks publishers.
func (c *Conn) OnUnblocked(fn func()) {
	amqplib.SetConnHooks(c.common, func(h *amqplib.Hooks) { h.OnUnblocked = fn })
}
