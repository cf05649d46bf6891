package amqp

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Default recovery backoff bounds (Recovery.MinBackoff, Recovery.MaxBackoff).
const (
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// ErrStaleDelivery is returned by an ack, nack or reject of a delivery
// received before the connection recovered: the broker forgot it with the
// old connection (and requeued it), so nothing is sent.
var ErrStaleDelivery = errors.New("amqp: stale delivery tag (received before the connection recovered)")

// Recovery turns on automatic recovery (Config.Recovery): when the
// connection fails, the client connects again by itself, to the URL's
// address or any of Config.Addresses, restores what the program had, and
// resumes the calls that were waiting. Its zero value is the default policy:
// backoff from 100 ms to 30 s, and never give up.
type Recovery struct {
	// MinBackoff and MaxBackoff bound the wait between rounds of dial
	// attempts (one round tries every address once, in shuffled order; the
	// first round starts at once). The wait grows exponentially from
	// MinBackoff and is drawn at random up to that bound ("full jitter"), so
	// that many clients do not come back at the same instant. Defaults
	// DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// MaxAttempts gives up after that many failed dial attempts in one
	// recovery (each address tried counts once); 0 means no limit.
	MaxAttempts int
	// GiveUpAfter gives up once a recovery has run that long without
	// success; 0 means no limit. The connection then ends with the last
	// error, and every blocked call returns.
	GiveUpAfter time.Duration
	// RepublishUnconfirmed makes a channel in confirm mode keep a copy of
	// each message published with Publish until the broker confirms it,
	// and publish the ones a lost connection left unconfirmed again on the
	// restored channel, in order, before the calls that waited resume.
	// Their confirms are then reported under the numbers they had
	// (WaitConfirm, WaitConfirms, OnConfirm): at least once, as
	// PublishConfirmed. Without it, each such message is reported lost:
	// OnConfirm gets a Confirmation with Lost set, and WaitConfirms and
	// WaitConfirm return an error matching ErrClosed.
	RepublishUnconfirmed bool
}

// Backoff returns how long to wait before round n of dial attempts (round 0
// is the first, which starts at once): a random duration up to
// MinBackoff*2^(n-1), capped at MaxBackoff.
func (r *Recovery) Backoff(round int) time.Duration {
	if round <= 0 {
		return 0
	}
	lo, hi := r.MinBackoff, r.MaxBackoff
	if lo <= 0 {
		lo = DefaultMinBackoff
	}
	if hi <= 0 {
		hi = DefaultMaxBackoff
	}
	if hi < lo {
		hi = lo
	}
	bound := lo
	for i := 1; i < round && bound < hi; i++ {
		bound *= 2
	}
	bound = min(bound, hi)
	return time.Duration(rand.Int64N(int64(bound)) + 1)
}

// DialError says that no address could be dialled; it matches (errors.Is,
// errors.As) each address's error.
type DialError struct {
	Addrs []string
	Errs  []error
}

// Error lists each address with its error.
func (e *DialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "amqp: could not connect to any of %d addresses", len(e.Addrs))
	for i, a := range e.Addrs {
		fmt.Fprintf(&b, "; %s: %s", a, strings.TrimPrefix(e.Errs[i].Error(), "amqp: "))
	}
	return b.String()
}

// Unwrap returns the errors of every address.
func (e *DialError) Unwrap() []error { return e.Errs }

// TopologyError says that a recovery could not restore something the
// program had declared or started through the connection: the broker
// refused it on the new connection (a queue declared again with other
// arguments, a binding to an exchange that is gone, a consumer on a queue
// that is gone). The entity is forgotten, and the recovery goes on without
// it. OnTopologyError hooks receive it; it matches (errors.Is, errors.As)
// the broker's error.
type TopologyError struct {
	Kind   string // "exchange", "queue", "queue binding", "exchange binding" or "consumer"
	Name   string // the exchange or queue, a binding's destination, or a consumer's tag
	Source string // a binding's source exchange
	Key    string // a binding's routing key
	Err    error  // why the broker refused it
}

// Error names the entity and the broker's refusal.
func (e *TopologyError) Error() string {
	s := fmt.Sprintf("amqp: recovery could not restore %s %q", e.Kind, e.Name)
	if e.Kind == "queue binding" || e.Kind == "exchange binding" {
		s += fmt.Sprintf(" (from %q, key %q)", e.Source, e.Key)
	}
	return s + ": " + strings.TrimPrefix(fmt.Sprint(e.Err), "amqp: ")
}

// Unwrap returns the broker's error.
func (e *TopologyError) Unwrap() error { return e.Err }
