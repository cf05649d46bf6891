package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/amqplib-go/amqp"
)

// Frame types and limits shared by AMQP 0-8 and 0-9-1.
const (
	FrameMethod    = 1
	FrameHeader    = 2
	FrameBody      = 3
	FrameHeartbeat = 8
	FrameEnd       = 0xCE
	// FrameMinSize is the smallest frame_max a peer may negotiate, and the
	// limit before connection.tune.
	FrameMinSize = 4096
	// FrameOverhead is the 7-byte frame header plus the end octet: the largest
	// payload is frame_max - FrameOverhead.
	FrameOverhead = 8
)

// FrameError reports a malformed frame from the peer. It matches
// amqp.ErrProtocol, and Code is the reply code to close the connection with.
type FrameError struct {
	Code int
	Msg  string
}

// Error formats the problem.
func (e *FrameError) Error() string { return "amqp: protocol error: " + e.Msg }

// Is matches amqp.ErrProtocol.
func (e *FrameError) Is(target error) bool { return target == amqp.ErrProtocol }

// FrameReader reads frames from a byte stream, checking type, size and the
// end octet. A frame larger than the limit is refused before its payload is
// read.
type FrameReader struct {
	r        *bufio.Reader
	maxFrame uint32 // whole-frame limit; payload may be up to maxFrame (RabbitMQ's slack)
	hdr      [7]byte
	buf      []byte
	typ      uint8
	channel  uint16
	size     uint32
	pending  bool // a frame's header was read, its end octet not yet
	got      int  // payload bytes of the pending frame read so far
	resumed  bool // the last Next returned the pending frame again
}

// NewFrameReader reads from r with a read buffer of bufSize bytes. The frame
// limit starts at FrameMinSize until SetMaxFrame.
func NewFrameReader(r io.Reader, bufSize int) *FrameReader {
	return &FrameReader{r: bufio.NewReaderSize(r, bufSize), maxFrame: FrameMinSize}
}

// SetMaxFrame sets the negotiated frame_max (0 means no limit).
func (fr *FrameReader) SetMaxFrame(n uint32) { fr.maxFrame = n }

// Buffered returns the bufio reader (the protocol header reply is read from it).
func (fr *FrameReader) Buffered() *bufio.Reader { return fr.r }

// Next reads a frame header and validates the type and size. The payload
// must then be read with Payload or ReadPayload (or the whole frame with
// ReadFrame).
//
// Reading can stop anywhere with an error from the underlying reader (a
// deadline) and resume: while a frame is pending, Next returns its header
// again, and the same Payload or ReadPayload call then goes on where the
// interrupted one stopped. Any other error ends the stream.
func (fr *FrameReader) Next() (typ uint8, channel uint16, size uint32, err error) {
	if fr.pending {
		fr.resumed = true
		return fr.typ, fr.channel, fr.size, nil
	}
	fr.resumed = false
	// Peek, then discard: a read that fails part-way through the header
	// leaves its bytes buffered for the next call.
	hdr, err := fr.r.Peek(len(fr.hdr))
	if err != nil {
		if err == io.EOF && len(hdr) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, 0, err
	}
	copy(fr.hdr[:], hdr)
	_, _ = fr.r.Discard(len(fr.hdr))
	typ = fr.hdr[0]
	channel = binary.BigEndian.Uint16(fr.hdr[1:3])
	size = binary.BigEndian.Uint32(fr.hdr[3:7])
	switch typ {
	case FrameMethod, FrameHeader, FrameBody:
	case FrameHeartbeat:
		if size != 0 {
			return 0, 0, 0, &FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("heartbeat frame with a %d-byte payload", size)}
		}
	default:
		return 0, 0, 0, &FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("unknown frame type %d", typ)}
	}
	if fr.maxFrame != 0 && size > fr.maxFrame {
		return 0, 0, 0, &FrameError{Code: amqp.FrameError, Msg: fmt.Sprintf("frame of %d bytes exceeds frame_max %d", size, fr.maxFrame)}
	}
	fr.typ, fr.channel, fr.size, fr.pending, fr.got = typ, channel, size, true, 0
	return typ, channel, size, nil
}

// Resumed reports whether the last Next returned a frame whose reading was
// interrupted, rather than a new one.
func (fr *FrameReader) Resumed() bool { return fr.resumed }

// Payload reads the pending frame's payload into dst, which must be exactly
// size bytes long (the same slice again when resuming), and checks the end
// octet.
func (fr *FrameReader) Payload(dst []byte) error {
	if !fr.pending || uint32(len(dst)) != fr.size {
		return fmt.Errorf("amqp: frame reader misuse: payload buffer of %d bytes for a %d-byte frame", len(dst), fr.size)
	}
	if fr.got < len(dst) {
		n, err := io.ReadFull(fr.r, dst[fr.got:])
		fr.got += n
		if err != nil {
			return unexpectedEOF(err)
		}
	}
	return fr.readEnd()
}

// ReadFrame reads a whole frame; the payload is valid until the next read.
func (fr *FrameReader) ReadFrame() (typ uint8, channel uint16, payload []byte, err error) {
	typ, channel, _, err = fr.Next()
	if err != nil {
		return 0, 0, nil, err
	}
	payload, err = fr.ReadPayload()
	return typ, channel, payload, err
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// BeginFrame appends a frame header with a placeholder size and returns the
// offset to pass to EndFrame.
func (e *Encoder) BeginFrame(typ uint8, channel uint16) int {
	e.Buf = append(e.Buf, typ, byte(channel>>8), byte(channel), 0, 0, 0, 0)
	return len(e.Buf)
}

// EndFrame patches the size of the frame begun at start and appends the end octet.
func (e *Encoder) EndFrame(start int) {
	binary.BigEndian.PutUint32(e.Buf[start-4:start], uint32(len(e.Buf)-start))
	e.Buf = append(e.Buf, FrameEnd)
}

// MethodFrame appends a whole method frame.
func (e *Encoder) MethodFrame(channel uint16, m Method) {
	start := e.BeginFrame(FrameMethod, channel)
	id := m.ID()
	e.Short(id.Class())
	e.Short(id.Method())
	m.Encode(e)
	e.EndFrame(start)
}

// Heartbeat appends a heartbeat frame.
func (e *Encoder) Heartbeat() {
	e.Buf = append(e.Buf, FrameHeartbeat, 0, 0, 0, 0, 0, 0, FrameEnd)
}
