package amqp

import (
	"math"
	"math/big"
	"strconv"
)

// Table is an AMQP field table: message headers, queue and exchange
// arguments, client and server properties.
//
// Values are Go values of these types, each mapped to one RabbitMQ field type:
//
//	bool           t        int8     b      uint8   B
//	int16          s        uint16   u      int32   I
//	uint32         i        int64    l      int     l
//	float32        f        float64  d      Decimal D
//	string         S        []byte   x      time.Time T (seconds, UTC)
//	Table          F        []any    A      nil     V
//
// Decoding yields exactly these types (int64 for both 'l' and 'L'). A value of
// any other Go type is refused with ErrInvalidArgument before anything is sent.
// AMQP 0-8 connections encode only S, I, D, T and F unless extended tables are
// enabled; decoding always accepts the full set.
type Table map[string]any

// Decimal is an AMQP decimal: Value / 10^Scale.
type Decimal struct {
	Scale uint8
	Value int32
}

// Float64 returns the decimal's value as a float64 (rounded).
func (d Decimal) Float64() float64 {
	return float64(d.Value) / math.Pow10(int(d.Scale))
}

// String formats the decimal exactly, e.g. "12.345".
func (d Decimal) String() string {
	r := new(big.Rat).SetFrac(big.NewInt(int64(d.Value)), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil))
	return r.FloatString(int(d.Scale))
}

// GoString is used by %#v.
func (d Decimal) GoString() string {
	return "amqp.Decimal{Scale:" + strconv.Itoa(int(d.Scale)) + ", Value:" + strconv.Itoa(int(d.Value)) + "}"
}
