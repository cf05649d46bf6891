package amqplib

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// The read turn: who reads the socket.
//
// A goroutine waiting for a reply (an RPC, Wait, a confirm) reads and routes
// frames itself when nobody else is reading ("leads"), so a round trip costs
// no goroutine hand-off. When someone else holds the turn it "follows": it
// registers and waits for its reply as before, routed by whoever reads.
//
// The background reader (readLoop) reads whenever no caller does: it takes
// the turn when a leader leaves followers behind, when something waits
// without leading (needReader), or once the turn has been free for
// idleRead. Its goroutine starts at the first of these (startReader: a
// release that leaves followers, needReader, or a timer idleRead after the
// handshake), so a connection that lives a few round trips never starts it. It parks again after routing a frame that served a follower,
// or an RPC reply, when nobody else waits, so that the caller's next call
// can lead.
//
// A leader stops at its own deadline, or when interrupted (its channel was
// closed by another goroutine, its context was cancelled), wherever the
// frame reader is: the next reader resumes the frame.
//
// Everything the reader owns (the frame reader, the decoder, content
// assembly, the read deadline) is touched only by the turn's holder; taking
// and releasing the turn under mu orders those accesses.
type turn struct {
	mu      sync.Mutex
	holder  int       // turnFree, turnBackground or turnLeader
	waiters int       // followers not yet served
	served  bool      // a frame the background reader routed served a follower
	parked  int       // how the background reader waits: parkNone, parkIdle, parkHeld
	needers int       // goroutines waiting without leading: the background reader must read
	freed   time.Time // when the turn was last released
	taken   time.Time // when a leader last took the turn
	wake    chan struct{}
	replied atomic.Bool // an RPC reply was routed: its caller is likely to call again
}

const (
	turnFree = iota
	turnBackground
	turnLeader
)

const (
	parkNone = iota // not parked
	parkIdle        // until the turn has been free for idleRead
	parkHeld        // a leader holds the turn: until it is released
)

// idleRead is how long the turn stays free before the background reader
// takes it: input nobody waits for (hooks, a broker's close, heartbeats)
// is read at most this late. A variable for tests only.
var idleRead = 10 * time.Millisecond

var (
	// errLeadTimeout ends a leader's read when its deadline passed.
	errLeadTimeout = errors.New("amqp: the caller's deadline passed while reading")
	// errLeadInterrupted ends a read so that the leader re-checks its
	// condition.
	errLeadInterrupted = errors.New("amqp: read interrupted")
)

// follow kinds: what a follower waits for, so the router can tell when it
// has served it.
const (
	followReply   = iota // an RPC reply (Channel.call)
	followEvent          // an event in the channel's queue (Channel.wait)
	followConfirm        // a publisher confirm resolved (Channel.waitConfirms)
	followKinds
)

// lead reads and routes frames on the calling goroutine until ready reports
// true, the deadline passes (errLeadTimeout) or the connection fails. If
// another goroutine is reading, it registers ch as a follower of the given
// kind and returns led=false with the registration's generation; the
// caller then waits on its usual signals and calls unfollow with it. With
// ch nil (the connection's own close) it registers nothing: the caller then
// waits with needReader.
func (c *Conn) lead(ch *Channel, kind int, ready func() bool, deadline time.Time) (led bool, gen uint64, err error) {
	t := &c.turn
	t.mu.Lock()
	if t.holder != turnFree && ch == nil {
		t.mu.Unlock()
		return false, 0, nil
	}
	if t.holder != turnFree {
		t.waiters++
		ch.following[kind]++
		ch.followed.Store(true)
		gen = ch.servings[kind]
		t.mu.Unlock()
		return false, gen, nil
	}
	t.holder, t.taken = turnLeader, time.Now()
	t.mu.Unlock()

	c.soft = deadline
	for !ready() {
		err = c.readFrame()
		if errors.Is(err, errLeadInterrupted) {
			err = nil
			continue
		}
		if err != nil {
			break
		}
	}
	c.soft = time.Time{}
	if err != nil && !errors.Is(err, errLeadTimeout) {
		c.readFailed(err)
	}
	c.release()
	return true, 0, err
}

