package amqplib

import (
	"time"

	"github.com/amqplib-go/amqp/amqplib/wire"
)

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

// Topology is a recorder for tests of topology.go.
type Topology struct{ t topology }

// Observe records a call that succeeded.
func (t *Topology) Observe(m wire.Method, queue string) { t.t.observe(m, m.ID(), queue) }

// Records lists the records in replay order as "kind name [source key]".
func (t *Topology) Records() []string {
	var out []string
	decls, bindings := t.t.snapshot()
	for _, e := range append(decls, bindings...) {
		s := kindNames[e.kind] + " " + e.name
		if e.kind >= kindQueueBinding {
			s += " " + e.source + " " + e.key
		}
		out = append(out, s)
	}
	return out
}

// Renamed records a server-named queue's new name.
func (t *Topology) Renamed(old, name string) { t.t.renamed(old, name) }

// TicketsAfter returns the ticket map of a channel restored on a new
// connection whose access.request, once held answered with reply.
func TicketsAfter(held uint16, reply wire.Method) map[uint16]uint16 {
	ch := &Channel{}
	ticketAgain(ch, logEntry{ticket: held}, reply)
	return ch.tickets
}

// PrepareOn adjusts m as a channel with these tickets sends it.
func PrepareOn(tickets map[uint16]uint16, m wire.Method) {
	ch := &Channel{c: &Conn{rewrite: func(wire.Method) {}}, tickets: tickets}
	ch.prepare(m)
}

// Rewrite rewrites a method about to be sent.
func (t *Topology) Rewrite(m wire.Method) { t.t.rewrite(m) }

// ConsumerGone reports that a queue's last consumer went.
func (t *Topology) ConsumerGone(queue string) { t.t.consumerGone(queue, false) }

// SetAttemptHook runs fn between a recorded call's success and its record,
// until restored.
func SetAttemptHook(fn func()) (restore func()) {
	attemptHook.Store(&fn)
	return func() { attemptHook.Store(nil) }
}

// RestoreWaiting reports whether a recovery waits for the recording lock
// (called by a goroutine holding it for reading).
func RestoreWaiting(cc ConnCommon) bool {
	if cc.s.recording.TryRLock() {
		cc.s.recording.RUnlock()
		return false
	}
	return true
}

// RecordingHeld reports whether someone holds the recording lock.
func RecordingHeld(cc ConnCommon) bool {
	if cc.s.recording.TryLock() {
		cc.s.recording.Unlock()
		return false
	}
	return true
}
