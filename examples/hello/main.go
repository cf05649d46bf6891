// Command hello is the quick-start demo: it declares a queue, publishes a
// message, gets it back, then consumes a second one with a callback and a
// Wait loop, printing each step. The broker comes from $AMQP_URL (default
// amqp://guest:guest@localhost:5672).
package main

import (
	"fmt"
	"log"
	"os"
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
	fmt.Println("connected to", conn.ServerVersion())

	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	if err != nil {
		return err
	}
	fmt.Println("declared queue", q.Name)

	if err := ch.Publish("", q.Name, amqp.NewMessage("hello, world")); err != nil {
		return err
	}
	fmt.Println("published: hello, world")

	d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("queue %s was empty", q.Name)
	}
	fmt.Printf("got: %s (encoding %s)\n", d.Body, d.ContentEncoding)

	if err := ch.Publish("", q.Name, amqp.NewMessage("hello again")); err != nil {
		return err
	}
	received := 0
	_, err = ch.Consume(q.Name, func(d *amqp.Delivery) {
		fmt.Printf("consumed: %s\n", d.Body)
		received++
		_ = ch.Ack(d.DeliveryTag)
	})
	if err != nil {
		return err
	}
	for received < 1 {
		if err := ch.WaitTimeout(10 * time.Second); err != nil {
			return err
		}
	}
	fmt.Println("done")
	return nil
}
