package client091_test

import (
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/conformance"
)

func TestBrokerConformance091(t *testing.T) {
	conformance.Run(t, conformance.Suite{
		Open: func(t *testing.T) conformance.Channel { _, ch := open(t); return ch },
		Headers: amqp.Table{
			"bool": true, "i8": int8(-8), "u8": uint8(8), "i16": int16(-16), "u16": uint16(16),
			"i32": int32(-32), "u32": uint32(32), "i64": int64(-1 << 40), "f32": float32(1.5), "f64": 2.25,
			"dec": amqp.Decimal{Scale: 2, Value: -12345}, "str": "text", "bytes": []byte{0, 1},
			"time": time.Unix(1700000000, 0).UTC(), "nested": amqp.Table{"a": "b"}, "array": []any{int64(1), "two"}, "void": nil,
		},
	})
}
