package wire

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeMethod struct{ arg string }

func (m *fakeMethod) ID() MethodID      { return ID(50, 10) }
func (m *fakeMethod) Name() string      { return "queue.declare" }
func (m *fakeMethod) HasContent() bool  { return false }
func (m *fakeMethod) Encode(e *Encoder) { e.ShortStr(m.arg) }
func (m *fakeMethod) Decode(d *Decoder) { m.arg = d.ShortStr() }

func TestFrameEncode(t *testing.T) {
	var e Encoder
	e.Heartbeat()
	assert.Equal(t, hx(t, "08 0000 00000000 CE"), e.Buf)

	e.Reset()
	e.MethodFrame(3, &fakeMethod{arg: "q"})
	assert.Equal(t, hx(t, "01 0003 00000006 0032 000A 0171 CE"), e.Buf)

	e.Reset()
	start := e.BeginFrame(FrameBody, 0xFFFF)
	e.Buf = append(e.Buf, "hello"...)
	e.EndFrame(start)
	assert.Equal(t, cat(hx(t, "03 FFFF 00000005"), "hello", byte(0xCE)), e.Buf)
}

func TestFrameReaderReadsFrames(t *testing.T) {
	var e Encoder
	e.MethodFrame(1, &fakeMethod{arg: "abc"})
	e.Heartbeat()
	start := e.BeginFrame(FrameBody, 1)
	e.EndFrame(start) // empty body frame
	fr := NewFrameReader(bytes.NewReader(e.Buf), 4096)

	typ, ch, p, err := fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, uint8(FrameMethod), typ)
	assert.Equal(t, uint16(1), ch)
	d := NewDecoder(p)
	assert.Equal(t, ID(50, 10), ID(d.Short(), d.Short()))
	var m fakeMethod
	m.Decode(&d)
	require.NoError(t, d.Finish())
	assert.Equal(t, "abc", m.arg)

	typ, ch, size, err := fr.Next()
	require.NoError(t, err)
	assert.Equal(t, uint8(FrameHeartbeat), typ)
	assert.Zero(t, ch)
	assert.Zero(t, size)
	require.NoError(t, fr.Payload(nil))

	typ, _, size, err = fr.Next()
	require.NoError(t, err)
	assert.Equal(t, uint8(FrameBody), typ)
	assert.Zero(t, size)
	p, err = fr.ReadPayload()
	require.NoError(t, err)
	assert.Empty(t, p)

	_, _, _, err = fr.ReadFrame()
	assert.Equal(t, io.EOF, err, "clean EOF between frames")
}

func TestFrameReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		wire string
		max  uint32
		msg  string
		eof  bool
	}{
		{"bad frame end", "01 0000 00000001 00 CD", 4096, "frame end octet is 0xCD", false},
		{"heartbeat with payload", "08 0000 00000001 00 CE", 4096, "heartbeat frame with a 1-byte payload", false},
		{"unknown type 4", "04 0001 00000000 CE", 4096, "unknown frame type 4", false},
		{"unknown type 0", "00 0001 00000000 CE", 4096, "unknown frame type 0", false},
		{"unknown type 65 (AMQP header)", "41 4D51 50000009 01", 4096, "unknown frame type 65", false},
		{"oversize", "03 0001 00001001", 4096, "frame of 4097 bytes exceeds frame_max 4096", false},
		{"oversize negotiated", "03 0001 00020001", 131072, "exceeds frame_max 131072", false},
		{"truncated header", "01 0000 0000", 4096, "", true},
		{"truncated payload", "01 0000 00000010 0000", 4096, "", true},
		{"missing end", "01 0000 00000001 00", 4096, "", true},
		{"huge unlimited frame, few bytes", "03 0001 7FFFFFFF 000102", 0, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fr := NewFrameReader(bytes.NewReader(hx(t, tc.wire)), 4096)
			fr.SetMaxFrame(tc.max)
			_, _, _, err := fr.ReadFrame()
			require.Error(t, err)
			if tc.eof {
				assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
				return
			}
			assert.ErrorIs(t, err, amqp.ErrProtocol)
			var fe *FrameError
			require.True(t, errors.As(err, &fe))
			assert.Equal(t, amqp.FrameError, fe.Code)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

// headerOnly yields a frame header and fails the test if anything reads past it.
type headerOnly struct {
	t    *testing.T
	hdr  []byte
	done bool
}

func (r *headerOnly) Read(p []byte) (int, error) {
	if r.done {
		r.t.Error("payload of an oversize frame was read")
		return 0, io.EOF
	}
	r.done = true
	return copy(p, r.hdr), nil
}

func TestFrameReaderRefusesOversizeBeforePayload(t *testing.T) {
	fr := NewFrameReader(&headerOnly{t: t, hdr: hx(t, "01 0000 00100000")}, 4096)
	_, _, _, err := fr.Next()
	assert.ErrorContains(t, err, "exceeds frame_max 4096")
}

func TestFrameReaderLargeUnlimitedFrame(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), (3<<20)/16+5) // > eagerPayload, not a power of two
	var e Encoder
	start := e.BeginFrame(FrameBody, 9)
	e.Buf = append(e.Buf, payload...)
	e.EndFrame(start)
	e.Heartbeat()
	fr := NewFrameReader(bytes.NewReader(e.Buf), 4096)
	fr.SetMaxFrame(0)
	typ, ch, p, err := fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, uint8(FrameBody), typ)
	assert.Equal(t, uint16(9), ch)
	assert.True(t, bytes.Equal(payload, p))
	typ, _, _, err = fr.ReadFrame()
	require.NoError(t, err)
	assert.Equal(t, uint8(FrameHeartbeat), typ)

	// A lying size with a stalled peer does not allocate the announced size.
	fr = NewFrameReader(io.MultiReader(bytes.NewReader(hx(t, "03 0001 F0000000")), strings.NewReader("abc")), 4096)
	fr.SetMaxFrame(0)
	_, _, _, err = fr.ReadFrame()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.LessOrEqual(t, cap(fr.buf), 2*eagerPayload)
}

