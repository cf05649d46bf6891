package amqplib

import "time"

// Leading reports whether a caller holds the read turn.
func Leading(c *Conn) bool {
	c.turn.mu.Lock()
	defer c.turn.mu.Unlock()
	return c.turn.holder == turnLeader
}

// SetIdleRead changes how long the turn stays free before the background
// reader takes it, until the returned function restores it.
func SetIdleRead(d time.Duration) (restore func()) {
	old := idleRead
	idleRead = d
	return func() { idleRead = old }
}

// SetDeliverReplyHook makes the router run fn inside deliverReply, between
// claiming a reply and checking the channel, until restored.
func SetDeliverReplyHook(fn func()) (restore func()) {
	deliverReplyHook.Store(&fn)
	return func() { deliverReplyHook.Store(nil) }
}
