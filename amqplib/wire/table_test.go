package wire

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var when = time.Unix(1700000000, 999).In(time.FixedZone("X", 3600)) // 2023-11-14T22:13:20Z

// tableCase is one value in a one-entry table {"k": in}: the bytes of its
// type letter and value, and what it decodes to.
type tableCase struct {
	name string
	in   any
	wire string // hex: letter and value
	out  any
}

func rabbitCases() []tableCase {
	return []tableCase{
		{"bool true", true, "74 01", true},
		{"bool false", false, "74 00", false},
		{"int8", int8(-5), "62 FB", int8(-5)},
		{"uint8", uint8(200), "42 C8", uint8(200)},
		{"int16", int16(-2), "73 FFFE", int16(-2)},
		{"uint16", uint16(65535), "75 FFFF", uint16(65535)},
		{"int32", int32(-7), "49 FFFFFFF9", int32(-7)},
		{"uint32", uint32(4000000000), "69 EE6B2800", uint32(4000000000)},
		{"int64 negative", int64(-1), "6C FFFFFFFFFFFFFFFF", int64(-1)},
		{"int64 min", int64(math.MinInt64), "6C 8000000000000000", int64(math.MinInt64)},
		{"int", 42, "6C 000000000000002A", int64(42)},
		{"uint", uint(7), "6C 0000000000000007", int64(7)},
		{"uint64 max int64", uint64(math.MaxInt64), "6C 7FFFFFFFFFFFFFFF", int64(math.MaxInt64)},
		{"float32", float32(1.5), "66 3FC00000", float32(1.5)},
		{"float64", -2.5, "64 C004000000000000", -2.5},
		{"decimal negative", amqp.Decimal{Scale: 2, Value: -1234}, "44 02 FFFFFB2E", amqp.Decimal{Scale: 2, Value: -1234}},
		{"decimal positive", amqp.Decimal{Scale: 3, Value: 12345}, "44 03 00003039", amqp.Decimal{Scale: 3, Value: 12345}},
		{"string", "hé", "53 00000003 68C3A9", "hé"},
		{"string binary", "\xff\x00", "53 00000002 FF00", "\xff\x00"},
		{"bytes", []byte{0, 1}, "78 00000002 0001", []byte{0, 1}},
		{"bytes nil", []byte(nil), "78 00000000", []byte{}},
		{"time", when, "54 000000006553F100", time.Unix(1700000000, 0).UTC()},
		{"table", amqp.Table{"a": int32(1)}, "46 00000007 0161 49 00000001", amqp.Table{"a": int32(1)}},
		{"table nil", amqp.Table(nil), "46 00000000", amqp.Table{}},
		{"map", map[string]any{"a": "b"}, "46 00000008 0161 53 00000001 62", amqp.Table{"a": "b"}},
		{"array", []any{int32(1), "x"}, "41 0000000B 49 00000001 53 00000001 78", []any{int32(1), "x"}},
		{"array empty", []any{}, "41 00000000", []any{}},
		{"strings", []string{"a"}, "41 00000006 53 00000001 61", []any{"a"}},
		{"tables", []amqp.Table{{}}, "41 00000005 46 00000000", []any{amqp.Table{}}},
		{"void", nil, "56", nil},
	}
}

func tables08Cases() []tableCase {
	return []tableCase{
		{"string", "s", "53 00000001 73", "s"},
		{"int8", int8(-1), "49 FFFFFFFF", int32(-1)},
		{"uint8", uint8(255), "49 000000FF", int32(255)},
		{"int16", int16(-300), "49 FFFFFED4", int32(-300)},
		{"uint16", uint16(65535), "49 0000FFFF", int32(65535)},
		{"int32", int32(math.MinInt32), "49 80000000", int32(math.MinInt32)},
		{"uint32", uint32(math.MaxInt32), "49 7FFFFFFF", int32(math.MaxInt32)},
		{"int64", int64(-5), "49 FFFFFFFB", int32(-5)},
		{"int", 5, "49 00000005", int32(5)},
		{"uint", uint(6), "49 00000006", int32(6)},
		{"uint64", uint64(7), "49 00000007", int32(7)},
		{"decimal", amqp.Decimal{Scale: 1, Value: -1}, "44 01 FFFFFFFF", amqp.Decimal{Scale: 1, Value: -1}},
		{"time", when, "54 000000006553F100", time.Unix(1700000000, 0).UTC()},
		{"table", amqp.Table{"n": 1}, "46 00000007 016E 49 00000001", amqp.Table{"n": int32(1)}},
		{"map", map[string]any{"n": "v"}, "46 00000008 016E 53 00000001 76", amqp.Table{"n": "v"}},
	}
}

