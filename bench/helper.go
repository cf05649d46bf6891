package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
)

// admin is a connection of its own (this library, 0-9-1) that declares,
// pre-fills and deletes the scenarios' queues outside the measured part, so
// both clients start from identical broker state.
type admin struct {
	url  string
	conn *client091.Conn
	ch   *client091.Channel
}

func newAdmin(url string) (*admin, error) {
	a := &admin{url: url}
	return a, a.reopen()
}

func (a *admin) reopen() error {
	if a.conn != nil {
		_ = a.conn.Close()
	}
	conn, err := client091.Dial(a.url)
	if err != nil {
		return err
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return err
	}
	a.conn, a.ch = conn, ch
	return nil
}

func (a *admin) Close() error { return a.conn.Close() }

// do runs fn on the admin channel, reopening the connection once if the
// channel or connection had been closed.
func (a *admin) do(fn func(ch *client091.Channel) error) error {
	if a.ch.IsClosed() || a.conn.IsClosed() {
		if err := a.reopen(); err != nil {
			return err
		}
	}
	return fn(a.ch)
}

// queueName returns a fresh queue name.
func queueName(scenario, side string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("bench.%s.%s.%s", scenario, side, hex.EncodeToString(b[:]))
}

// declare creates a fresh transient classic queue.
func (a *admin) declare(name string) error {
	return a.do(func(ch *client091.Channel) error {
		_, err := ch.QueueDeclare(name)
		return err
	})
}

// remove deletes a queue (errors are ignored: it may be gone already).
func (a *admin) remove(name string) {
	_ = a.do(func(ch *client091.Channel) error {
		_, err := ch.QueueDelete(name)
		return err
	})
}

// prefill publishes n messages of the body to the queue and waits until the
// broker reports all of them ready.
func (a *admin) prefill(name string, n int, body []byte) error {
	return a.do(func(ch *client091.Channel) error {
		msg := amqp.Message{Body: body}
		for i := 0; i < n; i++ {
			if err := ch.Publish("", name, msg); err != nil {
				return err
			}
		}
		return waitReady(func() (int, error) {
			q, err := ch.QueueDeclare(name, amqp.QueueOptions{Passive: true})
			return q.Messages, err
		}, n)
	})
}

// pollEvery is the pause between two passive declares while waiting for a
// queue to hold a count of messages (the same for both clients).
const pollEvery = 500 * time.Microsecond

// waitReady polls count (a passive queue.declare) until it reports at least
// n messages, for at most two minutes.
func waitReady(count func() (int, error), n int) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		c, err := count()
		if err != nil {
			return err
		}
		if c >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("queue holds %d messages, want %d after 2 minutes", c, n)
		}
		time.Sleep(pollEvery)
	}
}
