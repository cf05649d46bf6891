package main

import (
	"bufio"
	"fmt"
	"net"
	"net/url"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// floorGet is S4 without a client library: a hand-written AMQP 0-9-1
// session (frames built with the wire encoder) that writes basic.get and
// reads get-ok, header and body on the same goroutine. It is the floor any
// Go client can reach for a round trip on this machine; the S4/floor row
// compares it with amqp091-go.
func floorGet(env *env, m *meter, q string, n int) error {
	f, err := floorOpen(env)
	if err != nil {
		return err
	}
	defer f.nc.Close()
	nc, fr, send, next := f.nc, f.fr, f.send, f.next
	var e wire.Encoder
	e.MethodFrame(1, &spec091.BasicGet{Queue: q, NoAck: true})
	get := e.Buf
	m.Start()
	for i := 0; i < n; i++ {
		if _, err := nc.Write(get); err != nil {
			return err
		}
		typ, _, payload, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		if typ != wire.FrameMethod || wire.ID(uint16(payload[0])<<8|uint16(payload[1]), uint16(payload[2])<<8|uint16(payload[3])) != spec091.IDBasicGetOK {
			return fmt.Errorf("floor get %d: not a get-ok", i)
		}
		for k := 0; k < 2; k++ { // the content header and the one body frame
			if err := next(); err != nil {
				return err
			}
		}
	}
	m.Stop()
	return send(0, &spec091.ConnectionClose{ReplyCode: 200, ReplyText: "bye"})
}

// floorConnect is S7 without a client library: dial, the handshake and
// channel.open written and read inline on one goroutine, then
// connection.close and its close-ok, n times. It is the floor of a
// connection's life cycle on this machine (the S7/floor row).
func floorConnect(env *env, m *meter, _ string, n int) error {
	m.Start()
	for i := 0; i < n; i++ {
		f, err := floorOpen(env)
		if err != nil {
			return err
		}
		if err := f.send(0, &spec091.ConnectionClose{ReplyCode: 200, ReplyText: "bye"}); err != nil {
			f.nc.Close()
			return err
		}
		err = f.next() // close-ok
		f.nc.Close()
		if err != nil {
			return fmt.Errorf("floor close-ok: %w", err)
		}
	}
	m.Stop()
	return nil
}

// floorSession is a hand-written AMQP 0-9-1 connection with channel 1 open.
type floorSession struct {
	nc   net.Conn
	fr   *wire.FrameReader
	send func(ch uint16, m wire.Method) error
	next func() error // reads one frame
}

// floorOpen dials env's broker and runs the handshake and channel.open,
// each request written and its reply read on the calling goroutine.
func floorOpen(env *env) (*floorSession, error) {
	u, err := url.Parse(env.url)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host += ":5672"
	}
	nc, err := net.Dial("tcp", host)
	if err != nil {
		return nil, err
	}
	user, pass := "guest", "guest"
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	vhost := "/"
	if p := u.Path; len(p) > 1 {
		vhost = p[1:]
	}
	fr := wire.NewFrameReader(bufio.NewReaderSize(nc, 64<<10), 64<<10)
	fr.SetMaxFrame(0)
	send := func(ch uint16, m wire.Method) error {
		var e wire.Encoder
		e.MethodFrame(ch, m)
		if e.Err() != nil {
			return e.Err()
		}
		_, err := nc.Write(e.Buf)
		return err
	}
	next := func() error { _, _, _, err := fr.ReadFrame(); return err }
	steps := []func() error{
		func() error { _, err := nc.Write([]byte{'A', 'M', 'Q', 'P', 0, 0, 9, 1}); return err },
		next, // start
		func() error {
			return send(0, &spec091.ConnectionStartOK{ClientProperties: amqp.Table{}, Mechanism: "PLAIN",
				Response: "\x00" + user + "\x00" + pass, Locale: "en_US"})
		},
		next, // tune
		func() error { return send(0, &spec091.ConnectionTuneOK{ChannelMax: 1, FrameMax: 131072}) },
		func() error { return send(0, &spec091.ConnectionOpen{VirtualHost: vhost}) },
		next, // open-ok
		func() error { return send(1, &spec091.ChannelOpen{}) },
		next, // channel open-ok
	}
	for _, step := range steps {
		if err := step(); err != nil {
			nc.Close()
			return nil, fmt.Errorf("floor handshake: %w", err)
		}
	}
	return &floorSession{nc: nc, fr: fr, send: send, next: next}, nil
}
