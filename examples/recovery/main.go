// Command recovery shows automatic recovery: a publisher and a consumer,
// each on its own connection with Config.Recovery set, keep working while
// connections fail, with no code for the outage. The publisher waits for
// each message to be stored (PublishConfirmed, at least once); the consumer
// acknowledges each message and counts duplicates (a message whose ack was
// lost with a connection comes again). An OnConnect hook declares the
// work queue on every new connection, before the consumer resumes.
//
// Stop RabbitMQ for a few seconds while it runs (or use
// `rabbitmqctl close_all_connections x`) and watch it carry on. The broker
// comes from $AMQP_URL (default amqp://guest:guest@localhost:5672); more
// nodes of a cluster can be given in $AMQP_ADDRESSES (host:port,...).
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
)

func main() {
	url := os.Getenv("AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@localhost:5672"
	}
	var addrs []string
	if a := os.Getenv("AMQP_ADDRESSES"); a != "" {
		addrs = strings.Split(a, ",")
	}
	if err := run(url, addrs, 10000, nil); err != nil {
		log.Fatal(err)
	}
}

const queue = "recovery-example"

// run publishes n numbered messages and consumes them all; published, when
// not nil, is called after each stored publish (the test injects faults
// there).
func run(url string, addrs []string, n int, published func(i int)) error {
	cfg := amqp.Config{
		Addresses: addrs,
		Recovery:  &amqp.Recovery{}, // the defaults: 100 ms to 30 s backoff, never give up
	}
	// Runs at the first connection and after every recovery.
	declare := client091.OnConnect(func(c *client091.Conn) error {
		return c.WithChannel(func(ch *client091.Channel) error {
			_, err := ch.QueueDeclare(queue, amqp.QueueOptions{Durable: true})
			return err
		})
	})
	pubConn, err := client091.DialContext(context.Background(), url, cfg, declare)
	if err != nil {
		return err
	}
	defer pubConn.Close()
	subConn, err := client091.DialContext(context.Background(), url, cfg, declare)
	if err != nil {
		return err
	}
	defer subConn.Close()
	for name, c := range map[string]*client091.Conn{"publisher": pubConn, "consumer": subConn} {
		c.OnDisconnect(func(err error) { log.Printf("%s: connection lost (%v); recovering", name, err) })
		c.OnRecovered(func() { log.Printf("%s: recovered on %s", name, c.RemoteAddr()) })
	}

	sub, err := subConn.Channel()
	if err != nil {
		return err
	}
	if err := sub.Qos(100); err != nil {
		return err
	}
	seen := make(map[int]int, n)
	var ackErr error
	if _, err := sub.Consume(queue, func(d *amqp.Delivery) {
		i, _ := strconv.Atoi(string(d.Body))
		seen[i]++
		// A delivery from before a recovery cannot be acked (the broker
		// requeued it and sends it again): ErrStaleDelivery says so.
		if err := sub.Ack(d.DeliveryTag); err != nil && !errors.Is(err, amqp.ErrStaleDelivery) {
			ackErr = err
		}
	}); err != nil {
		return err
	}
	consumed := make(chan error, 1)
	go func() {
		for len(seen) < n && ackErr == nil {
			if err := sub.Wait(); err != nil {
				consumed <- err
				return
			}
		}
		consumed <- ackErr
	}()

	pub, err := pubConn.Channel()
	if err != nil {
		return err
	}
	if err := pub.ConfirmSelect(); err != nil {
		return err
	}
	for i := range n {
		msg := amqp.NewMessage(strconv.Itoa(i))
		msg.DeliveryMode = amqp.Persistent
		if err := pub.PublishConfirmed("", queue, msg); err != nil {
			return fmt.Errorf("publish %d: %w", i, err)
		}
		if published != nil {
			published(i)
		}
	}
	if err := <-consumed; err != nil {
		return err
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	fmt.Printf("published %d, consumed %d, duplicates %d\n", n, len(seen), dups)
	_, err = pub.QueueDelete(queue)
	return err
}