func TestTableRoundTrip(t *testing.T) {
	for _, policy := range []struct {
		name  string
		p     TablePolicy
		cases []tableCase
	}{{"rabbit", TablesRabbit, rabbitCases()}, {"0-8", Tables08, tables08Cases()}} {
		for _, tc := range policy.cases {
			t.Run(policy.name+"/"+tc.name, func(t *testing.T) {
				got, err := encodeTable(policy.p, amqp.Table{"k": tc.in})
				require.NoError(t, err)
				entry := cat(hx(t, "01"), "k", hx(t, tc.wire))
				want := cat(hx(t, "00000000"), entry)
				want[3] = byte(len(entry))
				assert.Equal(t, want, got)

				dec, err := decodeTable(got)
				require.NoError(t, err)
				assert.Equal(t, amqp.Table{"k": tc.out}, dec)
			})
		}
	}
}

func TestTableSignedAndL(t *testing.T) {
	// 'l' stays signed; 'L' (py-amqp) is accepted as the same int64.
	for _, letter := range []string{"6C", "4C"} {
		dec, err := decodeTable(hx(t, "0000000B 0178 "+letter+" FFFFFFFFFFFFFFFE"))
		require.NoError(t, err)
		assert.Equal(t, amqp.Table{"x": int64(-2)}, dec)
	}
	// Decimal mantissa is two's complement, bit for bit.
	dec, err := decodeTable(hx(t, "00000008 0164 44 05 80000000"))
	require.NoError(t, err)
	assert.Equal(t, amqp.Table{"d": amqp.Decimal{Scale: 5, Value: math.MinInt32}}, dec)
	b, err := encodeTable(TablesRabbit, dec)
	require.NoError(t, err)
	assert.Equal(t, hx(t, "00000008 0164 44 05 80000000"), b)
}

func TestTableSortedAndDeterministic(t *testing.T) {
	for _, n := range []int{0, 1, 3, 8, 9, 40} {
		tbl := amqp.Table{}
		for i := range n {
			tbl[string(rune('z'-i%26))+strings.Repeat("k", i/26)] = int32(i)
		}
		first, err := encodeTable(TablesRabbit, tbl)
		require.NoError(t, err)
		for range 5 {
			again, _ := encodeTable(TablesRabbit, tbl)
			require.Equal(t, first, again)
		}
		// Walk the entries: keys ascend.
		d := NewDecoder(first)
		d.Long()
		prev := ""
		for i := 0; d.Off < len(d.Buf); i++ {
			k := d.ShortStr()
			if i > 0 {
				assert.Less(t, prev, k)
			}
			prev = k
			d.Octet()
			d.Long()
		}
		require.NoError(t, d.Finish())
		dec, err := decodeTable(first)
		require.NoError(t, err)
		assert.Len(t, dec, n)
	}
}

func TestTableBodyAMQPLAIN(t *testing.T) {
	var e Encoder
	e.TableBody(amqp.Table{"PASSWORD": "guest", "LOGIN": "guest"})
	require.NoError(t, e.Err())
	want := cat(byte(5), "LOGIN", "S", hx(t, "00000005"), "guest", byte(8), "PASSWORD", "S", hx(t, "00000005"), "guest")
	assert.Equal(t, want, e.Buf)
	assert.Len(t, e.Buf, 0x23) // the length RabbitMQ's capture shows around it
}