func TestFrameReaderMisuse(t *testing.T) {
	var e Encoder
	e.MethodFrame(1, &fakeMethod{arg: "abc"})
	fr := NewFrameReader(bytes.NewReader(e.Buf), 4096)
	_, err := fr.ReadPayload()
	assert.ErrorContains(t, err, "misuse")
	_, _, size, err := fr.Next()
	require.NoError(t, err)
	_, _, again, err := fr.Next() // the pending frame again
	require.NoError(t, err)
	assert.Equal(t, size, again)
	assert.True(t, fr.Resumed())
	assert.ErrorContains(t, fr.Payload(make([]byte, size+1)), "misuse")
	require.NoError(t, fr.Payload(make([]byte, size)))
	assert.NotNil(t, fr.Buffered())
}

// pausingReader hands out its data in chunks of step bytes, with errPause
// between chunks (a read deadline, for the frame reader).
type pausingReader struct {
	data   []byte
	step   int
	paused bool
}

var errPause = errors.New("pause")

func (r *pausingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	if !r.paused {
		r.paused = true
		return 0, errPause
	}
	r.paused = false
	n := copy(p[:min(len(p), r.step)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// TestFrameReaderResumes: reading can stop at any byte and go on: small
// payloads, payloads read into the caller's slice, and payloads over
// eagerPayload that grow as they arrive.
func TestFrameReaderResumes(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), (eagerPayload+3000)/16)
	payloads := [][]byte{[]byte("abc"), bytes.Repeat([]byte{7}, 5000), {}, big, []byte("z")}
	var e Encoder
	for i, p := range payloads {
		s := e.BeginFrame(FrameBody, uint16(i+1))
		e.Buf = append(e.Buf, p...)
		e.EndFrame(s)
	}
	for _, step := range []int{1, 3, 4096, 70000} {
		if step == 1 && testing.Short() {
			continue
		}
		fr := NewFrameReader(&pausingReader{data: slices.Clone(e.Buf), step: step}, 4096)
		fr.SetMaxFrame(0)
		pauses := 0
		for i, want := range payloads {
			var got []byte
			for {
				typ, ch, size, err := fr.Next()
				if errors.Is(err, errPause) {
					pauses++
					continue
				}
				require.NoError(t, err)
				require.Equal(t, uint8(FrameBody), typ)
				require.Equal(t, uint16(i+1), ch)
				require.Equal(t, len(want), int(size))
				if i%2 == 1 { // into the caller's slice, kept across attempts
					if got == nil {
						got = make([]byte, size)
					}
					err = fr.Payload(got)
				} else {
					var p []byte
					p, err = fr.ReadPayload()
					if err == nil {
						got = slices.Clone(p)
					}
				}
				if errors.Is(err, errPause) {
					pauses++
					continue
				}
				require.NoError(t, err)
				break
			}
			require.Equal(t, want, got, "payload %d with %d-byte reads", i, step)
		}
		_, _, _, err := fr.Next()
		assert.ErrorIs(t, err, io.EOF)
		assert.Greater(t, pauses, len(payloads), "reads were interrupted")
	}
}
