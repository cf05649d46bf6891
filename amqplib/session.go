package amqplib

import (
	"context"
	"errors"
	"fmt"
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
//   - A call that records what it did (qos, consumers, modes, topology)
//     does so under the recording lock (read), which restore holds
//     (write): it is either replayed or runs on the restored channel.
//     Lock order: recording, then mu, then a Chan's mu, then the
//     topology's. Hooks run with none of them held (the on-connect hook
//     runs under recording, on a view no recording lock guards).
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
	hooks      Hooks         // the user's connection hooks, applied to every connection
	rhooks     RecoveryHooks // the user's recovery hooks
	userClosed bool
	endErr     error
	done       chan struct{}
	ended      bool
	stop       chan struct{} // closed by Close: recovery stops
	secret     string        // the last UpdateSecret's, for the recovery's logins (hasSecret)
	hasSecret  bool

	topo topology // what recovery declares again (topology.go)

	// recording is held (read) by each attempt of a call whose success is
	// recorded, with its record (Chan.doRecorded), and (write) by restore:
	// a call is in the snapshot a recovery replays, or runs after it on the
	// restored channel. No hook runs while restore holds it.
	recording sync.RWMutex
	released  atomic.Pointer[chan struct{}] // closed and replaced each time restore releases recording
}

// RecoveryHooks are the program's hooks on a recovering session; each runs
// on the recovery's goroutine, which waits for it.
type RecoveryHooks struct {
	OnDisconnect    func(error)                // the connection was lost, with the cause
	OnRecovered     func()                     // a recovery completed
	OnTopologyError func(*amqp.TopologyError)  // something recorded could not be restored
	OnQueueRenamed  func(oldName, name string) // a server-named queue got a new name
}

// newSession wraps a dialled engine connection; DialURI then starts
// watching it, with recovery on.
func newSession(c *Conn, p *Protocol, eps []amqp.URI, cfg amqp.Config) *Session {
	s := &Session{dial: &dialParams{proto: p, eps: eps, cfg: cfg}, rec: cfg.Recovery, chans: map[uint16]*Chan{},
		done: make(chan struct{}), stop: make(chan struct{}), signal: make(chan struct{})}
	if s.rec != nil {
		c.rewrite = s.topo.rewrite
	}
	released := make(chan struct{})
	s.released.Store(&released)
	s.cur.Store(c)
	return s
}

// rlock takes the recording lock for reading, waiting for a recovery that
// holds it no longer than the connection's timeout and ctx.
func (s *Session) rlock(ctx context.Context) error {
	var expired <-chan time.Time
	for {
		released := *s.released.Load()
		if s.recording.TryRLock() {
			return nil
		}
		if expired == nil {
			limit := s.Conn().timeout
			timer := time.NewTimer(limit)
			defer timer.Stop()
			expired = timer.C
		}
		select {
		case <-released:
		case <-expired:
			return fmt.Errorf("%w: the connection is recovering (waited %s)", amqp.ErrTimeout, s.Conn().timeout)
		case <-ctx.Done():
			return ctxError(ctx, "waiting for the connection to recover")
		}
	}
}

// unlockRecording releases the recording lock restore holds and wakes
// the calls waiting for it.
func (s *Session) unlockRecording() {
	s.recording.Unlock()
	next := make(chan struct{})
	close(*s.released.Swap(&next))
}

// dialParams is what recovery dials with.
type dialParams struct {
	proto     *Protocol
	eps       []amqp.URI
	cfg       amqp.Config
	onConnect func(ConnCommon) error // the program's on-connect hook, or nil
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

// SetRecoveryHooks changes the recovery hooks.
func (s *Session) SetRecoveryHooks(f func(*RecoveryHooks)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.rhooks)
}

// recoveryHooks returns the recovery hooks now set.
func (s *Session) recoveryHooks() RecoveryHooks {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rhooks
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
	for _, q := range c.queues() { // its consumers went with it
		s.consumerGone(q)
	}
}

// renameConsumers makes consumers of a renamed queue read its new name.
func (s *Session) renameConsumers(old, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.chans {
		c.mu.Lock()
		for i := range c.log {
			if c.log[i].kind == logConsume && c.log[i].queue == old {
				c.log[i].queue = name
			}
		}
		c.mu.Unlock()
	}
}

// consumerGone forgets an auto-delete queue whose last recorded consumer
// went.
func (s *Session) consumerGone(queue string) {
	if queue == "" {
		return
	}
	s.mu.Lock()
	inUse := false
	for _, c := range s.chans {
		inUse = inUse || c.consumes(queue)
	}
	s.mu.Unlock()
	s.topo.consumerGone(queue, inUse)
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