func TestTableEncodeRefusals(t *testing.T) {
	type custom string
	cases := []struct {
		name   string
		policy TablePolicy
		tbl    amqp.Table
		msg    string // substring naming the key / problem
	}{
		{"struct", TablesRabbit, amqp.Table{"hdr": struct{}{}}, `"hdr": unsupported value type struct {}`},
		{"named string", TablesRabbit, amqp.Table{"hdr": custom("x")}, `"hdr": unsupported value type wire.custom`},
		{"pointer", TablesRabbit, amqp.Table{"p": new(int)}, `"p": unsupported`},
		{"map of int", TablesRabbit, amqp.Table{"m": map[string]int{}}, `"m": unsupported`},
		{"complex", TablesRabbit, amqp.Table{"c": complex(1, 2)}, `"c": unsupported`},
		{"nested", TablesRabbit, amqp.Table{"outer": amqp.Table{"inner": []int{1}}}, `"inner": unsupported`},
		{"array element", TablesRabbit, amqp.Table{"arr": []any{1, struct{}{}}}, `"arr"[1]: unsupported`},
		{"uint64 too big", TablesRabbit, amqp.Table{"u": uint64(math.MaxUint64)}, `"u": unsigned value`},
		{"uint too big", TablesRabbit, amqp.Table{"u": uint(math.MaxUint)}, `"u": unsigned value`},
		{"key too long", TablesRabbit, amqp.Table{strings.Repeat("k", 256): 1}, "exceeds 255"},
		{"key not utf8", TablesRabbit, amqp.Table{"\xff": 1}, "not valid UTF-8"},
		{"08 bool", Tables08, amqp.Table{"b": true}, `"b": AMQP 0-8 cannot carry a value of type bool`},
		{"08 float32", Tables08, amqp.Table{"f": float32(1)}, `"f": AMQP 0-8 cannot carry`},
		{"08 float64", Tables08, amqp.Table{"f": 1.0}, `"f": AMQP 0-8 cannot carry`},
		{"08 bytes", Tables08, amqp.Table{"x": []byte{1}}, `"x": AMQP 0-8 cannot carry`},
		{"08 array", Tables08, amqp.Table{"a": []any{}}, `"a": AMQP 0-8 cannot carry`},
		{"08 strings", Tables08, amqp.Table{"a": []string{}}, `"a": AMQP 0-8 cannot carry`},
		{"08 nil", Tables08, amqp.Table{"v": nil}, `"v": AMQP 0-8 cannot carry a nil`},
		{"08 int64 big", Tables08, amqp.Table{"n": int64(1) << 40}, `"n": AMQP 0-8 cannot carry integer 1099511627776`},
		{"08 int64 small", Tables08, amqp.Table{"n": int64(math.MinInt32 - 1)}, `"n": AMQP 0-8 cannot carry integer`},
		{"08 uint32 big", Tables08, amqp.Table{"n": uint32(math.MaxUint32)}, `"n": AMQP 0-8 cannot carry integer`},
		{"08 uint64 big", Tables08, amqp.Table{"n": uint64(math.MaxUint64)}, `"n": AMQP 0-8 cannot carry integer`},
		{"08 uint big", Tables08, amqp.Table{"n": uint(1 << 31)}, `"n": AMQP 0-8 cannot carry integer`},
		{"08 nested", Tables08, amqp.Table{"o": amqp.Table{"deep": true}}, `"deep": AMQP 0-8 cannot carry`},
		{"08 struct", Tables08, amqp.Table{"s": struct{}{}}, `"s": AMQP 0-8 cannot carry`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := encodeTable(tc.policy, tc.tbl)
			require.Error(t, err)
			assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestTableEncodeErrorSticks(t *testing.T) {
	e := Encoder{}
	e.Table(amqp.Table{"a": struct{}{}})
	first := e.Err()
	require.Error(t, first)
	e.Table(amqp.Table{"b": complex64(1)})
	e.ShortStr(strings.Repeat("x", 300))
	assert.Same(t, first, e.Err())
	e.Reset()
	assert.NoError(t, e.Err())
	assert.Empty(t, e.Buf)
}

// nest wraps v in n tables, alternating with arrays.
func nest(n int) amqp.Table {
	var v any = "leaf"
	for i := range n {
		if i%2 == 0 {
			v = amqp.Table{"t": v}
		} else {
			v = []any{v}
		}
	}
	return amqp.Table{"top": v}
}

func TestTableDepth(t *testing.T) {
	b, err := encodeTable(TablesRabbit, nest(MaxTableDepth))
	require.NoError(t, err)
	dec, err := decodeTable(b)
	require.NoError(t, err)
	assert.True(t, equalValue(amqp.Table(nest(MaxTableDepth)), dec))

	_, err = encodeTable(TablesRabbit, nest(MaxTableDepth+1))
	assert.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.ErrorContains(t, err, "nest deeper")

	// Hand-build MaxTableDepth+1 nested F values for the decoder.
	inner := hx(t, "00000000")
	for range MaxTableDepth + 1 {
		entry := cat(byte(1), "t", "F", inner)
		inner = cat(hx(t, "00000000"), entry)
		inner[0], inner[1], inner[2], inner[3] = byte(len(entry)>>24), byte(len(entry)>>16), byte(len(entry)>>8), byte(len(entry))
	}
	_, err = decodeTable(inner)
	assert.ErrorIs(t, err, amqp.ErrProtocol)
	assert.ErrorContains(t, err, "nest deeper")
}

func TestTableDecodeEmpty(t *testing.T) {
	dec, err := decodeTable(hx(t, "00000000"))
	require.NoError(t, err)
	assert.NotNil(t, dec)
	assert.Empty(t, dec)
	b, err := encodeTable(TablesRabbit, nil)
	require.NoError(t, err)
	assert.Equal(t, hx(t, "00000000"), b)
}

func TestTableDecodeBytesAreCopied(t *testing.T) {
	buf := hx(t, "00000009 0178 78 00000002 ABCD")
	dec, err := decodeTable(buf)
	require.NoError(t, err)
	buf[8], buf[9] = 0, 0
	assert.Equal(t, []byte{0xAB, 0xCD}, dec["x"])
}

func TestTableDecodeErrors(t *testing.T) {
	cases := []struct {
		name string
		wire string
		msg  string
	}{
		{"unknown letter U", "00000004 0178 55 00", `'U' (0x55)`},
		{"unknown letter zero", "00000003 0178 00", `'\x00' (0x00)`},
		{"table length past buffer", "00000010 0178 56", "field table of 16 bytes runs past"},
		{"short length", "000000", "runs past the end"},
		{"nested F overruns table", "0000000A 0178 46 00000004 0178 56 56 56", "runs past"},
		{"nested A overruns table", "00000008 0178 41 00000005 56 5656", "field array of 5 bytes runs past"},
		{"string overruns table", "00000008 0178 53 00000005 6162 00000000", "runs past"},
		{"key overruns table", "00000002 0578 0000 0000", "runs past"},
		{"value missing", "00000002 0178", "runs past"},
		{"int32 cut", "00000005 0178 49 0000", "runs past"},
		{"huge string length", "00000008 0178 53 FFFFFFFF 00", "runs past"},
		{"huge array length", "00000008 0178 41 FFFFFFFF 00", "field array of 4294967295 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := decodeTable(hx(t, tc.wire))
			require.Error(t, err)
			assert.Nil(t, dec)
			assert.ErrorIs(t, err, amqp.ErrProtocol)
			assert.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestTableDecodeTruncated(t *testing.T) {
	full := amqp.Table{}
	for _, tc := range rabbitCases() {
		full[tc.name] = tc.in
	}
	b, err := encodeTable(TablesRabbit, full)
	require.NoError(t, err)
	_, err = decodeTable(b)
	require.NoError(t, err)
	for n := range len(b) {
		// Cut the buffer, and also fix the outer length so the cut lands
		// inside an entry rather than at the table boundary.
		_, err := decodeTable(b[:n])
		require.ErrorIs(t, err, amqp.ErrProtocol, "prefix %d", n)
		if n > 4 {
			c := append([]byte(nil), b[:n]...)
			l := uint32(n - 4)
			c[0], c[1], c[2], c[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
			// Valid only when the cut lands between two entries.
			if _, err := decodeTable(c); err != nil {
				require.ErrorIs(t, err, amqp.ErrProtocol, "cut %d", n)
			}
		}
	}
	// Trailing bytes after a complete table are reported by Finish.
	_, err = decodeTable(append(b, 0))
	assert.ErrorContains(t, err, "1 trailing bytes")
}

func TestTableDecodeStickyAndDuplicates(t *testing.T) {
	d := NewDecoder(hx(t, "00000006 0178 56 0178 56"))
	assert.Equal(t, amqp.Table{"x": nil}, d.Table())
	require.NoError(t, d.Finish())

	d = NewDecoder(hx(t, "00000003 0178 3F 00000000"))
	assert.Nil(t, d.Table())
	assert.Nil(t, d.Table()) // sticky: no further reads
	assert.True(t, errors.Is(d.Err(), amqp.ErrProtocol))
}

func TestTableTimestampExtremes(t *testing.T) {
	for _, raw := range []string{"0000000000000000", "FFFFFFFFFFFFFFFF", "8000000000000000", "7FFFFFFFFFFFFFFF"} {
		b := hx(t, "0000000B 0174 54 "+raw)
		dec, err := decodeTable(b)
		require.NoError(t, err)
		again, err := encodeTable(TablesRabbit, dec)
		require.NoError(t, err)
		assert.Equal(t, b, again, raw)
	}
}
