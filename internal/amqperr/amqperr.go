// Package amqperr builds the library's errors: detail wrapped around the
// root package's sentinel errors, so that errors.Is matches the sentinel
// and the text reads "amqp: <kind>: <detail>" with the prefix once. Programs
// never need it; they match the sentinels in package amqp.
package amqperr

import (
	"fmt"
	"strings"

	"github.com/amqplib-go/amqp"
)

// Invalid returns an error wrapping amqp.ErrInvalidArgument with a
// formatted detail.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{amqp.ErrInvalidArgument}, args...)...)
}

// Unsupported returns an error wrapping amqp.ErrUnsupported with a
// formatted detail.
func Unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{amqp.ErrUnsupported}, args...)...)
}

// Wrap returns an error that matches both kind (e.g. amqp.ErrAuth) and err
// (e.g. the broker's *amqp.Error) with errors.Is and errors.As, and reads
// "amqp: <kind>: <err>" with the "amqp:" prefix once.
func Wrap(kind, err error) error { return &wrapped{kind: kind, err: err} }

type wrapped struct{ kind, err error }

func (w *wrapped) Error() string {
	return w.kind.Error() + ": " + strings.TrimPrefix(w.err.Error(), "amqp: ")
}

func (w *wrapped) Unwrap() []error { return []error{w.kind, w.err} }
