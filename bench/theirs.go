package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	amqp091 "github.com/rabbitmq/amqp091-go"
)

// The same scenarios with github.com/rabbitmq/amqp091-go, written the way
// its documentation and examples do: PublishWithContext, NotifyPublish for a
// stream of confirms, PublishWithDeferredConfirmWithContext to wait for one,
// Get, and the Consume delivery channel.

func theirDial(url string) (*amqp091.Connection, *amqp091.Channel, error) {
	c, err := amqp091.Dial(url)
	if err != nil {
		return nil, nil, err
	}
	ch, err := c.Channel()
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, ch, nil
}

func theirCount(ch *amqp091.Channel, q string) func() (int, error) {
	return func() (int, error) {
		info, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		return info.Messages, err
	}
}

// S1
func theirPublish(env *env, m *meter, q string, n int) error {
	conn, ch, err := theirDial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx := context.Background()
	msg := amqp091.Publishing{Body: env.small}
	m.Start()
	for i := 0; i < n; i++ {
		if err := ch.PublishWithContext(ctx, "", q, false, false, msg); err != nil {
			return err
		}
	}
	err = waitReady(theirCount(ch, q), n)
	m.Stop()
	return err
}

// S2: a NotifyPublish listener with room for every outstanding confirm
// (as its documentation requires), drained while publishing goes on.
func theirPublishConfirms(env *env, m *meter, q string, n int) error {
	conn, ch, err := theirDial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		return err
	}
	confirms := ch.NotifyPublish(make(chan amqp091.Confirmation, n))
	ctx := context.Background()
	msg := amqp091.Publishing{Body: env.small}
	m.Start()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			c, ok := <-confirms
			if !ok {
				done <- errors.New("confirm channel closed")
				return
			}
			if !c.Ack {
				done <- fmt.Errorf("message %d nacked", c.DeliveryTag)
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < n; i++ {
		if err := ch.PublishWithContext(ctx, "", q, false, false, msg); err != nil {
			return err
		}
	}
	err = <-done
	m.Stop()
	return err
}

// S3
func theirPublishEachConfirmed(env *env, m *meter, q string, n int) error {
	conn, ch, err := theirDial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := ch.Confirm(false); err != nil {
		return err
	}
	ctx := context.Background()
	msg := amqp091.Publishing{Body: env.small}
	m.Start()
	for i := 0; i < n; i++ {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q, false, false, msg)
		if err != nil {
			return err
		}
		if !dc.Wait() {
			return fmt.Errorf("message %d nacked", i+1)
		}
	}
	m.Stop()
	return nil
}

// S4
func theirGet(env *env, m *meter, q string, n int) error {
	conn, ch, err := theirDial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	m.Start()
	for i := 0; i < n; i++ {
		d, ok, err := ch.Get(q, true)
		if err != nil {
			return err
		}
		if !ok || len(d.Body) != len(env.small) {
			return fmt.Errorf("get %d: ok=%v", i, ok)
		}
	}
	m.Stop()
	return nil
}

// S5
func theirConsume(env *env, m *meter, q string, n int) error {
	conn, ch, err := theirDial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := ch.Qos(1000, 0, false); err != nil {
		return err
	}
	m.Start()
	deliveries, err := ch.Consume(q, "bench", false, false, false, false, nil)
	if err != nil {
		return err
	}
	got := 0
	for d := range deliveries {
		got++
		if got%100 == 0 || got == n {
			if err := d.Ack(true); err != nil {
				return err
			}
		}
		if got == n {
			break
		}
	}
	m.Stop()
	if got != n {
		return fmt.Errorf("consumed %d of %d", got, n)
	}
	return ch.Cancel("bench", false)
}

// S6
func theirLarge(env *env, m *meter, q string, n int) error {
	conn, ch, err := theirDial(env.url)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx := context.Background()
	msg := amqp091.Publishing{Body: env.large}
	m.Start()
	for i := 0; i < n; i++ {
		if err := ch.PublishWithContext(ctx, "", q, false, false, msg); err != nil {
			return err
		}
		for {
			d, ok, err := ch.Get(q, true)
			if err != nil {
				return err
			}
			if ok {
				if len(d.Body) != len(env.large) || !bytes.Equal(d.Body[:64], env.large[:64]) {
					return errors.New("large message came back changed")
				}
				break
			}
			time.Sleep(pollEvery)
		}
	}
	m.Stop()
	return nil
}

// S7
func theirConnect(env *env, m *meter, _ string, n int) error {
	m.Start()
	for i := 0; i < n; i++ {
		conn, _, err := theirDial(env.url)
		if err != nil {
			return err
		}
		if err := conn.Close(); err != nil {
			return err
		}
	}
	m.Stop()
	return nil
}
