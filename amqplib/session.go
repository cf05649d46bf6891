package amqplib

import "sync/atomic"

// Stable connections: the value a dialect's Conn holds.
//
// Invariants (this file owns them):
//
//   - A dialect's Conn holds one *Session for its whole life. cur is the
//     engine connection now in use; it is the only way from a Session to
//     the engine.
//   - Until recovery is built, cur is set once, at the dial.
type Session struct {
	cur atomic.Pointer[Conn]
}

// newSession wraps a dialled engine connection.
func newSession(c *Conn) *Session {
	s := &Session{}
	s.cur.Store(c)
	return s
}

// Conn returns the engine connection now in use.
func (s *Session) Conn() *Conn { return s.cur.Load() }
