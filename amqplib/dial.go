package amqplib

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// Dial connects to the broker named by uri, sends the protocol header, runs
// the handshake and starts the reader. ctx and the configured connection
// timeout bound the whole of it. A 0-8 connection.redirect is followed once.
func Dial(ctx context.Context, p *Protocol, uri amqp.URI, cfg amqp.Config) (*Conn, error) {
	c, err := dialOnce(ctx, p, uri, cfg)
	var r *redirect
	if errors.As(err, &r) {
		host, port, perr := splitHostPort(r.host, uri.Port)
		if perr != nil {
			return nil, fmt.Errorf("%w: bad connection.redirect host %q: %w", amqp.ErrHandshake, r.host, perr)
		}
		uri.Host, uri.Port = host, port
		c, err = dialOnce(ctx, p, uri, cfg)
		if errors.As(err, &r) {
			return nil, fmt.Errorf("%w: redirected twice (to %s); giving up", amqp.ErrHandshake, r.host)
		}
	}
	return c, err
}

func dialOnce(ctx context.Context, p *Protocol, uri amqp.URI, cfg amqp.Config) (*Conn, error) {
	timeout := cfg.ConnectionTimeout
	if timeout <= 0 {
		timeout = uri.ConnectionTimeout
	}
	if timeout <= 0 {
		timeout = amqp.DefaultConnectionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	tlsCfg := cfg.TLS
	if tlsCfg == nil && uri.TLS {
		var err error
		if tlsCfg, err = uri.TLSConfig(); err != nil {
			return nil, err
		}
	}
	dial := cfg.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	nc, err := dial(ctx, "tcp", uri.Addr())
	if err != nil {
		return nil, phaseError(ctx, "dial "+uri.Addr(), err)
	}
	if tlsCfg != nil {
		tc := tlsCfg.Clone()
		if tc.ServerName == "" {
			tc.ServerName = uri.Host
		}
		tconn := tls.Client(nc, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, phaseError(ctx, "TLS handshake with "+uri.Addr(), err)
		}
		nc = tconn
	}
	c := newConn(p, cfg, nc)
	c.addr = uri.Addr()
	h := &handshake{c: c, URI: uri, Config: &c.cfg, stage: "protocol header", ctx: ctx}
	err = h.run(ctx)
	if err != nil {
		nc.Close()
		return nil, err
	}
	c.start()
	return c, nil
}

func newConn(p *Protocol, cfg amqp.Config, nc net.Conn) *Conn {
	c := &Conn{
		proto:     p,
		cfg:       cfg,
		timeout:   cfg.TimeoutOrDefault(),
		nc:        nc,
		maxMsg:    cfg.MaxMessageSize,
		done:      make(chan struct{}),
		closeOK:   make(chan struct{}),
		readerEnd: make(chan struct{}),
		kick:      make(chan struct{}, 1),
	}
	c.turn.wake = make(chan struct{}, 1)
	c.wcond = sync.NewCond(&c.wmu)
	c.dec.Intern = &c.intern
	if c.maxMsg <= 0 {
		c.maxMsg = amqp.DefaultMaxMessageSize
	}
	c.enc.Policy = p.Tables
	if cfg.ExtendedTables {
		c.enc.Policy = wire.TablesRabbit
	}
	c.fr = wire.NewFrameReader(deadlineReader{c}, 64<<10)
	return c
}

// deadlineReader sets the read deadline before every read from the socket:
// two heartbeat intervals after bytes last arrived (noted at most every
// quarter interval), or a leading caller's own deadline if that comes
// first. The caller's deadline, or an interruption (see interruptLeader),
// ends the read with errLeadTimeout or errLeadInterrupted; the frame reader
// resumes where it stopped.
type deadlineReader struct{ c *Conn }

// staleDeadline forces the next read to set the deadline again.
var staleDeadline = time.Unix(1, 0)

func (r deadlineReader) Read(p []byte) (int, error) {
	c := r.c
	if !c.started {
		return c.nc.Read(p) // the handshake sets its own deadline
	}
	var dl time.Time
	hb := c.tuned.Heartbeat
	if hb > 0 {
		dl = c.armed.Add(2 * hb) // armed: when bytes last arrived, give or take hb/4
	}
	soft := !c.soft.IsZero() && (dl.IsZero() || c.soft.Before(dl))
	if soft {
		dl = c.soft
	}
	if !dl.Equal(c.curDL) {
		_ = c.nc.SetReadDeadline(dl)
		c.curDL = dl
	}
	// Checked after setting the deadline: an interruption that set its own
	// deadline before ours is seen here, one after ours ends the read.
	if c.interrupted.Swap(false) {
		c.curDL = staleDeadline
		return 0, errLeadInterrupted
	}
	n, err := c.nc.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	if n > 0 && hb > 0 {
		if now := time.Now(); now.Sub(c.armed) > hb/4 {
			c.armed = now
		}
	}
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		if dl.IsZero() || time.Now().Before(dl) { // not our deadline: an interruption
			c.curDL = staleDeadline
			c.interrupted.Store(false)
			return 0, errLeadInterrupted
		}
		if soft {
			return 0, errLeadTimeout
		}
	}
	return n, err
}