// release frees the turn, waking the background reader if followers are
// left or it waits for the release (starting it if it has not started).
func (c *Conn) release() {
	t := &c.turn
	t.mu.Lock()
	t.holder = turnFree
	t.freed = time.Now()
	needed := t.waiters > 0 || t.needers > 0
	wake := t.parked == parkHeld || needed && t.parked != parkNone
	t.mu.Unlock()
	if needed {
		c.startReader()
	}
	if wake {
		c.wakeReader()
	}
}

// interruptLeader makes a leader blocked in a read re-check its condition:
// something it waits for happened without a frame (a close, a context).
func (c *Conn) interruptLeader() {
	t := &c.turn
	t.mu.Lock()
	leading := t.holder == turnLeader
	t.mu.Unlock()
	if leading {
		c.interrupted.Store(true)
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// unfollow removes one registration of kind for ch, made in generation gen,
// if the router has not served it. Registrations are counted per channel
// and kind, so one made after a serve (a newer generation) belongs to
// another waiter and is left alone.
func (c *Conn) unfollow(ch *Channel, kind int, gen uint64) {
	if !ch.followed.Load() {
		return
	}
	t := &c.turn
	t.mu.Lock()
	if ch.following[kind] > 0 && ch.servings[kind] == gen {
		ch.following[kind]--
		t.waiters--
	}
	ch.followed.Store(ch.following != [followKinds]int{})
	t.mu.Unlock()
}

// serve is called by the router before it makes something of kind visible
// to ch's waiter (before, so that a late call cannot consume the waiter's
// next registration).
func (ch *Channel) serve(kind int) {
	t := &ch.c.turn
	if kind == followReply {
		t.replied.Store(true)
	}
	if !ch.followed.Load() {
		return
	}
	t.mu.Lock()
	if n := ch.following[kind]; n > 0 {
		ch.following[kind] = 0
		ch.servings[kind]++
		t.waiters -= n
		t.served = true
	}
	ch.followed.Store(ch.following != [followKinds]int{})
	t.mu.Unlock()
}

// needReader makes sure someone reads the socket, for a goroutine that waits
// for input without leading, until it calls the returned function.
func (c *Conn) needReader() (done func()) {
	t := &c.turn
	t.mu.Lock()
	t.needers++
	wake := t.parked != parkNone
	t.mu.Unlock()
	c.startReader()
	if wake {
		c.wakeReader()
	}
	return func() {
		t.mu.Lock()
		t.needers--
		t.mu.Unlock()
	}
}

func (c *Conn) wakeReader() {
	select {
	case c.turn.wake <- struct{}{}:
	default:
	}
}

// backgroundTurn parks the background reader until it should read, then
// takes the turn. It returns false once the connection is closed.
func (c *Conn) backgroundTurn(idle *time.Timer) bool {
	t := &c.turn
	for {
		if c.isDone() {
			return false
		}
		t.mu.Lock()
		if t.holder == turnFree && (t.waiters > 0 || t.needers > 0 || time.Since(t.freed) >= idleRead) {
			t.holder, t.parked, t.served = turnBackground, parkNone, false
			t.replied.Store(false)
			t.mu.Unlock()
			return true
		}
		var timeout <-chan time.Time
		switch {
		case t.holder == turnFree:
			t.parked = parkIdle
			idle.Reset(idleRead - time.Since(t.freed))
			timeout = idle.C
		case time.Since(t.taken) < idleRead:
			// Callers taking turns (an RPC loop): look again later rather
			// than be woken by every release.
			t.parked = parkIdle
			idle.Reset(idleRead)
			timeout = idle.C
		default:
			t.parked = parkHeld // a leader reads for long (a Wait): no timer, woken by its release
		}
		t.mu.Unlock()
		select {
		case <-c.done:
			return false
		case <-t.wake:
		case <-timeout:
		}
		idle.Stop()
	}
}

// backgroundPark reports whether the background reader should give the turn
// up after a frame: it served a follower or routed an RPC reply, and
// nobody else waits.
func (c *Conn) backgroundPark() bool {
	t := &c.turn
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.waiters > 0 || t.needers > 0 || !t.served && !t.replied.Load() {
		return false
	}
	t.holder, t.freed, t.served = turnFree, time.Now(), false
	t.replied.Store(false)
	return true
}
