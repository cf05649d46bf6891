package amqplib

import (
	"errors"
	"sync"
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
// without leading (Close, a blocked publisher), or once the turn has been
// free for idleRead. It parks again after routing a frame that served a
// follower when nobody else waits, so that the follower's next call can lead.
//
// Everything the reader owns (the frame reader, the decoder, content
// assembly, the read deadline) is touched only by the turn's holder; taking
// and releasing the turn under mu orders those accesses.
type turn struct {
	mu      sync.Mutex
	holder  int       // turnFree, turnBackground or turnLeader
	waiters int       // followers not yet served
	served  bool      // the background reader's last frame served a follower
	parked  bool      // the background reader is parked
	need    bool      // someone waits without leading: the background reader must read
	freed   time.Time // when the turn was last released
	wake    chan struct{}
}

const (
	turnFree = iota
	turnBackground
	turnLeader
)

// idleRead is how long the turn stays free before the background reader
// takes it: input nobody waits for (hooks, a broker's close, heartbeats)
// is read at most this late.
const idleRead = 10 * time.Millisecond

// errLeadTimeout ends a leader's read at a frame boundary when its own
// deadline passed; the connection is fine.
var errLeadTimeout = errors.New("amqp: the caller's deadline passed while reading")

// follow kinds: what a follower waits for, so the router can tell when it
// has served it.
const (
	followReply = 1 << iota // an RPC reply (Channel.call)
	followEvent             // an event in the channel's queue (Channel.wait)
)

// lead reads and routes frames on the calling goroutine until ready reports
// true, the deadline passes (errLeadTimeout) or the connection fails. If
// another goroutine is reading, it registers ch as a follower of the given
// kind and returns led=false; the caller then waits on its usual signals and
// calls unfollow.
func (c *Conn) lead(ch *Channel, kind int, ready func() bool, deadline time.Time) (led bool, err error) {
	t := &c.turn
	t.mu.Lock()
	if t.holder != turnFree {
		t.waiters++
		ch.following |= kind
		ch.followed.Store(true)
		t.mu.Unlock()
		return false, nil
	}
	t.holder = turnLeader
	t.mu.Unlock()

	c.soft, c.softExt = deadline, false
	for !ready() {
		if err = c.readFrame(); err != nil {
			break
		}
	}
	c.soft = time.Time{}
	if err != nil && !errors.Is(err, errLeadTimeout) {
		c.readFailed(err)
	}
	c.release()
	return true, err
}

// release frees the turn; followers left waiting get the background reader.
func (c *Conn) release() {
	t := &c.turn
	t.mu.Lock()
	t.holder = turnFree
	t.freed = time.Now()
	wake := (t.waiters > 0 || t.need) && t.parked
	t.mu.Unlock()
	if wake {
		c.wakeReader()
	}
}

// unfollow removes ch's registration of kind if the router has not.
func (c *Conn) unfollow(ch *Channel, kind int) {
	if !ch.followed.Load() {
		return
	}
	t := &c.turn
	t.mu.Lock()
	if ch.following&kind != 0 {
		ch.following &^= kind
		t.waiters--
	}
	ch.followed.Store(ch.following != 0)
	t.mu.Unlock()
}

// serve is called by the router after it queued something of kind for ch.
func (ch *Channel) serve(kind int) {
	if !ch.followed.Load() {
		return
	}
	t := &ch.c.turn
	t.mu.Lock()
	if ch.following&kind != 0 {
		ch.following &^= kind
		t.waiters--
		t.served = true
	}
	ch.followed.Store(ch.following != 0)
	t.mu.Unlock()
}

// needReader makes sure someone reads the socket soon, for a goroutine that
// waits for input without leading.
func (c *Conn) needReader() {
	t := &c.turn
	t.mu.Lock()
	t.need = true
	wake := t.parked
	t.mu.Unlock()
	if wake {
		c.wakeReader()
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
		t.mu.Lock()
		if t.holder == turnFree && (t.waiters > 0 || t.need || time.Since(t.freed) >= idleRead) {
			t.holder, t.parked, t.served, t.need = turnBackground, false, false, false
			t.mu.Unlock()
			return true
		}
		t.parked = true
		wait := idleRead
		if t.holder == turnFree {
			wait -= time.Since(t.freed)
		}
		t.mu.Unlock()
		idle.Reset(wait)
		select {
		case <-c.done:
			return false
		case <-t.wake:
		case <-idle.C:
		}
	}
}

// backgroundPark reports whether the background reader should give the turn
// up after a frame: it served a follower and nobody else waits.
func (c *Conn) backgroundPark() bool {
	t := &c.turn
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.served || t.waiters > 0 {
		return false
	}
	t.holder, t.freed = turnFree, time.Now()
	return true
}
