package wire

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/amqperr"
)

// MaxTableDepth is how deeply field tables and arrays may nest, counting the
// outermost table as depth 0. Deeper values are refused by both the encoder
// (amqp.ErrInvalidArgument) and the decoder (amqp.ErrProtocol).
const MaxTableDepth = 64

// smallTable is the number of entries sorted in a stack array; larger tables
// allocate one slice for sorting.
const smallTable = 8

// entry is one table entry, gathered for sorting.
type entry struct {
	key string
	val any
}

// Table appends a field table (u32 byte length, then entries), using
// e.Policy. Entries are written in sorted key order, so equal tables encode
// to equal bytes.
//
// Each Go value type maps to one field type, as documented on amqp.Table.
// Beyond that contract the encoder also accepts map[string]any (as F),
// []string (as an A of S values), []amqp.Table (as an A of F values), and
// uint and uint64 (as l when the value fits an int64). Any other type, a key
// over 255 bytes or with invalid UTF-8, or nesting deeper than MaxTableDepth
// fails the encoder with an error wrapping amqp.ErrInvalidArgument that names
// the key.
//
// With Policy Tables08 only AMQP 0-8's types are written: string as S, any
// integer that fits an int32 as I, Decimal as D, time.Time as T and tables as
// F. Every other value is refused.
func (e *Encoder) Table(t amqp.Table) { e.table(t, 0) }

// TableBody appends a field table's entries without the u32 length prefix
// (the AMQPLAIN login response). It follows the rules of Table.
func (e *Encoder) TableBody(t amqp.Table) { e.tableEntries(t, 0) }

// table appends a length-prefixed table that sits at nesting level depth.
func (e *Encoder) table(t map[string]any, depth int) {
	if e.err != nil {
		return
	}
	at := e.beginLength()
	e.tableEntries(t, depth)
	e.endLength(at)
}

// beginLength appends a placeholder u32 length and returns its offset.
func (e *Encoder) beginLength() int {
	at := len(e.Buf)
	e.Buf = append(e.Buf, 0, 0, 0, 0)
	return at
}

// endLength patches the length placeholder at offset at with the number of
// bytes appended after it.
func (e *Encoder) endLength(at int) {
	if e.err != nil {
		return
	}
	n := len(e.Buf) - at - 4
	if uint64(n) > math.MaxUint32 {
		e.Fail(amqperr.Invalid("field table or array of %d bytes exceeds 4 GiB", n))
		return
	}
	binary.BigEndian.PutUint32(e.Buf[at:at+4], uint32(n))
}

func (e *Encoder) tableEntries(t map[string]any, depth int) {
	if e.err != nil || len(t) == 0 {
		return
	}
	var small [smallTable]entry
	var entries []entry
	if len(t) <= smallTable {
		entries = small[:0]
	} else {
		entries = make([]entry, 0, len(t))
	}
	for k, v := range t {
		entries = append(entries, entry{k, v})
	}
	if len(entries) <= smallTable {
		// Insertion sort: no closure, no allocation, fast for a few keys.
		for i := 1; i < len(entries); i++ {
			for j := i; j > 0 && entries[j].key < entries[j-1].key; j-- {
				entries[j], entries[j-1] = entries[j-1], entries[j]
			}
		}
	} else {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	}
	for i := range entries {
		k := entries[i].key
		e.ShortStr(k)
		e.value(k, -1, entries[i].val, depth)
		if e.err != nil {
			return
		}
	}
}

// value appends a type letter and a value. key (and idx >= 0 for an array
// element) name the value in errors; depth is the level of the enclosing
// table or array.
func (e *Encoder) value(key string, idx int, v any, depth int) {
	if e.Policy == Tables08 {
		e.value08(key, idx, v, depth)
		return
	}
	switch v := v.(type) {
	case nil:
		e.Octet('V')
	case bool:
		b := byte(0)
		if v {
			b = 1
		}
		e.Buf = append(e.Buf, 't', b)
	case int8:
		e.Buf = append(e.Buf, 'b', byte(v))
	case uint8:
		e.Buf = append(e.Buf, 'B', v)
	case int16:
		e.Octet('s')
		e.Short(uint16(v))
	case uint16:
		e.Octet('u')
		e.Short(v)
	case int32:
		e.Octet('I')
		e.Long(uint32(v))
	case uint32:
		e.Octet('i')
		e.Long(v)
	case int64:
		e.Octet('l')
		e.LongLong(uint64(v))
	case int:
		e.Octet('l')
		e.LongLong(uint64(int64(v)))
	case uint:
		e.uint64Value(key, idx, uint64(v))
	case uint64:
		e.uint64Value(key, idx, v)
	case float32:
		e.Octet('f')
		e.Long(math.Float32bits(v))
	case float64:
		e.Octet('d')
		e.LongLong(math.Float64bits(v))
	case amqp.Decimal:
		e.decimal(v)
	case string:
		e.Octet('S')
		e.LongStr(v)
	case []byte:
		e.Octet('x')
		e.LongBytes(v)
	case time.Time:
		e.Octet('T')
		e.LongLong(uint64(v.Unix()))
	case amqp.Table:
		e.nestedTable(key, idx, v, depth)
	case map[string]any:
		e.nestedTable(key, idx, v, depth)
	case []any:
		e.array(key, idx, len(v), depth, func(i int) any { return v[i] })
	case []string:
		e.array(key, idx, len(v), depth, func(i int) any { return v[i] })
	case []amqp.Table:
		e.array(key, idx, len(v), depth, func(i int) any { return v[i] })
	default:
		e.Fail(amqperr.Invalid("header %s: unsupported value type %T", keyName(key, idx), v))
	}
}

