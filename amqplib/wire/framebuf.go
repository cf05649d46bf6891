package wire

import (
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/amqplib-go/amqp"
)

// eagerPayload is the largest payload ReadPayload allocates for up front.
// Bigger frames (possible only with a large or unlimited frame_max) grow the
// buffer as their bytes arrive, so a peer that announces a huge size and then
// stalls cannot make the reader allocate memory it never sends.
const eagerPayload = 1 << 20

// ReadPayload reads the pending frame's payload (after Next) into the
// reader's own buffer and checks the end octet; the slice is valid until the
// next read.
func (fr *FrameReader) ReadPayload() ([]byte, error) {
	if !fr.pending {
		return nil, fmt.Errorf("amqp: frame reader misuse: no pending frame")
	}
	if uint64(fr.size) > math.MaxInt {
		fr.pending = false
		return nil, &FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("frame of %d bytes is too large for this platform", fr.size)}
	}
	size := int(fr.size)
	if size <= cap(fr.buf) || size <= eagerPayload {
		if cap(fr.buf) < size { // not when resuming: the buffer was made then
			fr.buf = make([]byte, size)
		}
		p := fr.buf[:size]
		return p, fr.Payload(p)
	}
	buf := fr.buf[:fr.got]
	for len(buf) < size {
		if len(buf) == cap(buf) {
			// Grow by what was already received (doubling), at least
			// eagerPayload, at most what is left.
			buf = slices.Grow(buf, min(size-len(buf), max(len(buf), eagerPayload)))
		}
		n, err := io.ReadFull(fr.r, buf[len(buf):min(size, cap(buf))])
		buf = buf[:len(buf)+n]
		fr.buf, fr.got = buf, len(buf)
		if err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return buf, fr.readEnd()
}

// readEnd reads and checks the frame-end octet, ending the pending frame.
func (fr *FrameReader) readEnd() error {
	end, err := fr.r.ReadByte()
	if err != nil {
		return unexpectedEOF(err)
	}
	fr.pending = false
	if end != FrameEnd {
		return &FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("frame end octet is 0x%02X, want 0xCE", end)}
	}
	return nil
}
