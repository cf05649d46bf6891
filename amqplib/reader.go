package amqplib

import (
	"errors"
	"time"

	"github.com/amqplib-go/amqp/amqplib/wire"
)

// The background reader, which reads whenever no caller does (turn.go says
// when), and the heartbeat timer.

// Background reader states.
const (
	readerIdle    = iota // not started yet
	readerRunning        // readLoop runs (until the connection ends)
	readerNever          // the connection ended before it was needed
)

// startReader starts the background reader unless it runs already or the
// connection has ended.
func (c *Conn) startReader() {
	if c.setUp.Load() && c.readerState.Load() == readerIdle && c.readerState.CompareAndSwap(readerIdle, readerRunning) {
		go c.readLoop()
	}
}

// readerNotNeeded marks the connection's end for a background reader that
// never started: nobody will close readerEnd but this.
func (c *Conn) readerNotNeeded() {
	if t := c.readerStart.Load(); t != nil {
		t.Stop()
	}
	if c.readerState.CompareAndSwap(readerIdle, readerNever) {
		close(c.readerEnd)
	}
}

// readLoop is the shared reader: it reads every frame and routes it. It
// never runs user code and never blocks on a user.
// While a caller reads for itself (see turn.go) it parks.
func (c *Conn) readLoop() {
	defer close(c.readerEnd)
	idle := time.NewTimer(idleRead)
	defer idle.Stop()
	for c.backgroundTurn(idle) {
		for {
			err := c.readFrame()
			if errors.Is(err, errLeadInterrupted) {
				continue // meant for a leader that had just left; read on
			}
			if err != nil {
				c.readFailed(err)
				c.release()
				return
			}
			if c.backgroundPark() {
				break
			}
		}
	}
}

// startHeartbeats arms the heartbeat timer: every half interval, a
// heartbeat is sent if nothing was written since the last look. Silence
// from the broker is caught by the reader's deadline.
func (c *Conn) startHeartbeats() {
	c.hbWrites.Store(c.writes.Load())
	t := time.AfterFunc(time.Hour, c.heartbeatTick)
	t.Stop()
	c.hbTimer.Store(t) // set before the first tick can run
	t.Reset(c.tuned.Heartbeat / 2)
}

// heartbeatTick is one look of the heartbeat timer; it re-arms itself
// until the connection ends.
func (c *Conn) heartbeatTick() {
	if !c.setUp.Load() || c.isDone() {
		return
	}
	if n := c.writes.Load(); n != c.hbWrites.Load() {
		c.hbWrites.Store(n)
	} else {
		if c.cfg.Trace != nil {
			c.traceFrame("->", wire.FrameHeartbeat, 0, 0)
		}
		if err := c.appendFrames(flushSync, (*wire.Encoder).Heartbeat); err != nil {
			return
		}
		c.hbWrites.Store(c.writes.Load())
	}
	if t := c.hbTimer.Load(); !c.isDone() {
		t.Reset(c.tuned.Heartbeat / 2)
		if c.isDone() { // shutdown's Stop may have come before the Reset
			t.Stop()
		}
	}
}
