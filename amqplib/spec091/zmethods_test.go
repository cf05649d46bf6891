package spec091

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// h decodes hex with optional spaces and quoted ASCII runs: `08 "NO_ROUTE"`.
func h(t *testing.T, s string) []byte {
	t.Helper()
	var out []byte
	for i, part := range strings.Split(s, `"`) {
		if i%2 == 1 {
			out = append(out, part...)
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(part, " ", ""))
		if err != nil {
			t.Fatalf("bad hex %q: %v", part, err)
		}
		out = append(out, b...)
	}
	return out
}

// encode returns m's argument bytes. While wire's table codec is still a
// stub (panic("TODO")) it returns the bytes written before the table and
// stub = true.
func encode(t *testing.T, m wire.Method) (b []byte, stub bool) {
	t.Helper()
	var e wire.Encoder
	defer func() {
		if r := recover(); r != nil {
			if r != "TODO" {
				panic(r)
			}
			b, stub = e.Buf, true
		}
	}()
	m.Encode(&e)
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	return e.Buf, false
}

// checkEncode compares m's encoding with want. Methods ending in a nil
// table expect its empty encoding, 00000000; while the table codec is a
// stub only the bytes before it are compared.
func checkEncode(t *testing.T, m wire.Method, want string) {
	t.Helper()
	w := h(t, want)
	got, stub := encode(t, m)
	if stub {
		if len(got) != len(w)-4 || !bytes.Equal(got, w[:len(got)]) {
			t.Errorf("%s: encoded %X, want %X then the table", m.Name(), got, w[:len(w)-4])
		}
		return
	}
	if !bytes.Equal(got, w) {
		t.Errorf("%s: encoded %X, want %X", m.Name(), got, w)
	}
}

func decode(t *testing.T, m wire.Method, payload string) {
	t.Helper()
	d := wire.NewDecoder(h(t, payload))
	m.Decode(&d)
	if err := d.Finish(); err != nil {
		t.Fatalf("%s: %v", m.Name(), err)
	}
}

func TestEncodeBits(t *testing.T) {
	for _, tc := range []struct {
		m    wire.Method
		want string
	}{
		// py-amqp's exclusive + auto-delete queue (notes §3): 0x0C.
		{&QueueDeclare{Queue: "q", Exclusive: true, AutoDelete: true}, `0000 01 "q" 0C 00000000`},
		{&QueueDeclare{Passive: true, Durable: true, NoWait: true}, `0000 00 13 00000000`},
		{&ExchangeDeclare{Exchange: "x", Type: "fanout", Passive: true}, `0000 01 "x" 06 "fanout" 01 00000000`},
		{&ExchangeDeclare{Exchange: "x", Type: "direct", Durable: true}, `0000 01 "x" 06 "direct" 02 00000000`},
		{&ExchangeDeclare{Exchange: "x", Type: "topic", AutoDelete: true, Internal: true, NoWait: true}, `0000 01 "x" 05 "topic" 1C 00000000`},
		{&QueueDelete{Queue: "q", IfUnused: true, IfEmpty: true, NoWait: true}, `0000 01 "q" 07`},
		{&BasicConsume{Queue: "q", ConsumerTag: "c", NoLocal: true, Exclusive: true}, `0000 01 "q" 01 "c" 05 00000000`},
		{&BasicConsume{Queue: "q", NoAck: true, NoWait: true}, `0000 01 "q" 00 0A 00000000`},
		{&BasicPublish{Exchange: "", RoutingKey: "rk", Mandatory: true}, `0000 00 02 "rk" 01`},
		{&BasicPublish{RoutingKey: "rk", Immediate: true}, `0000 00 02 "rk" 02`},
		{&BasicNack{DeliveryTag: 7, Multiple: true, Requeue: true}, `0000000000000007 03`},
		{&BasicAck{DeliveryTag: 1}, `0000000000000001 00`},
		{&ConfirmSelect{NoWait: true}, `01`},
		{&ChannelFlow{Active: true}, `01`},
		// connection.open "/" with the reserved sstr and bit (notes §12).
		{&ConnectionOpen{VirtualHost: "/"}, `01 2F 00 00`},
		{&ConnectionTuneOK{ChannelMax: 2047, FrameMax: 131072, Heartbeat: 10}, `07FF 00020000 000A`},
		{&ChannelOpen{}, `00`},
		{&ChannelOpenOK{}, `00000000`},
		{&ChannelClose{ReplyCode: 200, ReplyText: "bye", ClassID: 0, MethodID: 0}, `00C8 03 "bye" 0000 0000`},
		{&BasicCancel{ConsumerTag: "c", NoWait: true}, `01 "c" 01`},
		{&TxSelect{}, ``},
	} {
		checkEncode(t, tc.m, tc.want)
	}
}