// start launches the reader, the heartbeat sender and the hook goroutine.
func (c *Conn) start() {
	_ = c.nc.SetDeadline(time.Time{})
	c.curDL, c.started, c.armed = time.Time{}, true, time.Now()
	c.fr.SetMaxFrame(c.tuned.FrameMax)
	c.chans = make([]atomic.Pointer[Channel], int(c.tuned.ChannelMax)+1)
	c.events.start()
	// Each goroutine starts when it is first needed, so a short-lived
	// connection costs no thread wake-ups for them: the background reader
	// once the turn has been free for idleRead or a caller needs it
	// (startReader), the flusher at the first publish (kickFlusher), the
	// hook goroutine at the first event a hook is set for; heartbeats are a
	// timer.
	//
	// The timers' callbacks run on goroutines of the runtime's choosing:
	// setUp, stored after every other write here and loaded first by each
	// callback, orders this set-up before them.
	c.setUp.Store(true)
	c.readerStart.Store(time.AfterFunc(idleRead, c.startReader))
	if c.tuned.Heartbeat > 0 {
		c.startHeartbeats()
	}
}

// handshake carries the connection through the dialect's handshake.
type handshake struct {
	c      *Conn
	URI    amqp.URI     // where to, who, which vhost
	Config *amqp.Config // the caller's settings
	stage  string
	ctx    context.Context // bounds the handshake; its cancellation is not a timeout
	// authCloses: both sides announced authentication_failure_close, so a
	// refused login arrives as a 403 connection.close, not as an EOF.
	authCloses bool
}

func (h *handshake) run(ctx context.Context) error {
	c := h.c
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.nc.Write(c.proto.Header[:]); err != nil {
		return h.fail(err)
	}
	h.stage = "connection.start"
	// A broker that refuses the version answers with its own header.
	peek, err := c.fr.Buffered().Peek(8)
	if err != nil {
		return h.fail(err)
	}
	if bytes.HasPrefix(peek, []byte("AMQP")) {
		return fmt.Errorf("%w: the broker refused AMQP %s and offers protocol header % X", amqp.ErrUnsupported, c.proto.Name, peek)
	}
	if peek[0] != wire.FrameMethod || peek[1] != 0 || peek[2] != 0 {
		// An AMQP broker's first frame is connection.start on channel 0.
		quote, _ := c.fr.Buffered().Peek(min(64, c.fr.Buffered().Buffered()))
		return fmt.Errorf("%w: %w: the peer at %s is not an AMQP broker: it answered %q", amqp.ErrHandshake, amqp.ErrProtocol, c.nc.RemoteAddr(), quote)
	}
	if err := h.steps(&c.proto.Steps); err != nil {
		var ae *amqp.Error
		var r *redirect
		if errors.As(err, &ae) || errors.As(err, &r) || errors.Is(err, amqp.ErrHandshake) || errors.Is(err, amqp.ErrAuth) ||
			errors.Is(err, amqp.ErrUnsupported) || errors.Is(err, amqp.ErrInvalidArgument) {
			return err
		}
		return h.fail(err)
	}
	return nil
}

// fail turns an I/O error during the handshake into a typed error that says
// which step was under way.
func (h *handshake) fail(err error) error {
	if errors.Is(h.ctx.Err(), context.Canceled) {
		return fmt.Errorf("%w: cancelled during %s: %w", amqp.ErrHandshake, h.stage, context.Cause(h.ctx))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: %w: no answer from the broker during %s", amqp.ErrHandshake, amqp.ErrTimeout, h.stage)
	}
	if (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err)) && h.stage == "login" {
		if h.authCloses {
			// The broker would have refused a bad login with a 403 close.
			return fmt.Errorf("%w: the connection was lost after the login was sent", amqp.ErrHandshake)
		}
		return fmt.Errorf("%w: the broker closed the connection after the login was sent (wrong user name or password, or mechanism refused)", amqp.ErrAuth)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isReset(err) {
		return fmt.Errorf("%w: the broker closed the connection during %s", amqp.ErrHandshake, h.stage)
	}
	return fmt.Errorf("%w: during %s: %w", amqp.ErrHandshake, h.stage, err)
}

