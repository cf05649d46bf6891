package wire

import (
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
)

// hx parses hex digits, ignoring spaces.
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// cat concatenates byte slices and strings.
func cat(parts ...any) []byte {
	var out []byte
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			out = append(out, p...)
		case string:
			out = append(out, p...)
		case byte:
			out = append(out, p)
		default:
			panic("cat: bad part")
		}
	}
	return out
}

// equalValue is reflect.DeepEqual for decoded table values, except that
// floats compare by their bits (so NaN equals the same NaN).
func equalValue(a, b any) bool {
	switch a := a.(type) {
	case float32:
		b, ok := b.(float32)
		return ok && math.Float32bits(a) == math.Float32bits(b)
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case amqp.Table:
		b, ok := b.(amqp.Table)
		if !ok || (a == nil) != (b == nil) || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !equalValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || (a == nil) != (b == nil) || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalValue(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// equalProps compares decoded properties (headers with equalValue).
func equalProps(a, b amqp.Properties) bool {
	if (a.Headers == nil) != (b.Headers == nil) || (a.Headers != nil && !equalValue(a.Headers, b.Headers)) {
		return false
	}
	a.Headers, b.Headers = nil, nil
	return reflect.DeepEqual(a, b)
}

func encodeTable(policy TablePolicy, t amqp.Table) ([]byte, error) {
	e := Encoder{Policy: policy}
	e.Table(t)
	return e.Buf, e.Err()
}

func decodeTable(b []byte) (amqp.Table, error) {
	d := NewDecoder(b)
	t := d.Table()
	return t, d.Finish()
}
