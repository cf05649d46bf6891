package wire

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/amqplib-go/amqp"
)

// seedTables returns encoded tables covering every type letter.
func seedTables(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	all := amqp.Table{}
	for _, tc := range rabbitCases() {
		all[tc.name] = tc.in
	}
	for _, tbl := range []amqp.Table{nil, all, nest(8), {"x-death": []any{amqp.Table{
		"count": int64(1), "time": time.Unix(1700000000, 0), "reason": "expired",
		"routing-keys": []any{"rk"},
	}}}} {
		b, err := encodeTable(TablesRabbit, tbl)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	// 'L', and a decimal with a negative mantissa.
	seeds = append(seeds, hx(f, "0000000B 0178 4C FFFFFFFFFFFFFFFE"), hx(f, "00000008 0164 44 05 80000000"))
	return seeds
}

func FuzzTable(f *testing.F) {
	for _, s := range seedTables(f) {
		f.Add(s)
	}
	f.Add(hx(f, "00000004 0178 55 00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := NewDecoder(b)
		t1 := d.Table()
		if d.Err() != nil {
			if t1 != nil {
				t.Fatalf("table %v returned with error %v", t1, d.Err())
			}
			return
		}
		if t1 == nil {
			t.Fatal("nil table without an error")
		}
		b2, err := encodeTable(TablesRabbit, t1)
		if err != nil && !utf8Keys(t1) {
			return // decoding is lenient about UTF-8; encoding is not
		}
		if err != nil {
			t.Fatalf("decoded table does not re-encode: %v\n%#v", err, t1)
		}
		t2, err := decodeTable(b2)
		if err != nil {
			t.Fatalf("re-encoded table does not decode: %v", err)
		}
		if !equalValue(t1, t2) {
			t.Fatalf("round trip changed the table:\n%#v\n%#v", t1, t2)
		}
		b3, _ := encodeTable(TablesRabbit, t2)
		if !bytes.Equal(b2, b3) {
			t.Fatal("encoding is not deterministic")
		}
		// The 0-8 encoder either refuses or writes something decodable.
		if b08, err := encodeTable(Tables08, t1); err == nil {
			if _, err := decodeTable(b08); err != nil {
				t.Fatalf("0-8 encoding does not decode: %v", err)
			}
		}
	})
}

func FuzzContentHeader(f *testing.F) {
	for _, p := range []amqp.Properties{{}, allProps(), {ContentType: "text/plain", DeliveryMode: 2}} {
		var e Encoder
		e.ContentHeader(60, 5, &p)
		f.Add(e.Buf)
	}
	f.Add(hx(f, "003C 0000 0000000000000001 8001 0003 0000 0178"))
	f.Add(hx(f, "003C 0000 0000000000000000 2000 00000003 0161 56"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p1 amqp.Properties
		d := NewDecoder(b)
		class, size := d.ContentHeader(&p1)
		if d.Finish() != nil {
			return
		}
		var e Encoder
		e.ContentHeader(class, size, &p1)
		if e.Err() != nil && !utf8Props(&p1) {
			return // decoding is lenient about UTF-8; encoding is not
		}
		if e.Err() != nil {
			t.Fatalf("decoded properties do not re-encode: %v\n%#v", e.Err(), p1)
		}
		var p2 amqp.Properties
		d = NewDecoder(e.Buf)
		class2, size2 := d.ContentHeader(&p2)
		if err := d.Finish(); err != nil {
			t.Fatalf("re-encoded header does not decode: %v", err)
		}
		if class2 != class || size2 != size || !equalProps(p1, p2) {
			t.Fatalf("round trip changed the header:\n%#v\n%#v", p1, p2)
		}
		if flags := binary.BigEndian.Uint16(e.Buf[12:14]); flags&3 != 0 {
			t.Fatalf("flags %04X have bits 1-0 set", flags)
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	var e Encoder
	e.MethodFrame(1, &fakeMethod{arg: "queue"})
	e.Heartbeat()
	start := e.BeginFrame(FrameHeader, 1)
	e.ContentHeader(60, 3, &amqp.Properties{ContentType: "text/plain"})
	e.EndFrame(start)
	start = e.BeginFrame(FrameBody, 1)
	e.Buf = append(e.Buf, "abc"...)
	e.EndFrame(start)
	f.Add(e.Buf, uint32(4096))
	f.Add(e.Buf, uint32(0))
	f.Add(hx(f, "08 0000 00000001 00 CE"), uint32(4096))
	f.Add(hx(f, "01 0000 00000001 00 CD"), uint32(4096))
	f.Add(hx(f, "03 0001 FFFFFFFF 00"), uint32(0))
	f.Fuzz(func(t *testing.T, b []byte, maxFrame uint32) {
		fr := NewFrameReader(bytes.NewReader(b), 16)
		fr.SetMaxFrame(maxFrame)
		var out Encoder
		for {
			typ, ch, p, err := fr.ReadFrame()
			if err != nil {
				break
			}
			if maxFrame != 0 && uint32(len(p)) > maxFrame {
				t.Fatalf("frame of %d bytes passed frame_max %d", len(p), maxFrame)
			}
			start := out.BeginFrame(typ, ch)
			out.Buf = append(out.Buf, p...)
			out.EndFrame(start)
		}
		// Every accepted frame re-encodes to the bytes it came from.
		if !bytes.HasPrefix(b, out.Buf) {
			t.Fatalf("re-encoded frames differ from the input")
		}
	})
}

// utf8Keys reports whether every key in v (nested too) is valid UTF-8.
func utf8Keys(v any) bool {
	switch v := v.(type) {
	case amqp.Table:
		for k, x := range v {
			if !utf8.ValidString(k) || !utf8Keys(x) {
				return false
			}
		}
	case []any:
		for _, x := range v {
			if !utf8Keys(x) {
				return false
			}
		}
	}
	return true
}

// utf8Props reports whether every short string in p is valid UTF-8.
func utf8Props(p *amqp.Properties) bool {
	for _, s := range []string{p.ContentType, p.ContentEncoding, p.CorrelationID, p.ReplyTo,
		p.Expiration, p.MessageID, p.Type, p.UserID, p.AppID, p.ClusterID} {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return utf8Keys(p.Headers)
}
