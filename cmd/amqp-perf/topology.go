package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/amqplib-go/amqp"
)

// topology is where the messages go: the exchange, the queues and the
// routing key of each.
type topology struct {
	exchange string
	queues   []string
	keys     []string // routing key of each queue's messages
	fresh    bool     // amqp-perf named the queue: it deletes it unless --keep
	// copies is how many of the queues receive each message (0: unknown,
	// for exchange types other than direct, topic, fanout and headers).
	copies int
}

// target is where producer i publishes, spread round-robin over the queues.
func (t *topology) target(i int) (exchange, key string) {
	return t.exchange, t.keys[i%len(t.keys)]
}

// isNotFound reports a 404 from the broker.
func isNotFound(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == 404
}

// durable says whether amqp-perf declares its queues and exchange durable:
// for persistent messages, and for quorum queues and streams, which must be.
func (c config) durable() bool {
	return c.persistent || c.queueType == "quorum" || c.queueType == "stream"
}

// declare sets up the exchange, the queues and their bindings on the admin
// connection. A queue or exchange the user named is used as it is when it
// exists (a passive declare), and declared when it does not.
func declare(cfg config, adm *conn, info io.Writer) (*topology, error) {
	ch, err := adm.open()
	if err != nil {
		return nil, err
	}
	defer func() { ch.Close() }()
	// reopen replaces the channel a 404 closed.
	reopen := func() error {
		ch.Close()
		ch, err = adm.open()
		return err
	}
	t := &topology{exchange: cfg.exchange, queues: cfg.queues}
	if cfg.exchange != "" {
		err := ch.ExchangeDeclare(cfg.exchange, cfg.exType, amqp.ExchangeOptions{Passive: true})
		if isNotFound(err) && !strings.HasPrefix(cfg.exchange, "amq.") {
			if err = reopen(); err == nil {
				err = ch.ExchangeDeclare(cfg.exchange, cfg.exType, amqp.ExchangeOptions{Durable: cfg.durable()})
			}
		}
		if err != nil {
			return nil, opErr(fmt.Sprintf("declaring exchange %s", cfg.exchange), err)
		}
	}
	opts := amqp.QueueOptions{Durable: cfg.durable(), Arguments: cfg.queueArgs}
	if len(t.queues) == 0 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		t.queues, t.fresh = []string{"amqp-perf-" + hex.EncodeToString(b[:])}, true
		if _, err := ch.QueueDeclare(t.queues[0], opts); err != nil {
			return nil, opErr(fmt.Sprintf("declaring queue %s", t.queues[0]), err)
		}
	} else {
		for _, q := range t.queues {
			_, err := ch.QueueDeclare(q, amqp.QueueOptions{Passive: true})
			if err == nil && cfg.queueArgs != nil {
				fmt.Fprintf(info, "amqp-perf: queue %s exists: used as it is, without --queue-args\n", q)
			}
			if isNotFound(err) {
				if err = reopen(); err == nil {
					_, err = ch.QueueDeclare(q, opts)
				}
			}
			if err != nil {
				return nil, opErr(fmt.Sprintf("declaring queue %s", q), err)
			}
		}
	}
	for _, q := range t.queues {
		key := q
		if cfg.keyGiven {
			key = cfg.routingKey
		}
		t.keys = append(t.keys, key)
		if cfg.exchange == "" {
			continue
		}
		if err := ch.QueueBind(q, cfg.exchange, key); err != nil {
			return nil, opErr(fmt.Sprintf("binding queue %s to exchange %s", q, cfg.exchange), err)
		}
	}
	t.copies = 1
	switch {
	case cfg.exchange == "":
	case cfg.exType == "fanout" || cfg.exType == "headers":
		t.copies = len(t.queues)
	case cfg.exType == "direct" || cfg.exType == "topic":
		if cfg.keyGiven {
			t.copies = len(t.queues)
		}
	default:
		t.copies = 0
	}
	return t, nil
}

// cleanup deletes the queue amqp-perf named, unless --keep.
func (t *topology) cleanup(cfg config, adm *conn, info io.Writer) error {
	if !t.fresh {
		return nil
	}
	if cfg.keep {
		fmt.Fprintf(info, "amqp-perf: kept queue %s\n", t.queues[0])
		return nil
	}
	ch, err := adm.open()
	if err != nil {
		return opErr(fmt.Sprintf("deleting queue %s", t.queues[0]), err)
	}
	defer ch.Close()
	if _, err := ch.QueueDelete(t.queues[0]); err != nil {
		return opErr(fmt.Sprintf("deleting queue %s", t.queues[0]), err)
	}
	return nil
}
