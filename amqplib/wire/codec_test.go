package wire

import (
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrimitivesRoundTrip(t *testing.T) {
	var e Encoder
	e.Octet(0xAB)
	e.Short(0x1234)
	e.Long(0xDEADBEEF)
	e.LongLong(0x0102030405060708)
	e.Timestamp(1700000000)
	e.ShortStr("q")
	e.LongStr("lstr")
	e.LongBytes([]byte{0xFF})
	require.NoError(t, e.Err())
	assert.Equal(t, hx(t, "AB 1234 DEADBEEF 0102030405060708 000000006553F100 0171 00000004 6C737472 00000001 FF"), e.Buf)

	d := NewDecoder(e.Buf)
	assert.Equal(t, uint8(0xAB), d.Octet())
	assert.Equal(t, uint16(0x1234), d.Short())
	assert.Equal(t, uint32(0xDEADBEEF), d.Long())
	assert.Equal(t, uint64(0x0102030405060708), d.LongLong())
	assert.Equal(t, uint64(1700000000), d.Timestamp())
	assert.Equal(t, "q", d.ShortStr())
	assert.Equal(t, "lstr", d.LongStr())
	assert.Equal(t, []byte{0xFF}, d.LongBytes())
	assert.NoError(t, d.Finish())
}

func TestShortStrLimits(t *testing.T) {
	var e Encoder
	e.ShortStr(strings.Repeat("é", 127) + "a") // 255 bytes
	require.NoError(t, e.Err())
	assert.Equal(t, byte(255), e.Buf[0])

	cases := map[string]string{
		"256 bytes":     strings.Repeat("a", 256),
		"128 runes":     strings.Repeat("é", 128),
		"invalid UTF-8": "ab\xfe\xff",
		"cut rune":      "\xc3",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			var e Encoder
			e.ShortStr(s)
			assert.ErrorIs(t, e.Err(), amqp.ErrInvalidArgument)
			assert.Empty(t, e.Buf, "nothing appended")
		})
	}
}

func TestDecoderTruncatedAndSticky(t *testing.T) {
	d := NewDecoder(hx(t, "00 01"))
	assert.Equal(t, uint32(0), d.Long())
	require.ErrorIs(t, d.Err(), amqp.ErrProtocol)
	first := d.Err()
	assert.Equal(t, uint8(0), d.Octet(), "reads after an error return zero")
	assert.Same(t, first, d.Finish())

	d = NewDecoder(hx(t, "05 6162"))
	assert.Equal(t, "", d.ShortStr())
	assert.ErrorContains(t, d.Err(), "want 5 bytes, have 2")

	d = NewDecoder(hx(t, "FFFFFFFF 00"))
	assert.Nil(t, d.LongBytes())
	assert.ErrorIs(t, d.Err(), amqp.ErrProtocol)
}

func TestDecoderFinishTrailing(t *testing.T) {
	d := NewDecoder(hx(t, "01 02 03"))
	d.Octet()
	err := d.Finish()
	assert.ErrorIs(t, err, amqp.ErrProtocol)
	assert.ErrorContains(t, err, "2 trailing bytes")
}

func TestMethodID(t *testing.T) {
	id := ID(60, 40)
	assert.Equal(t, uint16(60), id.Class())
	assert.Equal(t, uint16(40), id.Method())
	assert.Equal(t, "60.40", id.String())
}