func TestDecodeCaptures(t *testing.T) {
	var tune ConnectionTune
	decode(t, &tune, `07FF 00020000 003C`)
	if tune != (ConnectionTune{ChannelMax: 2047, FrameMax: 131072, Heartbeat: 60}) {
		t.Errorf("tune = %+v", tune)
	}

	// basic.deliver: sstr tag, u64 delivery tag, the redelivered octet, then
	// exchange and routing key.
	var del BasicDeliver
	decode(t, &del, `03 "ctg" 0000000000000102 01 02 "ex" 03 "key"`)
	if del != (BasicDeliver{ConsumerTag: "ctg", DeliveryTag: 258, Redelivered: true, Exchange: "ex", RoutingKey: "key"}) {
		t.Errorf("deliver = %+v", del)
	}

	var ret BasicReturn
	decode(t, &ret, `0138 08 "NO_ROUTE" 00 01 "q"`)
	if ret != (BasicReturn{ReplyCode: 312, ReplyText: "NO_ROUTE", RoutingKey: "q"}) {
		t.Errorf("return = %+v", ret)
	}

	var getOK BasicGetOK
	decode(t, &getOK, `0000000000000001 00 00 01 "q" 00000005`)
	if getOK != (BasicGetOK{DeliveryTag: 1, RoutingKey: "q", MessageCount: 5}) {
		t.Errorf("get-ok = %+v", getOK)
	}

	var cancel BasicCancel // server-sent cancel has no-wait set
	decode(t, &cancel, `03 "ctg" 01`)
	if cancel != (BasicCancel{ConsumerTag: "ctg", NoWait: true}) {
		t.Errorf("cancel = %+v", cancel)
	}

	decode(t, &BasicGetEmpty{}, `00`)
	decode(t, &ChannelOpenOK{}, `00000000`)
	decode(t, &ConnectionOpenOK{}, `00`)
	decode(t, &ConnectionUnblocked{}, ``)
	var blocked ConnectionBlocked
	decode(t, &blocked, `0B "low on disk"`)
	if blocked.Reason != "low on disk" {
		t.Errorf("blocked = %+v", blocked)
	}
}

func TestDecodeShortPayload(t *testing.T) {
	var tune ConnectionTune
	d := wire.NewDecoder(h(t, `07FF 0002`))
	tune.Decode(&d)
	if err := d.Finish(); !errors.Is(err, amqp.ErrProtocol) {
		t.Errorf("truncated tune: err = %v, want ErrProtocol", err)
	}
	d = wire.NewDecoder(h(t, `00 00`))
	(&BasicGetEmpty{}).Decode(&d)
	if err := d.Finish(); err == nil {
		t.Error("get-empty with a trailing byte: no error")
	}
}