func (e *Encoder) uint64Value(key string, idx int, v uint64) {
	if v > math.MaxInt64 {
		e.Fail(amqperr.Invalid("header %s: unsigned value %d does not fit a signed 64-bit field", keyName(key, idx), v))
		return
	}
	e.Octet('l')
	e.LongLong(v)
}

func (e *Encoder) decimal(v amqp.Decimal) {
	e.Buf = append(e.Buf, 'D', v.Scale)
	e.Long(uint32(v.Value)) // two's complement
}

func (e *Encoder) nestedTable(key string, idx int, t map[string]any, depth int) {
	if depth >= MaxTableDepth {
		e.Fail(amqperr.Invalid("header %s: tables and arrays nest deeper than %d levels", keyName(key, idx), MaxTableDepth))
		return
	}
	e.Octet('F')
	e.table(t, depth+1)
}

// array appends an A value of n elements, fetched with elem.
func (e *Encoder) array(key string, idx int, n int, depth int, elem func(int) any) {
	if depth >= MaxTableDepth {
		e.Fail(amqperr.Invalid("header %s: tables and arrays nest deeper than %d levels", keyName(key, idx), MaxTableDepth))
		return
	}
	e.Octet('A')
	at := e.beginLength()
	for i := 0; i < n && e.err == nil; i++ {
		e.value(key, i, elem(i), depth+1)
	}
	e.endLength(at)
}

// value08 is value under the Tables08 policy: S, I, D, T and F only.
func (e *Encoder) value08(key string, idx int, v any, depth int) {
	var n int64
	switch v := v.(type) {
	case string:
		e.Octet('S')
		e.LongStr(v)
		return
	case amqp.Decimal:
		e.decimal(v)
		return
	case time.Time:
		e.Octet('T')
		e.LongLong(uint64(v.Unix()))
		return
	case amqp.Table:
		e.nestedTable(key, idx, v, depth)
		return
	case map[string]any:
		e.nestedTable(key, idx, v, depth)
		return
	case int8:
		n = int64(v)
	case uint8:
		n = int64(v)
	case int16:
		n = int64(v)
	case uint16:
		n = int64(v)
	case int32:
		n = int64(v)
	case uint32:
		n = int64(v)
	case int64:
		n = v
	case int:
		n = int64(v)
	case uint:
		if uint64(v) > math.MaxInt32 {
			e.refuse08(key, idx, v)
			return
		}
		n = int64(v)
	case uint64:
		if v > math.MaxInt32 {
			e.refuse08(key, idx, v)
			return
		}
		n = int64(v)
	default:
		e.refuse08(key, idx, v)
		return
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		e.refuse08(key, idx, v)
		return
	}
	e.Octet('I')
	e.Long(uint32(int32(n)))
}

func (e *Encoder) refuse08(key string, idx int, v any) {
	switch v.(type) {
	case nil:
		e.Fail(amqperr.Invalid("header %s: AMQP 0-8 cannot carry a nil (void) value", keyName(key, idx)))
	case int8, uint8, int16, uint16, int32, uint32, int64, int, uint, uint64:
		e.Fail(amqperr.Invalid("header %s: AMQP 0-8 cannot carry integer %d: only 32-bit signed integers", keyName(key, idx), v))
	default:
		e.Fail(amqperr.Invalid("header %s: AMQP 0-8 cannot carry a value of type %T (only string, int32, Decimal, time.Time and Table)", keyName(key, idx), v))
	}
}

// keyName formats a key for errors: "x" or, for an array element, "x[3]".
func keyName(key string, idx int) string {
	if idx < 0 {
		return strconv.Quote(key)
	}
	return strconv.Quote(key) + "[" + strconv.Itoa(idx) + "]"
}
