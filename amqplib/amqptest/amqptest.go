// Package amqptest is a scripted fake AMQP broker for tests and benchmarks,
// built on the same wire codec as the client. Each accepted connection runs
// a script that reads and writes frames; handshake helpers cover the usual
// opening so scripts can focus on the case under test.
package amqptest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Script drives one accepted connection. A returned error fails the test.
type Script func(s *Session) error

// Server accepts connections on 127.0.0.1 and runs the script on each.
type Server struct {
	URL   string // amqp://guest:guest@127.0.0.1:port (vhost "/")
	Addr  string
	ln    net.Listener
	proto *amqplib.Protocol
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
	conns []net.Conn
}

// NewServer starts a fake broker speaking p; it stops at the test's end and
// reports script errors then.
func NewServer(t testing.TB, p *amqplib.Protocol, script Script) *Server {
	return NewTLSServer(t, p, nil, script)
}

// NewTLSServer is NewServer behind TLS with cfg (plain TCP when cfg is
// nil); its URL is then amqps://.
func NewTLSServer(t testing.TB, p *amqplib.Protocol, cfg *tls.Config, script Script) *Server {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("amqptest: listen: %v", err)
	}
	scheme := "amqp"
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
		scheme = "amqps"
	}
	s := &Server{ln: ln, proto: p, Addr: ln.Addr().String()}
	s.URL = scheme + "://guest:guest@" + s.Addr
	s.wg.Add(1)
	go s.accept(script)
	t.Cleanup(func() {
		s.Close()
		for _, err := range s.Errors() {
			t.Errorf("amqptest script: %v", err)
		}
	})
	return s
}

func (s *Server) accept(script Script) {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer nc.Close()
			sess := &Session{Conn: nc, Proto: s.proto, fr: wire.NewFrameReader(nc, 64<<10)}
			sess.fr.SetMaxFrame(0)
			if err := script(sess); err != nil && !errors.Is(err, net.ErrClosed) {
				s.mu.Lock()
				s.errs = append(s.errs, err)
				s.mu.Unlock()
			}
		}()
	}
}

// Close stops accepting, closes every connection and waits for the scripts.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Errors returns the errors scripts returned so far.
func (s *Server) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Session is one connection seen from the fake broker.
type Session struct {
	Conn  net.Conn
	Proto *amqplib.Protocol
	fr    *wire.FrameReader
	enc   wire.Encoder
	wmu   sync.Mutex

	// Filled by Handshake from the client's connection.start-ok.
	ClientProperties amqp.Table
	Mechanism        string
	Response         string
	Locale           string
	Vhost            string
	TuneOK           Tune
}

// Tune is what the fake broker proposes in connection.tune (and what the
// client answered in tune-ok).
type Tune struct {
	ChannelMax uint16
	FrameMax   uint32
	Heartbeat  uint16
}

// DefaultTune is RabbitMQ 3.10's proposal.
var DefaultTune = Tune{ChannelMax: 2047, FrameMax: 131072, Heartbeat: 60}

// ReadProtocolHeader reads the client's 8-byte protocol header.
func (s *Session) ReadProtocolHeader() ([8]byte, error) {
	var h [8]byte
	_, err := io.ReadFull(s.fr.Buffered(), h[:])
	return h, err
}