func TestException(t *testing.T) {
	in := &amqp.Error{Code: 404, Text: "NOT_FOUND - no queue 'q'", ClassID: 50, MethodID: 10}
	for _, m := range []wire.Exception{&ConnectionClose{}, &ChannelClose{}} {
		m.SetException(in)
		got := m.Exception()
		want := *in
		want.Server = true
		if *got != want {
			t.Errorf("%s: Exception() = %+v, want %+v", m.Name(), got, want)
		}
	}
}

func TestNewMethodAndKnown(t *testing.T) {
	ids := []wire.MethodID{
		Known.ConnectionStart, Known.ConnectionClose, Known.ConnectionBlocked, Known.ConnectionUnblocked,
		Known.ChannelOpenOK, Known.BasicDeliver, Known.BasicGetEmpty, Known.BasicNack,
	}
	for _, id := range ids {
		m := NewMethod(id)
		if m == nil || m.ID() != id {
			t.Errorf("NewMethod(%v) = %v", id, m)
		}
	}
	for id, name := range map[wire.MethodID]string{
		wire.ID(10, 50):  "connection.close",
		wire.ID(10, 60):  "connection.blocked",
		wire.ID(40, 51):  "exchange.unbind-ok",
		wire.ID(60, 100): "basic.recover-async",
		wire.ID(60, 110): "basic.recover",
		wire.ID(85, 10):  "confirm.select",
	} {
		if m := NewMethod(id); m == nil || m.Name() != name {
			t.Errorf("NewMethod(%v) = %v, want %s", id, m, name)
		}
	}
	if Known.ConnectionRedirect != 0 {
		t.Errorf("0-9-1 has no connection.redirect, Known says %v", Known.ConnectionRedirect)
	}
	for _, id := range []wire.MethodID{wire.ID(30, 10), wire.ID(70, 10), wire.ID(10, 99)} {
		if m := NewMethod(id); m != nil {
			t.Errorf("NewMethod(%v) = %s, want nil", id, m.Name())
		}
	}
	for _, id := range []wire.MethodID{Known.BasicPublish, Known.BasicReturn, Known.BasicDeliver, Known.BasicGetOK} {
		if !NewMethod(id).HasContent() {
			t.Errorf("%v: HasContent false", id)
		}
	}
	if NewMethod(Known.BasicGet).HasContent() {
		t.Error("basic.get: HasContent true")
	}
}

func TestRoles(t *testing.T) {
	var d amqp.Delivery
	(&BasicGetOK{DeliveryTag: 3, Redelivered: true, Exchange: "x", RoutingKey: "k", MessageCount: 9}).DeliveryInfo(&d)
	if d.DeliveryTag != 3 || !d.Redelivered || d.Exchange != "x" || d.RoutingKey != "k" || d.MessageCount != 9 || d.ConsumerTag != "" {
		t.Errorf("get-ok delivery = %+v", d)
	}
	(&BasicDeliver{ConsumerTag: "c", DeliveryTag: 4}).DeliveryInfo(&d)
	if d.ConsumerTag != "c" || d.DeliveryTag != 4 {
		t.Errorf("deliver delivery = %+v", d)
	}
	var r amqp.Return
	(&BasicReturn{ReplyCode: 312, ReplyText: "NO_ROUTE", Exchange: "x", RoutingKey: "k"}).ReturnInfo(&r)
	if r.ReplyCode != 312 || r.ReplyText != "NO_ROUTE" || r.Exchange != "x" || r.RoutingKey != "k" {
		t.Errorf("return = %+v", r)
	}
	if tag, multiple := (&BasicNack{DeliveryTag: 5, Multiple: true}).ConfirmInfo(); tag != 5 || !multiple {
		t.Errorf("nack confirm = %d, %t", tag, multiple)
	}
	if got := (&BasicCancel{ConsumerTag: "c"}).CancelTag(); got != "c" {
		t.Errorf("cancel tag = %q", got)
	}
	if got := (&ConnectionBlocked{Reason: "low on memory"}).BlockedReason(); got != "low on memory" {
		t.Errorf("blocked reason = %q", got)
	}
}
