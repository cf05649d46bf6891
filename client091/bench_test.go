package client091_test

import (
	"io"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/client091"
)

// benchConn dials a fake broker running script after the handshake and
// channel 1's open.
func benchConn(b *testing.B, script amqptest.Script) *client091.Channel {
	srv := amqptest.NewServer(b, spec091.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.Tune{ChannelMax: 16, FrameMax: 131072, Heartbeat: 0}); err != nil {
			return err
		}
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		return script(s)
	})
	conn, err := client091.Dial(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		srv.Close() // the client then sees EOF: no close handshake to wait for
		conn.Close()
	})
	ch, err := conn.Channel()
	if err != nil {
		b.Fatal(err)
	}
	return ch
}

func BenchmarkPublish64(b *testing.B) {
	ch := benchConn(b, func(s *amqptest.Session) error {
		_, _ = io.Copy(io.Discard, s.Conn) // the fake's decoding would count against the client
		return nil
	})
	msg := amqp.NewMessage(make([]byte, 64))
	b.ReportAllocs()
	b.SetBytes(64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ch.Publish("", "bench", msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDelivery64(b *testing.B) {
	const batch = 1000
	ch := benchConn(b, func(s *amqptest.Session) error {
		if _, err := s.Expect(1, spec091.IDBasicConsume); err != nil {
			return err
		}
		var e wire.Encoder
		msg := amqp.Message{Body: make([]byte, 64)}
		for i := 0; i < batch; i++ {
			s.AppendContent(&e, 1, &spec091.BasicDeliver{ConsumerTag: "bench", DeliveryTag: uint64(i + 1),
				Exchange: "", RoutingKey: "bench"}, &msg, 131072)
		}
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Write(e.Buf); err != nil {
					return
				}
			}
		}()
		defer close(stop)
		return hold(s)
	})
	n := 0
	_, err := ch.Consume("bench", func(*amqp.Delivery) { n++ }, amqp.ConsumeOptions{Tag: "bench", NoWait: true, NoAck: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n < b.N {
		if err := ch.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPublishGet16MiB(b *testing.B) {
	body := make([]byte, 16<<20)
	ch := benchConn(b, func(s *amqptest.Session) error {
		msg := amqp.Message{Body: body}
		for {
			f, err := s.Next()
			if err != nil {
				return nil
			}
			if f.Method != nil && f.Method.ID() == spec091.IDConnectionClose {
				return s.Send(0, &spec091.ConnectionCloseOK{})
			}
			if f.Method != nil && f.Method.ID() == spec091.IDBasicGet {
				if err := s.SendContent(1, &spec091.BasicGetOK{DeliveryTag: 1, RoutingKey: "bench"}, &msg, 131072); err != nil {
					return err
				}
			}
		}
	})
	msg := amqp.NewMessage(body)
	b.ReportAllocs()
	b.SetBytes(2 * int64(len(body)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ch.Publish("", "bench", msg); err != nil {
			b.Fatal(err)
		}
		d, ok, err := ch.Get("bench", amqp.GetOptions{NoAck: true})
		if err != nil || !ok || len(d.Body) != len(body) {
			b.Fatal(err, ok)
		}
	}
}
