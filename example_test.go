package amqp_test

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/amqplib-go/amqp"
)

// A string body is sent as UTF-8 and says so in ContentEncoding; a []byte
// body is sent as it is, with no encoding.
func ExampleNewMessage() {
	text := amqp.NewMessage("héllo")
	raw := amqp.NewMessage([]byte{0xff, 0x00})
	fmt.Printf("%q %q %d bytes\n", text.Text(), text.ContentEncoding, len(text.Body))
	fmt.Printf("% x %q\n", raw.Body, raw.ContentEncoding)

	// Properties are plain fields; a zero field is not sent.
	text.ContentType = "text/plain"
	text.DeliveryMode = amqp.Persistent
	text.Headers = amqp.Table{"attempt": int32(1)}
	fmt.Println(text.ContentType, text.DeliveryMode, text.Headers)
	// Output:
	// "héllo" "UTF-8" 6 bytes
	// ff 00 ""
	// text/plain 2 map[attempt:1]
}

// Each Go type maps to one AMQP field type, so the sender chooses the wire
// type by choosing the Go type. Decoded tables hold the same types (int
// comes back as int64).
func ExampleTable() {
	headers := amqp.Table{
		"retries":  int32(3),                            // I: signed 32-bit
		"size":     int64(1 << 40),                      // l: signed 64-bit
		"ratio":    0.25,                                // d: float64
		"price":    amqp.Decimal{Scale: 2, Value: 1999}, // D: 19.99
		"sent":     time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		"trace":    amqp.Table{"id": "abc"}, // F: nested table
		"tags":     []any{"a", "b"},         // A: array
		"checksum": []byte{0xca, 0xfe},      // x: byte array
		"empty":    nil,                     // V: void
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("%-8s %T\n", k, headers[k])
	}

	// Read values with a type assertion (or a type switch).
	if n, ok := headers["retries"].(int32); ok {
		fmt.Println("retries:", n)
	}
	// Output:
	// checksum []uint8
	// empty    <nil>
	// price    amqp.Decimal
	// ratio    float64
	// retries  int32
	// sent     time.Time
	// size     int64
	// tags     []interface {}
	// trace    amqp.Table
	// retries: 3
}

// A Decimal is Value / 10^Scale; String formats it exactly.
func ExampleDecimal_String() {
	fmt.Println(amqp.Decimal{Scale: 2, Value: 1999})
	fmt.Println(amqp.Decimal{Scale: 3, Value: -5})
	fmt.Println(amqp.Decimal{Value: 42})
	fmt.Println(amqp.Decimal{Scale: 2, Value: 1999}.Float64())
	// Output:
	// 19.99
	// -0.005
	// 42
	// 19.99
}

// A broker exception is an *amqp.Error; errors.Is matches it by reply code
// against the sentinels, however deeply it is wrapped. A call on a channel
// that the broker closed returns an error matching ErrClosed that wraps the
// exception.
func ExampleError() {
	// What QueueDeclare returns for a passive declare of a missing queue.
	var err error = &amqp.Error{Code: amqp.NotFound, Text: "NOT_FOUND - no queue 'jobs' in vhost '/'",
		ClassID: 50, MethodID: 10, Server: true}
	fmt.Println(err)
	fmt.Println(errors.Is(err, amqp.ErrNotFound), errors.Is(err, amqp.ErrAccessRefused))

	var ae *amqp.Error
	if errors.As(err, &ae) {
		fmt.Println(ae.Code, ae.Hard()) // 404 closes the channel, not the connection
	}

	// What the next call on that channel returns.
	later := &amqp.ClosedError{What: "channel 1", Reason: err}
	fmt.Println(later)
	fmt.Println(errors.Is(later, amqp.ErrClosed), errors.Is(later, amqp.ErrNotFound))
	// Output:
	// amqp: 404 NOT_FOUND - no queue 'jobs' in vhost '/' (queue.declare)
	// true false
	// 404 false
	// amqp: channel 1 is closed: 404 NOT_FOUND - no queue 'jobs' in vhost '/' (queue.declare)
	// true true
}
