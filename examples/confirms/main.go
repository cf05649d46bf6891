// Command confirms shows publisher confirms, RabbitMQ's way of telling a
// publisher that a message is safely in its queues: one message at a time
// with PublishConfirmed, a batch with Publish and WaitConfirms, a callback
// per confirm with OnConfirm, and a nack from a queue that refuses to grow.
// The broker comes from $AMQP_URL (default amqp://guest:guest@localhost:5672).
package main

import (
	"errors"
	"fmt"
	"log"
	"os"

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
	// This queue holds one message and nacks further publishes.
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true,
		Arguments: amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}})
	if err != nil {
		return err
	}
	sink, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	if err != nil {
		return err
	}

	// From here on the broker acks (or nacks) every message published on
	// this channel; messages are numbered 1, 2, 3...
	if err := ch.ConfirmSelect(); err != nil {
		return err
	}
	// Optional: a callback for every confirm. Like every callback it runs
	// inside Wait, never inside the confirm waits below.
	ch.OnConfirm(func(c amqp.Confirmation) {
		fmt.Printf("  confirm: message %d ack=%v\n", c.DeliveryTag, c.Ack)
	})

	// 1. One message, waiting for its confirm: simple, but one round trip each.
	fmt.Println("PublishConfirmed:")
	if err := ch.PublishConfirmed("", sink.Name, amqp.NewMessage("one")); err != nil {
		return err
	}

	// 2. A batch: publish without waiting, then wait for them all at once.
	fmt.Println("Publish x3, then WaitConfirms:")
	for i := 1; i <= 3; i++ {
		if err := ch.Publish("", sink.Name, amqp.NewMessage(fmt.Sprint("batch ", i))); err != nil {
			return err
		}
	}
	fmt.Println("  last sequence number:", ch.PublishSeq())
	if err := ch.WaitConfirms(); err != nil {
		return err
	}
	// The confirms are in; their callbacks wait in the channel's queue.
	for ch.Pending() > 0 {
		if err := ch.Wait(); err != nil {
			return err
		}
	}

	// 3. A nack: the broker did not store the message. PublishConfirmed (and
	// WaitConfirm, WaitConfirms) report it as an error matching ErrNacked.
	fmt.Println("overflowing a full queue:")
	if err := ch.PublishConfirmed("", q.Name, amqp.NewMessage("fits")); err != nil {
		return err
	}
	err = ch.PublishConfirmed("", q.Name, amqp.NewMessage("does not fit"))
	if !errors.Is(err, amqp.ErrNacked) {
		return fmt.Errorf("want a nack, got %v", err)
	}
	fmt.Println("  error:", err)
	return nil
}
