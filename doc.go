// Package amqp holds the types shared by the AMQP clients of this module: a
// blocking, script-friendly AMQP client for Go in the spirit of Python's
// py-amqplib. The clients live in two packages that share one engine:
//
//   - client091 speaks AMQP 0-9-1 with RabbitMQ's extensions (publisher
//     confirms, basic.nack, exchange-to-exchange bindings, consumer-cancel
//     and connection.blocked notifications);
//   - client08 speaks AMQP 0-8 with access tickets, as py-amqplib does.
//
// Every channel method writes its frame and returns once the broker has
// answered, so a script reads top to bottom:
//
//	conn, err := client091.Dial("amqp://guest:guest@localhost:5672")
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer conn.Close()
//	ch, err := conn.Channel()
//	...
//	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
//	err = ch.Publish("", q.Name, amqp.NewMessage("hello"))
//	d, ok, err := ch.Get(q.Name)
//
// Consumers take a callback that runs on the caller's goroutine inside
// Channel.Wait, so nothing happens behind the script's back:
//
//	ch.Consume(q.Name, func(d *amqp.Delivery) { fmt.Printf("%s\n", d.Body); ch.Ack(d.DeliveryTag) })
//	for {
//		if err := ch.Wait(); err != nil {
//			break
//		}
//	}
//
// # Messages and tables
//
// NewMessage makes a Message from a string (sent as UTF-8, with
// ContentEncoding "UTF-8") or a []byte (sent as it is). Properties has all 14
// basic properties; a zero field is not sent. Table carries headers and
// arguments with RabbitMQ's full set of field types (see Table).
//
// # Options
//
// Required names are positional; everything optional lives in an options
// struct whose zero value means the AMQP default, passed as an optional last
// argument: ch.QueueDeclare("jobs", amqp.QueueOptions{Durable: true}).
//
// # Errors
//
// A broker exception is an *Error with the reply code, text and the method
// that caused it; errors.Is(err, amqp.ErrNotFound) matches by code. Channel
// exceptions (404, 405, 406, 403) close only their channel; connection
// exceptions (320, 501-541) close the connection and wake every blocked call.
// Using a closed channel or connection returns an error matching ErrClosed
// that wraps the reason. Every blocking call but Wait is bounded by
// Config.Timeout; Wait waits until an event comes or the channel ends. A
// single call can also be bounded or cancelled by a context, through the
// view ch.WithContext(ctx) (or conn.WithContext(ctx)).
// Passwords never appear in errors or in URI.String.
package amqp
