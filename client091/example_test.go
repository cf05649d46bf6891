package client091_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
)

// brokerURL is the broker the examples run against: $AMQP_URL, else a local
// RabbitMQ (make test sets AMQP_URL).
func brokerURL() string {
	if u := os.Getenv("AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@localhost:5672"
}

// Connect, open a channel, and close both (Close is safe to call twice).
func ExampleDial() {
	conn, err := client091.Dial(brokerURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ch.ID(), conn.State())
	// Output: 1 open
}

// Publish a message and fetch it back with Get, the polling way to read a
// queue.
func ExampleChannel_Get() {
	conn, err := client091.Dial(brokerURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true}) // a server-named queue, gone with the connection
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, text := range []string{"one", "two"} {
		if err := ch.Publish("", q.Name, amqp.NewMessage(text)); err != nil {
			fmt.Println(err)
			return
		}
	}
	for {
		d, ok, err := ch.Get(q.Name)
		if err != nil {
			fmt.Println(err)
			return
		}
		if !ok {
			break // the queue is empty
		}
		fmt.Println(d.Text())
		_ = ch.Ack(d.DeliveryTag)
	}
	// Output:
	// one
	// two
}

// Consume with a callback and a Wait loop: the callback runs inside Wait,
// on this goroutine.
func ExampleChannel_Consume() {
	conn, err := client091.Dial(brokerURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	q, _ := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	_ = ch.ConfirmSelect()
	for i := 1; i <= 3; i++ {
		_ = ch.Publish("", q.Name, amqp.NewMessage(fmt.Sprint("job ", i)))
	}
	_ = ch.WaitConfirms() // the jobs are in the queue
	done := 0
	_, err = ch.Consume(q.Name, func(d *amqp.Delivery) {
		fmt.Println("handled", d.Text())
		_ = ch.Ack(d.DeliveryTag)
		done++
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for done < 3 {
		if err := ch.WaitTimeout(5 * time.Second); err != nil {
			fmt.Println(err)
			return
		}
	}
	// Output:
	// handled job 1
	// handled job 2
	// handled job 3
}

// Publisher confirms: PublishConfirmed returns once the broker has the
// message; a queue that refuses it nacks.
func ExampleChannel_PublishConfirmed() {
	conn, err := client091.Dial(brokerURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	q, _ := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true,
		Arguments: amqp.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}})
	if err := ch.ConfirmSelect(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ch.PublishConfirmed("", q.Name, amqp.NewMessage("fits")))
	err = ch.PublishConfirmed("", q.Name, amqp.NewMessage("does not fit"))
	fmt.Println(errors.Is(err, amqp.ErrNacked))
	// Output:
	// <nil>
	// true
}

// Transactions: publishes take effect at TxCommit, or not at all.
func ExampleChannel_TxSelect() {
	conn, err := client091.Dial(brokerURL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	q, _ := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	_ = ch.TxSelect()
	_ = ch.Publish("", q.Name, amqp.NewMessage("rolled back"))
	_ = ch.TxRollback()
	_ = ch.Publish("", q.Name, amqp.NewMessage("committed"))
	_ = ch.TxCommit()
	d, _, _ := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	_, more, _ := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	fmt.Println(d.Text(), more)
	// Output: committed false
}
