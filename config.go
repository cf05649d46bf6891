package amqp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"time"
)

// Version is this module's version: the one in CHANGELOG.md, and what the
// client announces to the broker in its connection properties.
const Version = "0.1.0"

// Defaults used when a Config field is zero.
const (
	DefaultTimeout           = 30 * time.Second
	DefaultConnectionTimeout = 30 * time.Second
	DefaultHeartbeat         = 60 * time.Second
	DefaultMaxMessageSize    = 128 << 20 // RabbitMQ's own max_message_size
	DefaultLocale            = "en_US"
)

// Config tunes a connection. Its zero value works: every zero field means the
// default, or the value given in the URI's query.
type Config struct {
	// Timeout bounds every blocking call (RPCs, close handshakes, confirm
	// waits). Default 30 s.
	Timeout time.Duration
	// ConnectionTimeout bounds the TCP/TLS dial plus the AMQP handshake.
	// Default 30 s (URI: connection_timeout, in ms).
	ConnectionTimeout time.Duration
	// Heartbeat is the interval asked for in tune-ok. 0: the URI's value,
	// else the smaller of 60 s and the broker's proposal; NoHeartbeat disables
	// heartbeats (URI: heartbeat, in seconds, 0 = off).
	Heartbeat time.Duration
	// FrameMax caps the frame size (0: URI, else the broker's).
	FrameMax uint32
	// ChannelMax caps the channel count (0: URI, else the broker's).
	ChannelMax uint16
	// AuthMechanisms lists SASL mechanisms in order of preference
	// (0-9-1 default PLAIN then AMQPLAIN; 0-8 default AMQPLAIN then PLAIN).
	AuthMechanisms []string
	// TLS overrides the TLS settings derived from an amqps URI. Setting it on
	// an amqp URI enables TLS too.
	TLS *tls.Config
	// ConnectionName is shown by RabbitMQ's management UI.
	ConnectionName string
	// Properties are extra client properties sent in connection.start-ok.
	Properties Table
	// BlockedTimeout, when set, makes Publish wait while the broker blocks
	// the connection (connection.blocked, 0-9-1: a memory or disk alarm)
	// and fail with an error matching ErrTimeout once it waited that long.
	// Zero: publishes are buffered and written as usual, and a write the
	// broker does not read fails after Timeout.
	BlockedTimeout time.Duration
	// MaxMessageSize bounds the body of a received message: a larger one is
	// not read into memory, and its channel closes with an error matching
	// ErrTooLarge (the broker requeues it); the connection stays open.
	// Default 128 MiB.
	MaxMessageSize int
	// ExtendedTables makes an AMQP 0-8 connection encode field tables with
	// RabbitMQ's full type set; by default 0-8 encodes only what the 0-8 spec
	// defines (long string, int32, decimal, timestamp, nested table) and
	// refuses other values before sending. Decoding always accepts the full
	// set. 0-9-1 connections always use the full set.
	ExtendedTables bool
	// Locale asked for (default en_US when the broker offers it).
	Locale string
	// Dial opens the TCP connection (default net.Dialer.DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logf receives diagnostic lines about events the client drops, such as
	// a returned message with no OnReturn callback or a frame for a channel
	// that is gone (nil: none). Passwords never reach it.
	Logf func(format string, args ...any)
	// Logger receives the same diagnostic lines as structured records, at
	// level Warn for what a program may want to know (a dropped delivery or
	// returned message, a 0-8 channel.alert) and Debug for the routine (a
	// frame in flight for a channel just closed), with the attribute
	// "component"="amqp" (nil: none). Passwords never reach it.
	Logger *slog.Logger
	// Addresses lists more "host:port" endpoints of the same broker or
	// cluster, dialled with the URL's credentials, vhost and TLS settings
	// (the TLS server name is each address's host unless TLS.ServerName is
	// set). Dial tries the URL's address and these, each once, in shuffled
	// order, and returns the first connection that opens; a refused login or
	// vhost (403, 530) stops it at once, since every node would say the same.
	// A host without a port takes the URL's port.
	Addresses []string
	// Recovery, when not nil, turns on automatic recovery: see Recovery.
	// nil (the default): the connection ends with an error when it fails.
	Recovery *Recovery
	// Trace receives one line per frame sent ("->") or received ("<-"),
	// e.g. "<- ch 1 basic.deliver &{ConsumerTag:...}" (nil: none). Login
	// responses are never shown, so passwords never reach it. It is called
	// on the goroutine that sends or receives, so it must be quick.
	Trace func(line string)
}

// TimeoutOrDefault returns Timeout, or DefaultTimeout when it is zero.
func (c *Config) TimeoutOrDefault() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}