// Handshake plays the broker's side up to connection.open-ok: start with
// PLAIN and AMQPLAIN, then tune as given, checking the header matches.
func (s *Session) Handshake(t Tune) error {
	h, err := s.ReadProtocolHeader()
	if err != nil {
		return err
	}
	if h != s.Proto.Header {
		return fmt.Errorf("protocol header % X, want % X", h, s.Proto.Header)
	}
	if err := s.SendStart(nil); err != nil {
		return err
	}
	k := &s.Proto.Known
	p, err := s.ExpectRaw(0, k.ConnectionStartOK)
	if err != nil {
		return err
	}
	d := wire.NewDecoder(p)
	s.ClientProperties = d.Table()
	s.Mechanism = d.ShortStr()
	s.Response = d.LongStr()
	s.Locale = d.ShortStr()
	if err := d.Finish(); err != nil {
		return fmt.Errorf("start-ok: %w", err)
	}
	if err := s.SendRaw(0, k.ConnectionTune, func(e *wire.Encoder) {
		e.Short(t.ChannelMax)
		e.Long(t.FrameMax)
		e.Short(t.Heartbeat)
	}); err != nil {
		return err
	}
	if p, err = s.ExpectRaw(0, k.ConnectionTuneOK); err != nil {
		return err
	}
	d = wire.NewDecoder(p)
	s.TuneOK = Tune{ChannelMax: d.Short(), FrameMax: d.Long(), Heartbeat: d.Short()}
	if err := d.Finish(); err != nil {
		return fmt.Errorf("tune-ok: %w", err)
	}
	if s.TuneOK.FrameMax != 0 {
		s.fr.SetMaxFrame(s.TuneOK.FrameMax)
	}
	if p, err = s.ExpectRaw(0, k.ConnectionOpen); err != nil {
		return err
	}
	d = wire.NewDecoder(p)
	s.Vhost = d.ShortStr()
	return s.SendRaw(0, k.ConnectionOpenOK, func(e *wire.Encoder) { e.ShortStr("") })
}

// SendStart sends connection.start with RabbitMQ-like server properties
// (capabilities replaced when caps is non-nil) and mechanisms PLAIN and AMQPLAIN.
func (s *Session) SendStart(caps amqp.Table) error {
	if caps == nil {
		caps = amqp.Table{"publisher_confirms": true, "basic.nack": true, "exchange_exchange_bindings": true,
			"consumer_cancel_notify": true, "connection.blocked": true, "authentication_failure_close": true}
	}
	major, minor := uint8(0), uint8(9)
	if s.Proto.Name == "0-8" {
		major, minor = 8, 0
	}
	return s.SendRaw(0, s.Proto.Known.ConnectionStart, func(e *wire.Encoder) {
		e.Octet(major)
		e.Octet(minor)
		e.Table(amqp.Table{"product": "amqptest", "version": "3.10.8", "capabilities": caps})
		e.LongStr("AMQPLAIN PLAIN")
		e.LongStr("en_US")
	})
}

// SendRaw writes a method frame whose arguments args appends.
func (s *Session) SendRaw(ch uint16, id wire.MethodID, args func(e *wire.Encoder)) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.enc.Reset()
	start := s.enc.BeginFrame(wire.FrameMethod, ch)
	s.enc.Short(id.Class())
	s.enc.Short(id.Method())
	if args != nil {
		args(&s.enc)
	}
	s.enc.EndFrame(start)
	return s.write()
}

// Send writes a method frame.
func (s *Session) Send(ch uint16, m wire.Method) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.enc.Reset()
	s.enc.MethodFrame(ch, m)
	return s.write()
}

// SendContent writes a content method, its header and its body in frames of
// at most frameMax-8 bytes.
func (s *Session) SendContent(ch uint16, m wire.Method, msg *amqp.Message, frameMax int) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.enc.Reset()
	s.AppendContent(&s.enc, ch, m, msg, frameMax)
	return s.write()
}

// AppendContent appends a content method with header and body frames to e
// (to build a batch of deliveries written at once).
func (s *Session) AppendContent(e *wire.Encoder, ch uint16, m wire.Method, msg *amqp.Message, frameMax int) {
	e.MethodFrame(ch, m)
	start := e.BeginFrame(wire.FrameHeader, ch)
	e.ContentHeader(m.ID().Class(), uint64(len(msg.Body)), &msg.Properties)
	e.EndFrame(start)
	max := frameMax - wire.FrameOverhead
	for off := 0; off < len(msg.Body); off += max {
		start := e.BeginFrame(wire.FrameBody, ch)
		e.Buf = append(e.Buf, msg.Body[off:min(off+max, len(msg.Body))]...)
		e.EndFrame(start)
	}
}

// Write writes raw bytes (for malformed frames).
func (s *Session) Write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err := s.Conn.Write(b)
	return err
}

func (s *Session) write() error {
	if err := s.enc.Err(); err != nil {
		return err
	}
	_, err := s.Conn.Write(s.enc.Buf)
	return err
}

