// Command scoped uses Conn.WithChannel, which opens a channel, runs a
// function with it and closes it again, whatever the function returns. A
// broker error inside the function closes only that channel: the
// connection carries on. The broker comes from $AMQP_URL (default
// amqp://guest:guest@localhost:5672).
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

	// Declare and publish on a short-lived channel. The queue is exclusive
	// to the connection, not to the channel, so it outlives the channel.
	var queue string
	err = conn.WithChannel(func(ch *client091.Channel) error {
		q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
		if err != nil {
			return err
		}
		queue = q.Name
		fmt.Println("channel", ch.ID(), "declared a queue")
		return ch.Publish("", queue, amqp.NewMessage("kept"))
	})
	if err != nil {
		return err
	}

	// A passive declare of a missing queue is a 404 channel exception: the
	// broker closes this channel and WithChannel returns the *amqp.Error.
	err = conn.WithChannel(func(ch *client091.Channel) error {
		_, err := ch.QueueDeclare(queue+"-missing", amqp.QueueOptions{Passive: true})
		return err
	})
	var ae *amqp.Error
	if !errors.As(err, &ae) || !errors.Is(err, amqp.ErrNotFound) {
		return fmt.Errorf("want a 404, got %v", err)
	}
	fmt.Printf("scoped channel failed with %d: %v\n", ae.Code, err)
	fmt.Println("connection is still", conn.State())

	// The connection is fine: read the message on a fresh channel.
	return conn.WithChannel(func(ch *client091.Channel) error {
		d, ok, err := ch.Get(queue, amqp.GetOptions{NoAck: true})
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("the queue is empty")
		}
		fmt.Printf("channel %d got %q\n", ch.ID(), d.Body)
		return nil
	})
}
