package wire

import (
	"fmt"
	"math"
	"time"

	"github.com/amqplib-go/amqp"
)

// Table reads a field table, accepting RabbitMQ's full type set in both
// protocol versions: t b B s u I i l L f d D S A T F V x.
//
// Values decode to the Go types listed on amqp.Table: 'l' and 'L' both give a
// (signed) int64, 's' an int16, 'x' a copied []byte, 'T' a time.Time in UTC,
// 'A' a []any (never nil), 'F' an amqp.Table and 'V' nil. A zero-length
// table decodes to an empty, non-nil Table, so "present but empty" (for
// example a headers property) stays distinguishable from absent. When a later
// key repeats an earlier one, the later value wins. Keys are not checked for
// UTF-8 (decoding is lenient), but the Encoder refuses to send such keys.
//
// An unknown type letter, a length that runs past the enclosing table, array
// or frame, or nesting deeper than MaxTableDepth sets the decoder's error
// (wrapping amqp.ErrProtocol) and Table returns nil.
func (d *Decoder) Table() amqp.Table { return d.table(0) }

// fail records err unless an error is already recorded.
func (d *Decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

// limit reads a u32 length and restricts the decoder to that many following
// bytes. It returns the end offset and the saved buffer for unlimit, and
// ok=false (with the error set) when the length overruns.
func (d *Decoder) limit(what string) (end int, saved []byte, ok bool) {
	n := d.Long()
	if d.err != nil {
		return 0, nil, false
	}
	if uint64(n) > uint64(len(d.Buf)-d.Off) {
		d.fail(fmt.Errorf("%w: %s of %d bytes runs past its enclosing data (offset %d, %d bytes left)", amqp.ErrProtocol, what, n, d.Off, len(d.Buf)-d.Off))
		return 0, nil, false
	}
	end = d.Off + int(n)
	saved = d.Buf
	d.Buf = d.Buf[:end]
	return end, saved, true
}

// table reads a length-prefixed table sitting at nesting level depth.
func (d *Decoder) table(depth int) amqp.Table {
	if d.err != nil {
		return nil
	}
	if depth > MaxTableDepth {
		d.fail(fmt.Errorf("%w: field tables and arrays nest deeper than %d levels", amqp.ErrProtocol, MaxTableDepth))
		return nil
	}
	end, saved, ok := d.limit("field table")
	if !ok {
		return nil
	}
	t := amqp.Table{}
	for d.Off < end && d.err == nil {
		k := d.ShortStr()
		v := d.value(depth)
		if d.err == nil {
			t[k] = v
		}
	}
	d.Buf = saved
	if d.err != nil {
		return nil
	}
	return t
}

// array reads a length-prefixed field array sitting at nesting level depth.
func (d *Decoder) array(depth int) []any {
	if depth > MaxTableDepth {
		d.fail(fmt.Errorf("%w: field tables and arrays nest deeper than %d levels", amqp.ErrProtocol, MaxTableDepth))
		return nil
	}
	end, saved, ok := d.limit("field array")
	if !ok {
		return nil
	}
	a := []any{}
	for d.Off < end && d.err == nil {
		v := d.value(depth)
		if d.err == nil {
			a = append(a, v)
		}
	}
	d.Buf = saved
	if d.err != nil {
		return nil
	}
	return a
}

// value reads a type letter and its value; depth is the level of the
// enclosing table or array.
func (d *Decoder) value(depth int) any {
	typ := d.Octet()
	if d.err != nil {
		return nil
	}
	switch typ {
	case 't':
		return d.Octet() != 0
	case 'b':
		return int8(d.Octet())
	case 'B':
		return d.Octet()
	case 's':
		return int16(d.Short())
	case 'u':
		return d.Short()
	case 'I':
		return int32(d.Long())
	case 'i':
		return d.Long()
	case 'l', 'L':
		return int64(d.LongLong())
	case 'f':
		return math.Float32frombits(d.Long())
	case 'd':
		return math.Float64frombits(d.LongLong())
	case 'D':
		scale := d.Octet()
		return amqp.Decimal{Scale: scale, Value: int32(d.Long())}
	case 'S':
		return d.LongStr()
	case 'x':
		b := d.LongBytes()
		if d.err != nil {
			return nil
		}
		c := make([]byte, len(b))
		copy(c, b)
		return c
	case 'T':
		return time.Unix(int64(d.LongLong()), 0).UTC()
	case 'A':
		return d.array(depth + 1)
	case 'F':
		return d.table(depth + 1)
	case 'V':
		return nil
	}
	d.fail(fmt.Errorf("%w: unknown field table value type %q (0x%02X) at offset %d", amqp.ErrProtocol, rune(typ), typ, d.Off-1))
	return nil
}
