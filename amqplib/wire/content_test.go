package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func allProps() amqp.Properties {
	return amqp.Properties{
		ContentType:     "application/json",
		ContentEncoding: "UTF-8",
		Headers:         amqp.Table{"x-count": int64(3), "s": "v", "nested": amqp.Table{"a": []any{true, nil}}},
		DeliveryMode:    amqp.Persistent,
		Priority:        9,
		CorrelationID:   "corr",
		ReplyTo:         "amq.rabbitmq.reply-to",
		Expiration:      "60000",
		MessageID:       "id-1",
		Timestamp:       time.Unix(1700000000, 0).UTC(),
		Type:            "event",
		UserID:          "guest",
		AppID:           "app",
		ClusterID:       "cluster",
	}
}

func TestContentHeaderCapture(t *testing.T) {
	want := cat(hx(t, "003C 0000 0000000000000005 9000 0A"), "text/plain", byte(2))
	var e Encoder
	e.ContentHeader(60, 5, &amqp.Properties{ContentType: "text/plain", DeliveryMode: 2})
	require.NoError(t, e.Err())
	assert.Equal(t, want, e.Buf)

	var p amqp.Properties
	d := NewDecoder(want)
	class, size := d.ContentHeader(&p)
	require.NoError(t, d.Finish())
	assert.Equal(t, uint16(60), class)
	assert.Equal(t, uint64(5), size)
	assert.Equal(t, amqp.Properties{ContentType: "text/plain", DeliveryMode: 2}, p)
}

func TestContentHeaderAllProperties(t *testing.T) {
	for _, policy := range []TablePolicy{TablesRabbit, Tables08} {
		in := allProps()
		if policy == Tables08 {
			in.Headers = amqp.Table{"x-count": 3, "s": "v", "nested": amqp.Table{"d": amqp.Decimal{Scale: 1, Value: 5}}}
		}
		e := Encoder{Policy: policy}
		e.ContentHeader(60, 1<<40, &in)
		require.NoError(t, e.Err())
		assert.Equal(t, hx(t, "FFFC"), e.Buf[12:14], "all 14 flags, bits 1-0 clear")

		var out amqp.Properties
		d := NewDecoder(e.Buf)
		class, size := d.ContentHeader(&out)
		require.NoError(t, d.Finish())
		assert.Equal(t, uint16(60), class)
		assert.Equal(t, uint64(1<<40), size)
		if policy == Tables08 {
			in.Headers["x-count"] = int32(3)
		}
		assert.True(t, equalProps(in, out), "got %#v", out)

		// Re-encoding the decoded properties gives the same bytes.
		e2 := Encoder{Policy: policy}
		e2.ContentHeader(class, size, &out)
		assert.Equal(t, e.Buf, e2.Buf)
	}
}

func TestContentHeaderEachFlag(t *testing.T) {
	full := allProps()
	cases := []struct {
		flag uint16
		set  func(p *amqp.Properties)
	}{
		{FlagContentType, func(p *amqp.Properties) { p.ContentType = full.ContentType }},
		{FlagContentEncoding, func(p *amqp.Properties) { p.ContentEncoding = full.ContentEncoding }},
		{FlagHeaders, func(p *amqp.Properties) { p.Headers = full.Headers }},
		{FlagDeliveryMode, func(p *amqp.Properties) { p.DeliveryMode = full.DeliveryMode }},
		{FlagPriority, func(p *amqp.Properties) { p.Priority = full.Priority }},
		{FlagCorrelationID, func(p *amqp.Properties) { p.CorrelationID = full.CorrelationID }},
		{FlagReplyTo, func(p *amqp.Properties) { p.ReplyTo = full.ReplyTo }},
		{FlagExpiration, func(p *amqp.Properties) { p.Expiration = full.Expiration }},
		{FlagMessageID, func(p *amqp.Properties) { p.MessageID = full.MessageID }},
		{FlagTimestamp, func(p *amqp.Properties) { p.Timestamp = full.Timestamp }},
		{FlagType, func(p *amqp.Properties) { p.Type = full.Type }},
		{FlagUserID, func(p *amqp.Properties) { p.UserID = full.UserID }},
		{FlagAppID, func(p *amqp.Properties) { p.AppID = full.AppID }},
		{FlagClusterID, func(p *amqp.Properties) { p.ClusterID = full.ClusterID }},
	}
	var all uint16
	for i, tc := range cases {
		assert.Equal(t, uint16(1<<(15-i)), tc.flag, "flag order")
		all |= tc.flag
		var in amqp.Properties
		tc.set(&in)
		var e Encoder
		e.ContentHeader(60, 0, &in)
		require.NoError(t, e.Err())
		assert.Equal(t, tc.flag, uint16(e.Buf[12])<<8|uint16(e.Buf[13]))
		var out amqp.Properties
		d := NewDecoder(e.Buf)
		d.ContentHeader(&out)
		require.NoError(t, d.Finish())
		assert.True(t, equalProps(in, out), "flag %04X: %#v", tc.flag, out)
	}
	assert.Equal(t, uint16(0xFFFC), all)
	assert.Equal(t, uint16(0xFFFC), PropertyFlags(&full))
}