// Frame is one frame received from the client.
type Frame struct {
	Type    uint8
	Channel uint16
	Payload []byte // a copy
	Method  wire.Method
}

// Next reads the next frame, skipping heartbeats when skipHeartbeats, and
// decodes method frames with the dialect's structs.
func (s *Session) Next() (Frame, error) {
	typ, ch, p, err := s.fr.ReadFrame()
	if err != nil {
		return Frame{}, err
	}
	f := Frame{Type: typ, Channel: ch, Payload: append([]byte(nil), p...)}
	if typ == wire.FrameMethod {
		if len(p) < 4 {
			return f, fmt.Errorf("method frame of %d bytes", len(p))
		}
		id := wire.ID(uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3]))
		m := s.Proto.NewMethod(id)
		if m == nil {
			return f, fmt.Errorf("unknown method %s", id)
		}
		d := wire.NewDecoder(p[4:])
		m.Decode(&d)
		if err := d.Finish(); err != nil {
			return f, fmt.Errorf("decode %s: %w", m.Name(), err)
		}
		f.Method = m
	}
	return f, nil
}

// Recv returns the next method, skipping heartbeats; content frames are an error.
func (s *Session) Recv() (uint16, wire.Method, error) {
	for {
		f, err := s.Next()
		if err != nil {
			return 0, nil, err
		}
		switch f.Type {
		case wire.FrameHeartbeat:
			continue
		case wire.FrameMethod:
			return f.Channel, f.Method, nil
		}
		return f.Channel, nil, fmt.Errorf("frame type %d on channel %d, want a method", f.Type, f.Channel)
	}
}

// Expect reads the next method and checks its channel and id.
func (s *Session) Expect(ch uint16, id wire.MethodID) (wire.Method, error) {
	gotCh, m, err := s.Recv()
	if err != nil {
		return nil, fmt.Errorf("waiting for %s on channel %d: %w", id, ch, err)
	}
	if gotCh != ch || m.ID() != id {
		return m, fmt.Errorf("got %s on channel %d, want %s on channel %d", m.Name(), gotCh, id, ch)
	}
	return m, nil
}

// ExpectRaw reads the next method frame and returns its arguments, checking
// channel and id, without decoding them.
func (s *Session) ExpectRaw(ch uint16, id wire.MethodID) ([]byte, error) {
	for {
		typ, gotCh, p, err := s.fr.ReadFrame()
		if err != nil {
			return nil, fmt.Errorf("waiting for %s: %w", id, err)
		}
		if typ == wire.FrameHeartbeat {
			continue
		}
		if typ != wire.FrameMethod || len(p) < 4 {
			return nil, fmt.Errorf("frame type %d while waiting for %s", typ, id)
		}
		got := wire.ID(uint16(p[0])<<8|uint16(p[1]), uint16(p[2])<<8|uint16(p[3]))
		if got != id || gotCh != ch {
			return nil, fmt.Errorf("got %s on channel %d, want %s on channel %d", got, gotCh, id, ch)
		}
		return append([]byte(nil), p[4:]...), nil
	}
}

// OpenChannel answers the client's channel.open on ch.
func (s *Session) OpenChannel(ch uint16) error {
	k := &s.Proto.Known
	if _, err := s.Expect(ch, k.ChannelOpen); err != nil {
		return err
	}
	return s.Send(ch, s.Proto.NewMethod(k.ChannelOpenOK))
}

// CloseConnection sends connection.close with e and waits for close-ok.
func (s *Session) CloseConnection(e *amqp.Error) error {
	k := &s.Proto.Known
	m := s.Proto.NewMethod(k.ConnectionClose)
	m.(wire.Exception).SetException(e)
	if err := s.Send(0, m); err != nil {
		return err
	}
	_, err := s.ExpectRaw(0, k.ConnectionCloseOK)
	return err
}

// ServeClose answers the client's connection.close with close-ok.
func (s *Session) ServeClose() error {
	k := &s.Proto.Known
	for {
		ch, m, err := s.Recv()
		if err != nil {
			return err
		}
		if ch == 0 && m.ID() == k.ConnectionClose {
			return s.Send(0, s.Proto.NewMethod(k.ConnectionCloseOK))
		}
	}
}
