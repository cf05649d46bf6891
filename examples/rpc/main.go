// Command rpc makes remote procedure calls over AMQP. A server goroutine,
// with its own connection, squares the numbers it finds in its request
// queue; the client sends each request with ReplyTo naming its exclusive
// reply queue and a CorrelationID, which the server copies into its answer
// so the client can match answers to requests. The broker comes from
// $AMQP_URL (default amqp://guest:guest@localhost:5672).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
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
	ctx, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1) // the server sends its queue name here
	served := make(chan error, 1)
	go func() { served <- serve(ctx, url, ready) }()
	defer stop() // on an early return, the server stops too
	var requests string
	select {
	case requests = <-ready:
	case err := <-served:
		return err
	}

	conn, err := client091.Dial(url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	replies, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	if err != nil {
		return err
	}
	// Answers arrive in the callback, inside ch.Wait below.
	answers := map[string]string{} // correlation id -> answer
	_, err = ch.Consume(replies.Name, func(d *amqp.Delivery) {
		fmt.Printf("client: %s is %s\n", d.CorrelationID, d.Body)
		answers[d.CorrelationID] = d.Text()
	}, amqp.ConsumeOptions{NoAck: true})
	if err != nil {
		return err
	}

	for _, n := range []int{3, 7, 12} {
		req := amqp.NewMessage(strconv.Itoa(n))
		req.ReplyTo = replies.Name                        // where to answer
		req.CorrelationID = fmt.Sprint("square(", n, ")") // what the answer is for
		if err := ch.Publish("", requests, req); err != nil {
			return err
		}
	}
	for len(answers) < 3 {
		if err := ch.WaitTimeout(10 * time.Second); err != nil {
			return err
		}
	}
	stop() // the server's WaitContext returns; wait for it to close
	return <-served
}

// serve answers requests until ctx is cancelled. A real server would
// declare a well-known queue name; this one lets the broker pick a name and
// hands it to the client through ready.
func serve(ctx context.Context, url string, ready chan<- string) error {
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
	var replyErr error
	_, err = ch.Consume(q.Name, func(d *amqp.Delivery) {
		n, _ := strconv.Atoi(d.Text())
		reply := amqp.NewMessage(strconv.Itoa(n * n))
		reply.CorrelationID = d.CorrelationID
		fmt.Println("server: answering", d.CorrelationID)
		replyErr = errors.Join(ch.Publish("", d.ReplyTo, reply), ch.Ack(d.DeliveryTag))
	})
	if err != nil {
		return err
	}
	ready <- q.Name
	for replyErr == nil {
		if err := ch.WaitContext(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // asked to stop
			}
			return err
		}
	}
	return replyErr
}
