package amqplib

import (
	"fmt"

	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Frame tracing for Config.Trace. Only the login methods and
// update-secret need care: they carry the password or token, so they are
// never formatted.

func (c *Conn) traceMethod(dir string, channel uint16, m wire.Method) {
	k := &c.proto.Known
	switch m.ID() {
	case k.ConnectionStartOK, k.ConnectionSecureOK:
		c.cfg.Trace(fmt.Sprintf("%s ch %d %s (login response hidden)", dir, channel, m.Name()))
	case k.ConnectionUpdateSecret:
		c.cfg.Trace(fmt.Sprintf("%s ch %d %s (secret hidden)", dir, channel, m.Name()))
	default:
		c.cfg.Trace(fmt.Sprintf("%s ch %d %s %+v", dir, channel, m.Name(), m))
	}
}

func (c *Conn) traceFrame(dir string, typ uint8, channel uint16, size int) {
	switch typ {
	case wire.FrameHeader:
		c.cfg.Trace(fmt.Sprintf("%s ch %d content header", dir, channel))
	case wire.FrameBody:
		c.cfg.Trace(fmt.Sprintf("%s ch %d content body, %d bytes", dir, channel, size))
	case wire.FrameHeartbeat:
		c.cfg.Trace(fmt.Sprintf("%s heartbeat", dir))
	}
}

// tracePublish traces a published message: method, header, body size.
func (c *Conn) tracePublish(channel uint16, m wire.Method, size int) {
	c.traceMethod("->", channel, m)
	c.cfg.Trace(fmt.Sprintf("-> ch %d content header + body, %d bytes", channel, size))
}
