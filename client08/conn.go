package client08

import (
	"context"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/spec08"
)

// Conn is an AMQP 0-8 connection. It is safe for use by several
// goroutines: opening channels, Close, the hooks and every query method may
// be called from any of them at once. Each Channel is for one goroutine at
// a time, with the exceptions its own doc lists.
type Conn struct {
	common amqplib.ConnCommon // the shared connection API (zapi.go forwards to it)
}

// Dial connects to an AMQP URI such as "amqp://guest:guest@localhost:5672"
// with the default Config, logging in with AMQPLAIN.
func Dial(url string) (*Conn, error) { return DialConfig(url, amqp.Config{}) }

// DialConfig connects with cfg; its non-zero fields win over the URI's query
// options.
func DialConfig(url string, cfg amqp.Config) (*Conn, error) {
	return DialContext(context.Background(), url, cfg)
}

// DialContext connects, bounded by ctx and cfg.ConnectionTimeout. A
// connection.redirect from the broker is followed once.
func DialContext(ctx context.Context, url string, cfg amqp.Config) (*Conn, error) {
	c, err := amqplib.DialURL(ctx, spec08.Protocol, url, cfg)
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

// DialURIContext is DialURI bounded by ctx and cfg.ConnectionTimeout.
func DialURIContext(ctx context.Context, uri amqp.URI, cfg amqp.Config) (*Conn, error) {
	c, err := amqplib.DialURI(ctx, spec08.Protocol, uri, cfg)
	if err != nil {
		return nil, err
	}
	return &Conn{common: c}, nil
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

// OnAlert sets a hook called when the broker sends channel.alert (an AMQP
// 0-8 notice about a channel, with a reply code and text); the text is the
// broker's, unescaped. It runs on the connection's event goroutine.
func (c *Conn) OnAlert(fn func(channel uint16, code int, text string)) {
	amqplib.SetConnHooks(c.common, func(h *amqplib.Hooks) { h.OnAlert = fn })
}
