// Command consume runs a consumer the blocking way: Consume registers a
// callback, and a Wait loop on the same goroutine dispatches deliveries to
// it until enough have been handled. Acks are manual and a prefetch limit
// (basic.qos) keeps the broker from sending everything at once. The broker
// comes from $AMQP_URL (default amqp://guest:guest@localhost:5672).
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

const tasks = 6

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
	for i := 1; i <= tasks; i++ {
		if err := ch.Publish("", q.Name, amqp.NewMessage(fmt.Sprintf("task %d", i))); err != nil {
			return err
		}
	}

	// At most 2 unacknowledged messages in flight. RabbitMQ applies the
	// limit to each consumer started after this call on the channel.
	if err := ch.Qos(2); err != nil {
		return err
	}

	// The callback runs inside ch.Wait, on this goroutine, so it may use
	// ch freely. An Ack or Nack error is kept and checked in the loop.
	handled := 0
	var ackErr error
	tag, err := ch.Consume(q.Name, func(d *amqp.Delivery) {
		if d.Text() == "task 3" && !d.Redelivered {
			// Pretend the first attempt failed: put it back in the queue.
			// The broker delivers it again with Redelivered set.
			fmt.Printf("%s failed, requeued\n", d.Body)
			ackErr = ch.Nack(d.DeliveryTag, amqp.NackOptions{Requeue: true})
			return
		}
		fmt.Printf("handled %s (delivery tag %d, redelivered %v)\n", d.Body, d.DeliveryTag, d.Redelivered)
		handled++
		ackErr = ch.Ack(d.DeliveryTag)
	})
	if err != nil {
		return err
	}
	fmt.Println("consuming as", tag)

	// Each WaitTimeout dispatches one event, or gives up after 10 s of
	// silence with an error matching amqp.ErrTimeout.
	for handled < tasks {
		if err := ch.WaitTimeout(10 * time.Second); err != nil {
			return err
		}
		if ackErr != nil {
			return ackErr
		}
	}

	// Stop the consumer before leaving; unacked messages (none here) would
	// go back to the queue when the channel closes.
	if err := ch.Cancel(tag); err != nil {
		return err
	}
	fmt.Printf("done: %d tasks handled\n", handled)
	return nil
}
