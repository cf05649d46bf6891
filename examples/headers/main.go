// Command headers sends a message whose application headers hold one value
// of every Go type an amqp.Table can carry, reads it back and prints what
// came back: each type survives the round trip, except int, which travels
// as a 64-bit integer and decodes as int64. The broker comes from $AMQP_URL
// (default amqp://guest:guest@localhost:5672).
package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"reflect"
	"slices"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
)

func main() {
	url := os.Getenv("AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@localhost:5672"
	}
	if err := run(url); err != nil {
		log.Fatal(err)
	}
}

func run(url string) error {
	conn, err := client091.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	if err != nil {
		return err
	}

	// One value per supported Go type (see the table in amqp.Table's docs).
	msg := amqp.NewMessage("typed headers")
	msg.Headers = amqp.Table{
		"bool": true, "int8": int8(-8), "uint8": uint8(8), "int16": int16(-16), "uint16": uint16(16),
		"int32": int32(-32), "uint32": uint32(32), "int64": int64(-1 << 40), "int": 42,
		"float32": float32(1.5), "float64": 2.25, "decimal": amqp.Decimal{Scale: 2, Value: 1999},
		"string": "héllo", "bytes": []byte{0xca, 0xfe}, "time": time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC),
		"table": amqp.Table{"nested": "yes"}, "array": []any{int32(1), "two", true}, "void": nil,
	}
	if err := ch.Publish("", q.Name, msg); err != nil {
		return err
	}
	d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	if err != nil || !ok {
		return fmt.Errorf("get: ok=%v err=%v", ok, err)
	}

	// Print what came back, in key order, with its Go type.
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := d.Headers[k]
		fmt.Printf("%-8s %-14T %v\n", k, v, v)
		want := msg.Headers[k]
		if k == "int" {
			want = int64(42) // int goes out as a signed 64-bit field
		}
		if !reflect.DeepEqual(v, want) {
			return fmt.Errorf("header %s: sent %#v, got %#v", k, want, v)
		}
	}

	// A type a table cannot carry is refused before anything is sent; the
	// channel stays open.
	bad := amqp.NewMessage("x")
	bad.Headers = amqp.Table{"when": time.Second}
	err = ch.Publish("", q.Name, bad)
	fmt.Println("unsupported type:", err)
	if !errors.Is(err, amqp.ErrInvalidArgument) || ch.IsClosed() {
		return fmt.Errorf("want ErrInvalidArgument on an open channel, got %v", err)
	}
	return nil
}
