package amqplib

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// The writer. Frames are appended to one pending buffer under wmu, so
// frames never interleave and keep their order. Whoever finds no write in
// progress may write the pending bytes itself (RPCs do, so a request leaves
// at once); publishes only kick the flusher goroutine, so a stream of small
// publishes goes out in large batches. A large body is written from the
// caller's slice (write vectors) before Publish returns. Pending bytes are
// bounded: past maxPending a publisher waits (bounded by the write
// deadline) for the socket to drain.

const maxPending = 256 << 10

// How appendFrames hands frames to the socket.
const (
	flushAsync  = iota // publishes: the flusher writes; wait only past maxPending
	flushSync          // RPCs: written before returning
	flushQueued        // the reader's own replies: queued for the flusher, never waiting
	flushFinal         // connection.close-ok: flushSync, and allowed after our connection.close
)

// appendFrames runs fn under wmu to append frames, rolling back on an
// encoding error, then flushes as mode says.
func (c *Conn) appendFrames(mode int, fn func(e *wire.Encoder)) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.isDone() || c.closeOut && mode != flushFinal {
		// After our connection.close nothing but close-ok may follow it.
		return c.closedError()
	}
	mark := len(c.enc.Buf)
	fn(&c.enc)
	if c.enc.Err() != nil {
		return c.enc.Rollback(mark)
	}
	switch mode {
	case flushQueued:
		c.kickFlusher()
	case flushSync, flushFinal:
		// Wait for a write in progress, then write: when this returns, the
		// frames have been handed to the socket (close-ok before closing it).
		// A write in progress always ends: the deadline or shutdown stops it.
		for c.flushing {
			c.wcond.Wait()
		}
		if len(c.enc.Buf) > 0 {
			c.writeOut()
		}
	default:
		c.kickFlusher()
		for len(c.enc.Buf) > maxPending && c.werr == nil {
			if !c.flushing {
				c.writeOut()
			} else {
				c.wcond.Wait()
			}
		}
	}
	if c.werr != nil {
		return c.closedError()
	}
	return nil
}

// sendMethod appends one method frame and sends it at once.
func (c *Conn) sendMethod(channel uint16, m wire.Method) error {
	return c.sendMethodThen(channel, m, nil)
}

// sendFinal sends connection.close-ok, which may follow our own
// connection.close when the two cross.
func (c *Conn) sendFinal(m wire.Method) error {
	if c.cfg.Trace != nil {
		c.traceMethod("->", 0, m)
	}
	return c.appendFrames(flushFinal, func(e *wire.Encoder) { e.MethodFrame(0, m) })
}

// sendMethodThen is sendMethod; then, when not nil, runs under wmu once the
// frame is appended (before it is written).
func (c *Conn) sendMethodThen(channel uint16, m wire.Method, then func()) error {
	if c.cfg.Trace != nil {
		c.traceMethod("->", channel, m)
	}
	return c.appendFrames(flushSync, func(e *wire.Encoder) {
		e.MethodFrame(channel, m)
		if then != nil && e.Err() == nil {
			then()
		}
	})
}

// flushPending writes pending frames now unless a write is in progress
// (which writes them anyway).
func (c *Conn) flushPending() {
	c.wmu.Lock()
	if !c.flushing && len(c.enc.Buf) > 0 {
		c.writeOut()
	}
	c.wmu.Unlock()
}

// queueMethod appends one method frame for the flusher without waiting: the
// reader replies this way, so a stalled write never blocks it. Order with
// every other frame is kept.
func (c *Conn) queueMethod(channel uint16, m wire.Method) error {
	if c.cfg.Trace != nil {
		c.traceMethod("->", channel, m)
	}
	return c.appendFrames(flushQueued, func(e *wire.Encoder) { e.MethodFrame(channel, m) })
}

func (c *Conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Conn) kickFlusher() {
	if c.flushing || c.kicked {
		return
	}
	if !c.flusherOn {
		c.flusherOn = true
		go c.flushLoop()
	}
	c.kicked = true
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// writeOut writes pending bytes (and vectors) until none are left; wmu is
// held on entry and exit and released during each write. The caller has
// checked that no write is in progress.
func (c *Conn) writeOut() {
	c.flushing = true
	for len(c.enc.Buf) > 0 || len(c.bufs) > 0 {
		out, vecs := c.enc.Buf, c.bufs
		c.enc.Buf, c.bufs = c.spare[:0], nil
		c.wmu.Unlock()
		err := c.write(out, vecs)
		c.wmu.Lock()
		c.spare = out[:0]
		if err != nil {
			c.werr = err
			c.enc.Buf = c.enc.Buf[:0]
			break
		}
	}
	c.flushing = false
	c.wcond.Broadcast()
}

// write performs one socket write with the write deadline; an error shuts
// the connection down.
func (c *Conn) write(out []byte, vecs [][]byte) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	var err error
	if vecs != nil {
		bufs := net.Buffers(vecs)
		_, err = bufs.WriteTo(c.nc)
	} else {
		_, err = c.nc.Write(out)
	}
	c.writes.Add(1)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: write to the broker stalled for %s (connection blocked or network down)", amqp.ErrTimeout, c.timeout)
		}
		c.shutdown(err)
	}
	return err
}

// flushLoop is the flusher goroutine: it writes what publishes left pending.
func (c *Conn) flushLoop() {
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		c.wmu.Lock()
		c.kicked = false
		if !c.flushing {
			c.writeOut()
		}
		c.wmu.Unlock()
	}
}

// writeLarge appends frames whose body fn lays out as write vectors
// (c.bufs) and writes them before returning, since the vectors point into
// the caller's slice.
func (c *Conn) writeLarge(fn func(e *wire.Encoder)) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for c.flushing && !c.isDone() {
		c.wcond.Wait()
	}
	if c.isDone() {
		return c.closedError()
	}
	mark := len(c.enc.Buf)
	fn(&c.enc)
	if c.enc.Err() != nil {
		c.bufs = nil
		return c.enc.Rollback(mark)
	}
	c.writeOut()
	if c.werr != nil {
		return c.closedError()
	}
	return nil
}
