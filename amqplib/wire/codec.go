// Package wire is the AMQP 0-8 / 0-9-1 wire codec: frames, the primitive
// field types, field tables and the basic content header. It is shared by
// both protocol versions and by the fake broker in amqptest.
//
// Encoding is append-style into a reused buffer (Encoder); decoding reads from
// a byte slice with a sticky error (Decoder), so generated method code stays
// a flat list of field reads and writes.
package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// TablePolicy selects which field-table value types an Encoder may write.
type TablePolicy uint8

const (
	// TablesRabbit writes RabbitMQ's full type set (0-9-1, and 0-8 on request).
	TablesRabbit TablePolicy = iota
	// Tables08 writes only what AMQP 0-8 defines: S, I, D, T and F. Other Go
	// values are refused with amqp.ErrInvalidArgument.
	Tables08
)

// Encoder appends AMQP fields to Buf. The first error sticks and Err reports
// it; once an error is set, Buf holds a partial encoding that must not be
// sent (the primitive appends keep appending, the composite ones stop).
type Encoder struct {
	Buf    []byte
	Policy TablePolicy
	err    error
}

// Reset empties the buffer (keeping its memory) and clears the error.
func (e *Encoder) Reset() { e.Buf = e.Buf[:0]; e.err = nil }

// Rollback drops everything appended after mark (a length of Buf taken
// before encoding) and clears the error, returning it. Frames already in the
// buffer before mark stay intact.
func (e *Encoder) Rollback(mark int) error {
	err := e.err
	e.Buf = e.Buf[:mark]
	e.err = nil
	return err
}

// Err returns the first encoding error.
func (e *Encoder) Err() error { return e.err }

// Fail records err unless an error is already recorded.
func (e *Encoder) Fail(err error) {
	if e.err == nil {
		e.err = err
	}
}

// Octet appends a u8.
func (e *Encoder) Octet(v uint8) { e.Buf = append(e.Buf, v) }

// Short appends a big-endian u16.
func (e *Encoder) Short(v uint16) { e.Buf = binary.BigEndian.AppendUint16(e.Buf, v) }

// Long appends a big-endian u32.
func (e *Encoder) Long(v uint32) { e.Buf = binary.BigEndian.AppendUint32(e.Buf, v) }

// LongLong appends a big-endian u64.
func (e *Encoder) LongLong(v uint64) { e.Buf = binary.BigEndian.AppendUint64(e.Buf, v) }

// ShortStr appends a short string. Strings over 255 bytes or with invalid
// UTF-8 (RabbitMQ rejects both) are refused with amqp.ErrInvalidArgument.
func (e *Encoder) ShortStr(s string) {
	if len(s) > 255 {
		e.Fail(amqperr.Invalid("short string of %d bytes exceeds 255: %.40q...", len(s), s))
		return
	}
	if !utf8.ValidString(s) {
		e.Fail(amqperr.Invalid("short string %q is not valid UTF-8", s))
		return
	}
	e.Buf = append(e.Buf, byte(len(s)))
	e.Buf = append(e.Buf, s...)
}

// LongStr appends a long string (binary-safe). Strings of 4 GiB or more are
// refused with amqp.ErrInvalidArgument.
func (e *Encoder) LongStr(s string) {
	if uint64(len(s)) > math.MaxUint32 {
		e.Fail(amqperr.Invalid("long string of %d bytes exceeds 4 GiB", len(s)))
		return
	}
	e.Long(uint32(len(s)))
	e.Buf = append(e.Buf, s...)
}

// LongBytes appends a long string from bytes, with the limit of LongStr.
func (e *Encoder) LongBytes(b []byte) {
	if uint64(len(b)) > math.MaxUint32 {
		e.Fail(amqperr.Invalid("long string of %d bytes exceeds 4 GiB", len(b)))
		return
	}
	e.Long(uint32(len(b)))
	e.Buf = append(e.Buf, b...)
}

// Timestamp appends a u64 count of seconds.
func (e *Encoder) Timestamp(v uint64) { e.LongLong(v) }

// Decoder reads AMQP fields from Buf. The first error sticks: later reads
// return zero values, and Err/Finish report it.
type Decoder struct {
	Buf    []byte
	Off    int
	Intern *Interner // optional: reuse recent short strings
	err    error
}

// Interner remembers a few recent short strings so that the consumer tags,
// exchange names and routing keys repeated in every delivery are decoded
// without allocating. It is not safe for concurrent use.
type Interner struct {
	recent [8]string
	next   int
}

// intern returns a string equal to b, reusing a remembered one.
func (in *Interner) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, s := range in.recent {
		if s == string(b) { // compiled without allocating
			return s
		}
	}
	s := string(b)
	if len(b) <= 128 {
		in.recent[in.next] = s
		in.next = (in.next + 1) % len(in.recent)
	}
	return s
}

// NewDecoder returns a decoder over b.
func NewDecoder(b []byte) Decoder { return Decoder{Buf: b} }

// Err returns the first decoding error.
func (d *Decoder) Err() error { return d.err }

// Finish returns the first error, or an error when bytes are left over.
func (d *Decoder) Finish() error {
	if d.err == nil && d.Off != len(d.Buf) {
		d.err = fmt.Errorf("%w: %d trailing bytes", amqp.ErrProtocol, len(d.Buf)-d.Off)
	}
	return d.err
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.Buf)-d.Off < n {
		d.err = fmt.Errorf("%w: field runs past the end of its frame, table or array (offset %d, want %d bytes, have %d)", amqp.ErrProtocol, d.Off, n, len(d.Buf)-d.Off)
		return nil
	}
	b := d.Buf[d.Off : d.Off+n : d.Off+n]
	d.Off += n
	return b
}

// Octet reads a u8.
func (d *Decoder) Octet() uint8 {
	if b := d.take(1); b != nil {
		return b[0]
	}
	return 0
}

// Short reads a u16.
func (d *Decoder) Short() uint16 {
	if b := d.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// Long reads a u32.
func (d *Decoder) Long() uint32 {
	if b := d.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// LongLong reads a u64.
func (d *Decoder) LongLong() uint64 {
	if b := d.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Timestamp reads a u64 count of seconds.
func (d *Decoder) Timestamp() uint64 { return d.LongLong() }

// ShortStr reads a short string.
func (d *Decoder) ShortStr() string {
	if d.Intern != nil {
		return d.Intern.intern(d.ShortBytes())
	}
	return string(d.ShortBytes())
}

// ShortBytes reads a short string without copying; the slice aliases Buf.
func (d *Decoder) ShortBytes() []byte {
	n := d.Octet()
	return d.take(int(n))
}

// LongStr reads a long string.
func (d *Decoder) LongStr() string { return string(d.LongBytes()) }

// LongBytes reads a long string without copying; the slice aliases Buf.
func (d *Decoder) LongBytes() []byte {
	n := d.Long()
	if d.err != nil {
		return nil
	}
	return d.take(int(n))
}
