package amqplib

import "sync"

// Unwrapping, for the library's own tests and tools: each dialect registers
// how to reach the engine values behind its types, so that the user
// packages need no exported way into the engine.

var (
	unwrapMu sync.RWMutex
	unwraps  []func(v any) any
)

// RegisterUnwrap adds a dialect's unwrapper: it returns the *Conn or
// *Chan behind one of the dialect's values, or nil.
func RegisterUnwrap(f func(v any) any) {
	unwrapMu.Lock()
	defer unwrapMu.Unlock()
	unwraps = append(unwraps, f)
}

func unwrap(v any) any {
	unwrapMu.RLock()
	defer unwrapMu.RUnlock()
	for _, f := range unwraps {
		if e := f(v); e != nil {
			return e
		}
	}
	return nil
}

// ConnOf returns the engine connection behind a dialect's *Conn (nil for
// anything else).
func ConnOf(v any) *Conn { c, _ := unwrap(v).(*Conn); return c }

// ChannelOf returns the engine channel behind a dialect's *Channel (nil for
// anything else).
func ChannelOf(v any) *Channel {
	if c, ok := unwrap(v).(*Chan); ok {
		return c.Engine()
	}
	return nil
}
