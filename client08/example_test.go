package client08_test

import (
	"fmt"
	"os"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
)

// AMQP 0-8 with an access ticket, as py-amqplib does: the ticket
// AccessRequest returns is carried by the channel's later methods.
func ExampleChannel_AccessRequest() {
	url := os.Getenv("AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@localhost:5672"
	}
	conn, err := client08.Dial(url)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ch, _ := conn.Channel()
	if _, err := ch.AccessRequest("/data", amqp.DefaultAccess); err != nil {
		fmt.Println(err)
		return
	}
	q, _ := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	_ = ch.TxSelect() // 0-8 has no confirms: a committed transaction says the message is in
	_ = ch.Publish("", q.Name, amqp.NewMessage("over 0-8"))
	_ = ch.TxCommit()
	d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	fmt.Println(d.Text(), ok, err)
	// Output: over 0-8 true <nil>
}
