package amqplib

import "sync"

// Connection hooks.
//
// Invariants (this file owns them):
//
//   - Hooks run on one goroutine per connection, one at a time and in the
//     order of their events, never on the reader: a slow hook delays only
//     the hooks after it.
//   - That goroutine starts at the first event a hook is set for; an event
//     no hook is set for when it happens is dropped.
//   - OnClose is the last hook: HooksDone is closed once it has returned (at
//     once, when no hook ever ran).

const (
	hookClose = iota
	hookBlocked
	hookUnblocked
	hookFlow
	hookAlert
)

type hookEvent struct {
	kind   int
	reason string
	err    error
	ch     uint16 // hookFlow, hookAlert
	active bool   // hookFlow
	code   int    // hookAlert
}

// Hooks are the connection-level callbacks. They run on the connection's
// event goroutine, one at a time, never on the reader.
type Hooks struct {
	OnClose     func(err error)     // nil err: closed by Close
	OnBlocked   func(reason string) // connection.blocked (0-9-1)
	OnUnblocked func()              // connection.unblocked (0-9-1)
	// OnFlow reports the broker turning a channel's flow off or on
	// (channel.flow); publishes on the channel wait while it is off.
	OnFlow func(channel uint16, active bool)
	// OnAlert reports a 0-8 channel.alert.
	OnAlert func(channel uint16, code int, text string)
}

// hookQueue is an unbounded queue drained by one goroutine, started at the
// first event that a hook is set for (events nobody hooks are dropped).
type hookQueue struct {
	mu      sync.Mutex
	hooks   Hooks
	q       []hookEvent
	closed  bool
	running bool // run has been started
	signal  chan struct{}
	done    chan struct{}
}

func (h *hookQueue) start() {
	h.signal = make(chan struct{}, 1)
	h.done = make(chan struct{})
}

// hooked reports whether a hook is set for e (h.mu held).
func (h *hookQueue) hooked(e hookEvent) bool {
	switch e.kind {
	case hookClose:
		return h.hooks.OnClose != nil
	case hookBlocked:
		return h.hooks.OnBlocked != nil
	case hookUnblocked:
		return h.hooks.OnUnblocked != nil
	case hookFlow:
		return h.hooks.OnFlow != nil
	case hookAlert:
		return h.hooks.OnAlert != nil
	}
	return false
}

func (h *hookQueue) set(f func(*Hooks)) {
	h.mu.Lock()
	f(&h.hooks)
	h.mu.Unlock()
}

func (h *hookQueue) push(e hookEvent) {
	h.mu.Lock()
	if h.closed || !h.hooked(e) {
		h.mu.Unlock()
		return
	}
	h.q = append(h.q, e)
	if !h.running {
		h.running = true
		go h.run()
	}
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

func (h *hookQueue) close() {
	h.mu.Lock()
	h.closed = true
	if !h.running { // nothing ever ran: done at once
		h.running = true
		close(h.done)
	}
	h.mu.Unlock()
	select {
	case h.signal <- struct{}{}:
	default:
	}
}

func (h *hookQueue) run() {
	defer close(h.done)
	for range h.signal {
		for {
			h.mu.Lock()
			if len(h.q) == 0 {
				closed := h.closed
				h.mu.Unlock()
				if closed {
					return
				}
				break
			}
			e := h.q[0]
			h.q = h.q[1:]
			hooks := h.hooks
			h.mu.Unlock()
			switch e.kind {
			case hookClose:
				if hooks.OnClose != nil {
					hooks.OnClose(e.err)
				}
			case hookBlocked:
				if hooks.OnBlocked != nil {
					hooks.OnBlocked(e.reason)
				}
			case hookUnblocked:
				if hooks.OnUnblocked != nil {
					hooks.OnUnblocked()
				}
			case hookFlow:
				if hooks.OnFlow != nil {
					hooks.OnFlow(e.ch, e.active)
				}
			case hookAlert:
				if hooks.OnAlert != nil {
					hooks.OnAlert(e.ch, e.code, e.reason)
				}
			}
		}
	}
}

// SetHooks replaces the connection hooks through f.
func (c *Conn) SetHooks(f func(*Hooks)) { c.events.set(f) }

// HooksDone is closed when the last hook (OnClose) has returned.
func (c *Conn) HooksDone() <-chan struct{} { return c.events.done }
