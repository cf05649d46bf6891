package wire

import (
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
)

var benchHeaders = amqp.Table{
	"x-retry":        int32(3),
	"x-origin":       "orders",
	"x-trace-id":     "0af7651916cd43dd8448eb211c80319c",
	"x-created":      time.Unix(1700000000, 0),
	"x-priority-hi":  true,
	"x-max-attempts": int64(10),
}

func BenchmarkEncodeTable(b *testing.B) {
	var e Encoder
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		e.Table(benchHeaders)
	}
	if e.Err() != nil {
		b.Fatal(e.Err())
	}
	b.SetBytes(int64(len(e.Buf)))
}

func BenchmarkDecodeTable(b *testing.B) {
	var e Encoder
	e.Table(benchHeaders)
	b.SetBytes(int64(len(e.Buf)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(e.Buf)
		d.Table()
		if d.Finish() != nil {
			b.Fatal(d.Err())
		}
	}
}

var benchProps = amqp.Properties{
	ContentType:     "application/json",
	ContentEncoding: "UTF-8",
	DeliveryMode:    amqp.Persistent,
	CorrelationID:   "c-123",
	ReplyTo:         "amq.rabbitmq.reply-to",
	MessageID:       "m-42",
	Timestamp:       time.Unix(1700000000, 0),
	AppID:           "bench",
}

func BenchmarkContentHeaderEncode(b *testing.B) {
	var e Encoder
	b.ReportAllocs()
	for b.Loop() {
		e.Reset()
		e.ContentHeader(60, 1024, &benchProps)
	}
	if e.Err() != nil {
		b.Fatal(e.Err())
	}
}

func BenchmarkContentHeaderDecode(b *testing.B) {
	p := benchProps
	p.Headers = benchHeaders
	var e Encoder
	e.ContentHeader(60, 1024, &p)
	b.ReportAllocs()
	for b.Loop() {
		var out amqp.Properties
		d := NewDecoder(e.Buf)
		d.ContentHeader(&out)
		if d.Finish() != nil {
			b.Fatal(d.Err())
		}
	}
}