func TestContentHeaderNoProperties(t *testing.T) {
	for _, p := range []*amqp.Properties{nil, {}} {
		var e Encoder
		e.ContentHeader(60, 0, p)
		require.NoError(t, e.Err())
		assert.Equal(t, hx(t, "003C 0000 0000000000000000 0000"), e.Buf)
	}
}

func TestContentHeaderTimestampSeconds(t *testing.T) {
	in := amqp.Properties{Timestamp: time.Unix(1700000000, 987654321).In(time.FixedZone("Y", -7200))}
	var e Encoder
	e.ContentHeader(60, 0, &in)
	assert.Equal(t, hx(t, "0040 000000006553F100"), e.Buf[12:])
	var out amqp.Properties
	d := NewDecoder(e.Buf)
	d.ContentHeader(&out)
	require.NoError(t, d.Finish())
	assert.Equal(t, time.Unix(1700000000, 0).UTC(), out.Timestamp)
	assert.Equal(t, time.UTC, out.Timestamp.Location())
}

func TestContentHeaderContinuationFlags(t *testing.T) {
	// Flag word with the continuation bit, then two more words (the last
	// without it), then content-type.
	b := cat(hx(t, "003C 0000 0000000000000001 8001 0003 0000 01"), "x")
	var p amqp.Properties
	d := NewDecoder(b)
	class, size := d.ContentHeader(&p)
	require.NoError(t, d.Finish())
	assert.Equal(t, uint16(60), class)
	assert.Equal(t, uint64(1), size)
	assert.Equal(t, "x", p.ContentType)

	// Bit 1 set is ignored, like RabbitMQ does.
	d = NewDecoder(hx(t, "003C 0000 0000000000000000 0002"))
	d.ContentHeader(&p)
	assert.NoError(t, d.Finish())
}

func TestContentHeaderDecodeErrors(t *testing.T) {
	cases := []struct {
		name, wire, msg string
	}{
		{"weight", "003C 0001 0000000000000000 0000", "weight is 1"},
		{"short", "003C 0000 00000000", "runs past"},
		{"flags missing", "003C 0000 0000000000000000", "runs past"},
		{"continuation never ends", "003C 0000 0000000000000000 0001 0001", "runs past"},
		{"property missing", "003C 0000 0000000000000000 8000", "runs past"},
		{"property cut", "003C 0000 0000000000000000 8000 05 6162", "runs past"},
		{"headers cut", "003C 0000 0000000000000000 2000 00000005 0161 56", "runs past"},
		{"headers bad letter", "003C 0000 0000000000000000 2000 00000003 0161 5A", "'Z'"},
		{"timestamp cut", "003C 0000 0000000000000000 0040 00000000", "runs past"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var p amqp.Properties
			d := NewDecoder(hx(t, tc.wire))
			class, size := d.ContentHeader(&p)
			err := d.Finish()
			require.ErrorIs(t, err, amqp.ErrProtocol)
			assert.ErrorContains(t, err, tc.msg)
			assert.Zero(t, class)
			assert.Zero(t, size)
		})
	}
	// Trailing bytes after the properties.
	d := NewDecoder(hx(t, "003C 0000 0000000000000000 0000 00"))
	d.ContentHeader(&amqp.Properties{})
	assert.ErrorContains(t, d.Finish(), "trailing")
}

func TestContentHeaderEncodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		policy TablePolicy
		p      amqp.Properties
		msg    string
	}{
		{"long content type", TablesRabbit, amqp.Properties{ContentType: strings.Repeat("a", 256)}, "exceeds 255"},
		{"bad utf8 reply-to", TablesRabbit, amqp.Properties{ReplyTo: "\xc3"}, "not valid UTF-8"},
		{"bad header", TablesRabbit, amqp.Properties{Headers: amqp.Table{"h": struct{}{}}}, `"h": unsupported`},
		{"08 header", Tables08, amqp.Properties{Headers: amqp.Table{"h": true}}, `"h": AMQP 0-8 cannot carry`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := Encoder{Policy: tc.policy}
			e.ContentHeader(60, 0, &tc.p)
			require.ErrorIs(t, e.Err(), amqp.ErrInvalidArgument)
			assert.ErrorContains(t, e.Err(), tc.msg)
		})
	}
}
