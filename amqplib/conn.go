package amqplib

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Connection states reported by Conn.State.
const (
	StateOpen    = "open"
	StateClosing = "closing"
	StateClosed  = "closed"
)

// Tuned holds what the handshake negotiated and learnt about the broker.
type Tuned struct {
	ChannelMax       uint16
	FrameMax         uint32
	Heartbeat        time.Duration
	ServerProperties amqp.Table
	VersionMajor     uint8
	VersionMinor     uint8
	Mechanism        string
	Locale           string
}

// Conn is one AMQP connection: the socket, the writer, the shared reader and
// the open channels. It is safe for use by several goroutines.
type Conn struct {
	proto   *Protocol
	cfg     amqp.Config
	timeout time.Duration
	nc      net.Conn
	fr      *wire.FrameReader
	tuned   Tuned
	maxMsg  int
	// the reader's own state
	intern  wire.Interner
	dec     wire.Decoder // interns through intern
	scratch map[wire.MethodID]wire.Method
	armed   time.Time // when bytes last arrived (noted at most every heartbeat/4)
	curDL   time.Time // the read deadline set on the socket
	soft    time.Time // a leading caller's own deadline (zero: none)
	started bool      // the handshake is over: the reader sets the deadlines
	turn    turn      // who reads (turn.go)

	interrupted atomic.Bool // a leader must re-check its condition (turn.go)

	reads  atomic.Uint64 // socket reads that returned bytes, after the handshake
	silent atomic.Uint64 // reads+1 when an RPC timed out with nothing read meanwhile (0: never)

	wmu      sync.Mutex // guards the writer state below (see writer.go)
	wcond    *sync.Cond // signalled when a write ends
	enc      wire.Encoder
	spare    []byte
	bufs     [][]byte // write vectors of a large body, during its write
	flushing bool     // a goroutine is writing to the socket
	kicked   bool     // the flusher has been asked to write
	werr     error    // the write error that ended the connection
	closeOut bool     // our connection.close is appended: nothing else may follow
	kick     chan struct{}
	writes   atomic.Uint64 // bumped on every write, read by the heartbeat sender

	byID sync.Mutex // serialises ChannelByID, so one id is opened once

	rewrite func(wire.Method) // a recovering session's renames (topology.go); set before first use
	addr    string            // the host:port dialled (a redirect's, after one)

	mu       sync.Mutex // guards the fields below
	chans    []atomic.Pointer[Channel]
	lastID   uint16
	everUsed []uint64 // bitmap of the channel ids allocated at least once
	closing  bool
	closeErr error // why the connection closed (nil after a clean Close)
	blocked  string
	unblock  chan struct{} // closed when the broker unblocks (nil while unblocked)
	secret   secretState   // connection.update-secret calls (secret.go)

	done      chan struct{} // closed when the connection is gone
	closeOK   chan struct{} // closed when connection.close-ok arrived
	readerEnd chan struct{} // closed when the reader goroutine returned (or, never started, at shutdown)

	readerState atomic.Int32               // readerIdle, readerRunning, readerNever (reader.go)
	setUp       atomic.Bool                // start is over: timer callbacks load it first (reader.go)
	readerStart atomic.Pointer[time.Timer] // starts the background reader after idleRead
	hbTimer     atomic.Pointer[time.Timer] // the heartbeat timer (nil: heartbeats off)
	hbWrites    atomic.Uint64              // writes seen at the heartbeat timer's last look
	flusherOn   bool                       // the flusher goroutine runs (guarded by wmu)
	shutOnce    sync.Once
	events      hookQueue
}

// String describes the connection without its internals (and so without
// any secret): "AMQP 0-9-1 connection to 127.0.0.1:5672 (open)".
func (c *Conn) String() string {
	return fmt.Sprintf("AMQP %s connection to %s (%s)", c.proto.Name, c.nc.RemoteAddr(), c.State())
}

// GoString is String: %#v shows no internals either.
func (c *Conn) GoString() string { return c.String() }

// Protocol returns the dialect descriptor.
func (c *Conn) Protocol() *Protocol { return c.proto }

// Tuned returns the negotiated limits and the broker's properties.
func (c *Conn) Tuned() Tuned { return c.tuned }

// Timeout returns the bound on blocking calls.
func (c *Conn) Timeout() time.Duration { return c.timeout }

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// State returns "open", "closing" or "closed".
func (c *Conn) State() string {
	select {
	case <-c.done:
		return StateClosed
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return StateClosing
	}
	return StateOpen
}

// logf writes a diagnostic line at level Warn (see log).
func (c *Conn) logf(format string, args ...any) { c.log(slog.LevelWarn, format, args...) }

// log writes a diagnostic line through Config.Logf and Config.Logger,
// whichever are set; Logger gets it at level.
func (c *Conn) log(level slog.Level, format string, args ...any) {
	if c.cfg.Logf != nil {
		c.cfg.Logf("amqp: "+format, args...)
	}
	if l := c.cfg.Logger; l != nil && l.Enabled(context.Background(), level) {
		l.Log(context.Background(), level, fmt.Sprintf(format, args...), "component", "amqp")
	}
}

// Err returns why the connection closed: nil while open or after Close.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// Blocked returns the broker's reason while it blocks publishers, else "".
func (c *Conn) Blocked() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked
}

// waitUnblocked waits, up to Config.BlockedTimeout when it is set, while
// the broker blocks the connection.
func (c *Conn) waitUnblocked(ctx context.Context) error {
	if c.cfg.BlockedTimeout <= 0 {
		return nil
	}
	c.mu.Lock()
	unblock, reason := c.unblock, c.blocked
	c.mu.Unlock()
	if unblock == nil {
		return nil
	}
	defer c.needReader()()
	t := time.NewTimer(c.cfg.BlockedTimeout)
	defer t.Stop()
	select {
	case <-unblock:
		return nil
	case <-c.done:
		return c.closedError()
	case <-t.C:
		return fmt.Errorf("%w: the broker has blocked publishing for over %s (%s)", amqp.ErrTimeout, c.cfg.BlockedTimeout, reason)
	case <-ctx.Done():
		return ctxError(ctx, "waiting while the broker blocks publishing ("+reason+")")
	}
}

// ctxError is the error for a wait that ctx ended, what naming the wait: it
// matches ctx's cause (context.Canceled, context.DeadlineExceeded) and,
// for a deadline, amqp.ErrTimeout too; a cancellation is never a timeout.
func ctxError(ctx context.Context, what string) error {
	cause := context.Cause(ctx)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s: %w", amqp.ErrTimeout, what, cause)
	}
	return fmt.Errorf("amqp: %s: %w", what, cause)
}

// closedError describes the closed connection for callers.
func (c *Conn) closedError() error {
	return &amqp.ClosedError{What: "connection", Reason: c.Err()}
}
