package amqplib

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/amqplib-go/amqp"
)

// Stable connections and recovery: the value a dialect's Conn holds.
//
// Invariants (this file owns them):
//
//   - A dialect's Conn holds one *Session for its whole life. cur is the
//     engine connection now in use; it changes only in recover, and only
//     once every channel is restored on the new connection, so no call can
//     interleave with the replay's frames.
//   - Without Config.Recovery nothing ever watches cur: the session is its
//     one connection, as before.
//   - With it, one goroutine (watch) follows the connection: when it ends
//     for a recoverable reason it dials again (every address, shuffled,
//     backoff between rounds), restores the channels, swaps cur and closes
//     signals; a call that failed because its connection died waits for
//     that (bounded by the timeout and its context) and runs again on
//     the new channel (chan.go).
//   - The session ends once (end): Close by the user, an error recovery does
//     not cover, or the give-up limit. done then closes and every waiting
//     call returns.
type Session struct {
	cur atomic.Pointer[Conn]

	dial *dialParams // behind a pointer: %v of a value holding a Session never shows the password
	rec  *amqp.Recovery

	mu         sync.Mutex
	recovering bool          // a recovery runs
	signal     chan struct{} // closed and replaced at each change: recovery begins, ends, or the session ends
	chans      map[uint16]*Chan
	hooks      Hooks // the user's connection hooks, applied to every connection
	onDown     func(error)
	onUp       func()
	userClosed bool
	endErr     error
	done       chan struct{}
	ended      bool
	stop       chan struct{} // closed by Close: recovery stops
}

// newSession wraps a dialled engine connection; with rec it starts watching.
func newSession(c *Conn, p *Protocol, eps []amqp.URI, cfg amqp.Config) *Session {
	s := &Session{dial: &dialParams{proto: p, eps: eps, cfg: cfg}, rec: cfg.Recovery, chans: map[uint16]*Chan{},
		done: make(chan struct{}), stop: make(chan struct{}), signal: make(chan struct{})}
	s.cur.Store(c)
	if s.rec != nil {
		go s.watch()
	}
	return s
}

// dialParams is what recovery dials with.
type dialParams struct {
	proto *Protocol
	eps   []amqp.URI
	cfg   amqp.Config
}

// Conn returns the engine connection now in use.
func (s *Session) Conn() *Conn { return s.cur.Load() }

// SetHooks changes the user's connection hooks. With recovery, OnClose is
// the session's: it runs once, when the session ends.
func (s *Session) SetHooks(f func(*Hooks)) {
	if s.rec == nil {
		s.Conn().SetHooks(f)
		return
	}
	s.mu.Lock()
	f(&s.hooks)
	h := s.hooks
	s.mu.Unlock()
	s.Conn().SetHooks(func(dst *Hooks) { *dst = h; dst.OnClose = nil })
}

// SetRecoveryHooks sets the hooks that report a lost connection and a
// completed recovery; nil leaves one unchanged.
func (s *Session) SetRecoveryHooks(down func(error), up func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if down != nil {
		s.onDown = down
	}
	if up != nil {
		s.onUp = up
	}
}

// track records a channel so that recovery restores it; untrack forgets it.
func (s *Session) track(c *Chan) {
	if s.rec == nil {
		return
	}
	s.mu.Lock()
	s.chans[c.id] = c
	s.mu.Unlock()
}

func (s *Session) untrack(c *Chan) {
	if s.rec == nil {
		return
	}
	s.mu.Lock()
	if s.chans[c.id] == c {
		delete(s.chans, c.id)
	}
	s.mu.Unlock()
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} {
	if s.rec == nil {
		return s.Conn().done
	}
	return s.done
}

// Err returns why the session ended (nil while it lives, or after Close).
func (s *Session) Err() error {
	if s.rec == nil {
		return s.Conn().Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endErr
}

// State is the connection's state, or "recovering" while a recovery runs.
func (s *Session) State() string {
	if s.rec == nil {
		return s.Conn().State()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
		return StateClosed
	case s.recovering:
		return StateRecovering
	}
	return s.Conn().State()
}

// StateRecovering is Conn.State while a recovery runs.
const StateRecovering = "recovering"

// Close ends the session: recovery stops and the connection closes.
func (s *Session) Close(ctx context.Context, reason *amqp.Error) error {
	if s.rec == nil {
		return s.Conn().Close(ctx, reason)
	}
	s.mu.Lock()
	first := !s.userClosed
	s.userClosed = true
	s.mu.Unlock()
	if first {
		close(s.stop)
	}
	err := s.Conn().Close(ctx, reason)
	// watch ends the session once the connection is gone; bounded, since
	// Close may be called from a recovery hook, which runs on watch.
	t := time.NewTimer(s.Conn().timeout)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	case <-ctx.Done():
	}
	return err
}

// recoverable reports whether a connection that ended with err is
// recovered: I/O errors, heartbeat timeouts, 320 and 541; not a protocol
// error, nor a refusal.
func recoverable(err error) bool {
	if err == nil {
		return false
	}
	var e *amqp.Error
	if errors.As(err, &e) {
		return e.Code == amqp.ConnectionForced || e.Code == amqp.InternalError
	}
	return !errors.Is(err, amqp.ErrProtocol)
}