// send writes methods on channel 0 in one write. The stage names the last
// step for errors.
func (h *handshake) send(ms ...wire.Method) error {
	// The client properties carry boolean capabilities, which RabbitMQ reads
	// on 0-8 connections too: the handshake encodes with the full type set.
	e := wire.Encoder{Policy: wire.TablesRabbit}
	for _, m := range ms {
		switch {
		case m.ID() == h.c.proto.Known.ConnectionStartOK || m.ID() == h.c.proto.Known.ConnectionSecureOK:
			h.stage = "login"
		default:
			h.stage = m.Name()
		}
		if h.c.cfg.Trace != nil {
			h.c.traceMethod("->", 0, m)
		}
		e.MethodFrame(0, m)
	}
	if err := e.Err(); err != nil {
		return err
	}
	if _, err := h.c.nc.Write(e.Buf); err != nil {
		return h.fail(err)
	}
	return nil
}

// recv reads the next method on channel 0, skipping heartbeats. A
// connection.close from the broker is answered and returned as *amqp.Error
// (wrapped in ErrAuth when it is 403 during the login).
func (h *handshake) recv() (wire.Method, error) {
	for {
		typ, ch, payload, err := h.c.fr.ReadFrame()
		if err != nil {
			return nil, h.fail(err)
		}
		if typ == wire.FrameHeartbeat {
			continue
		}
		if typ != wire.FrameMethod || ch != 0 {
			return nil, fmt.Errorf("%w: %w: frame type %d on channel %d during %s", amqp.ErrHandshake, amqp.ErrProtocol, typ, ch, h.stage)
		}
		m, err := decodeMethod(h.c.proto, payload, nil, new(wire.Decoder))
		if err != nil {
			return nil, amqperr.Wrap(amqp.ErrHandshake, err)
		}
		if h.c.cfg.Trace != nil {
			h.c.traceMethod("<-", 0, m)
		}
		if m.ID() == h.c.proto.Known.ConnectionClose {
			e := m.(wire.Exception).Exception()
			stage := h.stage
			_ = h.send(h.c.proto.NewMethod(h.c.proto.Known.ConnectionCloseOK))
			if e.Code == amqp.AccessRefused {
				return nil, amqperr.Wrap(amqp.ErrAuth, e)
			}
			if e.Code == amqp.NotAllowed && stage == "connection.open" {
				return nil, fmt.Errorf("%w: %w (the vhost asked for: %q)", amqp.ErrHandshake, e, h.URI.Vhost)
			}
			return nil, amqperr.Wrap(amqp.ErrHandshake, e)
		}
		return m, nil
	}
}

// decodeMethod decodes a method frame payload with the dialect's structs.
// reuse, when set, supplies a struct to decode into; d is the decoder to
// use (it escapes through the interface call, so the reader keeps one).
func decodeMethod(p *Protocol, payload []byte, reuse func(wire.MethodID) wire.Method, d *wire.Decoder) (wire.Method, error) {
	if len(payload) < 4 {
		return nil, &wire.FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("method frame of %d bytes", len(payload))}
	}
	id := wire.ID(uint16(payload[0])<<8|uint16(payload[1]), uint16(payload[2])<<8|uint16(payload[3]))
	var m wire.Method
	if reuse != nil {
		m = reuse(id)
	}
	if m == nil {
		m = p.NewMethod(id)
	}
	if m == nil {
		return nil, &wire.FrameError{Code: amqp.CommandInvalid, Msg: fmt.Sprintf("unknown method %s for AMQP %s", id, p.Name)}
	}
	*d = wire.Decoder{Buf: payload[4:], Intern: d.Intern}
	m.Decode(d)
	if err := d.Finish(); err != nil {
		return nil, &wire.FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("cannot decode %s: %v", m.Name(), err)}
	}
	return m, nil
}

// phaseError wraps an error of a dial phase (TCP, TLS) that ctx bounds: a
// deadline matches amqp.ErrTimeout; a cancellation matches context.Canceled
// and is never reported as a timeout.
func phaseError(ctx context.Context, what string, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("amqp: %s: cancelled: %w", what, context.Cause(ctx))
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %s: %w", amqp.ErrTimeout, what, err)
	}
	return fmt.Errorf("amqp: %s: %w", what, err)
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// unexpected is the error for a method that does not belong at this step.
func (h *handshake) unexpected(m wire.Method) error {
	return fmt.Errorf("%w: %w: got %s during %s", amqp.ErrHandshake, amqp.ErrProtocol, m.Name(), h.stage)
}

// redirect is the 0-8 connection.redirect, followed by Dial.
type redirect struct{ host string }

func (r *redirect) Error() string { return "amqp: connection.redirect to " + r.host }

func splitHostPort(hostport string, defPort int) (string, int, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport, defPort, nil // a bare host keeps the port
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return "", 0, fmt.Errorf("port %q", port)
	}
	return host, n, nil
}
