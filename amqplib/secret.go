package amqplib

import (
	"context"
	"fmt"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Updating the secret: connection.update-secret on channel 0 (a RabbitMQ
// extension of 0-9-1, for OAuth 2 tokens that expire).
//
// Invariants (this file owns them):
//
//   - The broker answers update-secrets in the order they were sent. asked
//     counts those sent, answered those answered; a call waits until
//     answered reaches its own number, so a call that timed out leaves a
//     late answer that the next call does not mistake for its own.
//   - asked is raised before the frame is written, so an answer never
//     arrives before its count; an update-secret-ok beyond asked is a
//     connection error (503).
//   - The secret never reaches an error, a log line or a trace.

// secretState is the update-secret bookkeeping, guarded by Conn.mu.
type secretState struct {
	asked, answered uint64
	changed         chan struct{} // closed and replaced at each answer
}

// UpdateSecret sends connection.update-secret with a new secret (an OAuth 2
// token) and reason, and waits for update-secret-ok, bounded by the timeout
// and ctx. A broker that refuses the secret closes the connection (530
// NOT_ALLOWED); the error then matches amqp.ErrNotAllowed. It returns an
// error matching amqp.ErrNotImplemented on a protocol without the method.
func (c *Conn) UpdateSecret(ctx context.Context, secret, reason string) error {
	build := c.proto.Steps.UpdateSecret
	if build == nil {
		return fmt.Errorf("%w: connection.update-secret is not part of AMQP %s", amqp.ErrNotImplemented, c.proto.Name)
	}
	if len(reason) > 255 {
		return fmt.Errorf("%w: the reason is longer than 255 bytes", amqp.ErrInvalidArgument)
	}
	c.mu.Lock()
	if c.secret.changed == nil {
		c.secret.changed = make(chan struct{})
	}
	c.secret.asked++
	mine := c.secret.asked
	c.mu.Unlock()
	if err := c.sendMethod(0, build(secret, reason)); err != nil {
		c.mu.Lock()
		if c.secret.asked == mine { // nothing sent after it: take the count back
			c.secret.asked--
		}
		c.mu.Unlock()
		return err
	}
	err := c.awaitChannel0(ctx, "connection.update-secret-ok", func() (bool, <-chan struct{}) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.secret.answered >= mine, c.secret.changed
	})
	if err == errConnGone {
		if e := c.Err(); e != nil {
			return e
		}
		return c.closedError()
	}
	return err
}

// secretAnswered routes connection.update-secret-ok (router).
func (c *Conn) secretAnswered() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.secret.answered >= c.secret.asked {
		return &wire.FrameError{Code: amqp.CommandInvalid, Msg: "connection.update-secret-ok that no connection.update-secret asked for"}
	}
	c.secret.answered++
	close(c.secret.changed)
	c.secret.changed = make(chan struct{})
	return nil
}

// UpdateSecret is Conn.UpdateSecret on the session's connection (the
// dialect's Conn.UpdateSecret). With recovery on, the secret is also kept
// for the recovery's next logins, and a call made while the connection is
// lost waits for the recovery (bounded by the timeout and ctx) and runs on
// the new connection.
func UpdateSecret(cc ConnCommon, ctx context.Context, secret, reason string) error {
	s := cc.s
	keep := func() { // once the broker took it, or the connection was lost meanwhile
		s.mu.Lock()
		s.secret, s.hasSecret = secret, true
		s.mu.Unlock()
	}
	for {
		c := s.Conn()
		err := c.UpdateSecret(ctx, secret, reason)
		if s.rec == nil {
			return err
		}
		if err == nil {
			keep()
			return nil
		}
		if !c.isDone() || !recoverable(c.Err()) {
			return err
		}
		keep()
		if werr := s.await(ctx, c, 0); werr != nil {
			return werr
		}
	}
}