// watch follows the connection and recovers it until the session ends.
func (s *Session) watch() {
	for {
		c := s.Conn()
		<-c.done
		s.mu.Lock()
		closed := s.userClosed
		s.mu.Unlock()
		cause := c.Err()
		if closed || !recoverable(cause) {
			s.end(cause)
			return
		}
		if err := s.recover(cause); err != nil {
			s.mu.Lock()
			closed = s.userClosed
			s.mu.Unlock()
			if closed {
				err = nil
			}
			s.end(err)
			return
		}
	}
}

// end ends the session once, waking every waiter.
func (s *Session) end(err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.endErr = true, err
	s.recovering = false
	s.signalLocked()
	onClose := s.hooks.OnClose
	s.mu.Unlock()
	close(s.done)
	if onClose != nil {
		onClose(err)
	}
}

// recover dials again until a connection opens with every channel
// restored, or the give-up limit; it returns the error that ends the
// session, or nil once cur is the new connection.
func (s *Session) recover(cause error) error {
	s.mu.Lock()
	s.recovering = true
	s.signalLocked()
	down := s.onDown
	s.mu.Unlock()
	if down != nil {
		down(cause)
	}
	started := time.Now()
	attempts := 0
	last := cause
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for round := 0; ; round++ {
		if d := s.rec.Backoff(round); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		eps := slices.Clone(s.dial.eps)
		rand.Shuffle(len(eps), func(i, j int) { eps[i], eps[j] = eps[j], eps[i] })
		for _, u := range eps {
			if ctx.Err() != nil {
				return last
			}
			if s.rec.MaxAttempts > 0 && attempts >= s.rec.MaxAttempts ||
				s.rec.GiveUpAfter > 0 && time.Since(started) >= s.rec.GiveUpAfter {
				return fmt.Errorf("%w: recovery gave up after %d attempts in %s: %w", amqp.ErrClosed, attempts, time.Since(started).Round(time.Millisecond), last)
			}
			attempts++
			c, err := Dial(ctx, s.dial.proto, u, s.dial.cfg)
			if err == nil {
				err = s.restore(ctx, c)
				if err == nil {
					return nil
				}
				_ = c.Close(ctx, nil)
			}
			last = err
		}
	}
}

// restore reopens every tracked channel on c with its modes and consumers,
// then makes c current and wakes the waiting calls.
func (s *Session) restore(ctx context.Context, c *Conn) error {
	s.mu.Lock()
	chans := make([]*Chan, 0, len(s.chans))
	for _, ch := range s.chans {
		chans = append(chans, ch)
	}
	h := s.hooks
	s.mu.Unlock()
	slices.SortFunc(chans, func(a, b *Chan) int { return int(a.id) - int(b.id) })
	fresh := make([]*link, len(chans))
	for i, sc := range chans {
		old := sc.Engine()
		if !old.lostWithConn() {
			s.untrack(sc) // closed by the broker or given up before: not restored
			continue
		}
		ch, err := sc.reopen(ctx, c)
		if err != nil {
			return err
		}
		fresh[i] = ch
	}
	c.SetHooks(func(dst *Hooks) { *dst = h; dst.OnClose = nil })
	s.mu.Lock()
	if s.userClosed { // Close came meanwhile: it closed the old connection only
		s.mu.Unlock()
		return amqp.ErrClosed
	}
	for i, sc := range chans {
		if fresh[i] == nil {
			continue
		}
		if s.chans[sc.id] != sc { // closed by the program meanwhile
			fresh[i].ch.abandon(amqp.ErrClosed)
			continue
		}
		sc.cur.Store(fresh[i])
	}
	s.cur.Store(c)
	s.recovering = false
	s.signalLocked()
	up := s.onUp
	s.mu.Unlock()
	if up != nil {
		up()
	}
	return nil
}

func (s *Session) signalLocked() {
	close(s.signal)
	s.signal = make(chan struct{})
}

// await waits until the connection old has been replaced, or the session
// ended, bounded by limit (0: the connection's timeout; negative: none) and
// ctx.
func (s *Session) await(ctx context.Context, old *Conn, limit time.Duration) error {
	if limit == 0 {
		limit = old.timeout
	}
	var expired <-chan time.Time
	if limit > 0 {
		timer := time.NewTimer(limit)
		defer timer.Stop()
		expired = timer.C
	}
	for {
		s.mu.Lock()
		if s.Conn() != old {
			s.mu.Unlock()
			return nil
		}
		ended, endErr, wake := s.ended, s.endErr, s.signal
		s.mu.Unlock()
		if ended {
			return &amqp.ClosedError{What: "connection", Reason: endErr}
		}
		select {
		case <-wake:
		case <-expired:
			return fmt.Errorf("%w: the connection is recovering (waited %s)", amqp.ErrTimeout, limit)
		case <-ctx.Done():
			return ctxError(ctx, "waiting for the connection to recover")
		}
	}
}
