// Command poll reads a queue the way a cron job or a script would: no
// consumer and no callbacks, just basic.get in a loop until the broker says
// the queue is empty. The broker comes from $AMQP_URL (default
// amqp://guest:guest@localhost:5672).
package main

import (
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

const jobs = 5

func run(url string) error {
	conn, err := client091.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close() // also closes the channel and deletes the exclusive queue
	ch, err := conn.Channel()
	if err != nil {
		return err
	}

	// A server-named queue that lives as long as this connection.
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	if err != nil {
		return err
	}
	for i := 1; i <= jobs; i++ {
		if err := ch.Publish("", q.Name, amqp.NewMessage(fmt.Sprintf("job %d", i))); err != nil {
			return err
		}
	}
	fmt.Printf("published %d jobs\n", jobs)

	// The polling loop. Get returns ok == false, with a nil error, when the
	// queue is empty; a long-running poller would sleep and try again, this
	// one stops. Without NoAck each message stays "unacked" until Ack: if
	// the program died half-way, the broker would hand it to someone else.
	done := 0
	for {
		d, ok, err := ch.Get(q.Name)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		fmt.Printf("got %q, %d more waiting\n", d.Body, d.MessageCount)
		if err := ch.Ack(d.DeliveryTag); err != nil {
			return err
		}
		done++
	}
	fmt.Printf("queue empty after %d jobs\n", done)
	if done != jobs {
		return fmt.Errorf("got %d jobs, want %d", done, jobs)
	}
	return nil
}
