// Command tickets shows AMQP 0-8 access tickets, as py-amqplib uses them:
// access.request grants a ticket for a realm, and every later exchange,
// queue and basic method on the channel carries it. The broker comes from
// $AMQP_URL (default amqp://guest:guest@localhost:5672).
package main

import (
	"fmt"
	"log"
	"os"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
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
	conn, err := client08.Dial(url) // AMQP 0-8, AMQPLAIN login
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Println("connected over AMQP 0-8 to", conn.ServerVersion())

	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	ticket, err := ch.AccessRequest("/data", amqp.DefaultAccess) // active, write, read
	if err != nil {
		return err
	}
	fmt.Println("granted ticket", ticket, "for realm /data")

	// The ticket is now the channel's default: declare, publish and get
	// all carry it.
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	if err != nil {
		return err
	}
	if err := ch.Publish("", q.Name, amqp.NewMessage("sent with ticket")); err != nil {
		return err
	}
	// A single call can carry another ticket.
	if err := ch.WithTicket(ticket).Publish("", q.Name, amqp.NewMessage("sent with an explicit ticket")); err != nil {
		return err
	}
	for {
		d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		fmt.Printf("got: %s\n", d.Body)
	}
	return nil
}
