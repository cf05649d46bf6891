package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
)

// fakeChannel answers a producer as a broker would that returns every
// mandatory message and nacks every third one: each Publish queues a
// return and a confirm, which Wait dispatches.
type fakeChannel struct {
	channel   // the methods a producer does not call panic
	onReturn  func(*amqp.Return)
	onConfirm func(amqp.Confirmation)
	events    []func()
	seq       uint64
	published []amqp.Message
	opts      []amqp.PublishOptions
}

func (f *fakeChannel) Publish(_, _ string, msg amqp.Message, opts ...amqp.PublishOptions) error {
	f.seq++
	f.published = append(f.published, amqp.Message{Properties: msg.Properties, Body: append([]byte(nil), msg.Body...)})
	f.opts = append(f.opts, opts...)
	seq := f.seq
	if len(opts) > 0 && opts[0].Mandatory {
		f.events = append(f.events, func() { f.onReturn(&amqp.Return{ReplyCode: 312}) })
	}
	if f.onConfirm != nil {
		f.events = append(f.events, func() { f.onConfirm(amqp.Confirmation{DeliveryTag: seq, Ack: seq%3 != 0}) })
	}
	return nil
}

func (f *fakeChannel) OnReturn(fn func(*amqp.Return))       { f.onReturn = fn }
func (f *fakeChannel) OnConfirm(fn func(amqp.Confirmation)) { f.onConfirm = fn }
func (f *fakeChannel) ConfirmSelect() error                 { return nil }
func (f *fakeChannel) PublishSeq() uint64                   { return f.seq }
func (f *fakeChannel) Pending() int                         { return len(f.events) }
func (f *fakeChannel) WaitConfirms() error                  { return nil }

func (f *fakeChannel) Wait() error {
	e := f.events[0]
	f.events = f.events[1:]
	e()
	return nil
}

func (f *fakeChannel) WaitTimeout(time.Duration) error {
	if len(f.events) == 0 {
		return amqp.ErrTimeout
	}
	return f.Wait()
}

func (f *fakeChannel) WaitContext(context.Context) error { return f.Wait() }

func TestProducerCountsReturnsAndNacks(t *testing.T) {
	f := &fakeChannel{}
	p := &producer{ch: f, exchange: "ex", key: "k"}
	cfg := config{size: 20, pCount: 30, confirm: 4, mandatory: true, persistent: true}
	require.NoError(t, p.setup(cfg))
	require.NoError(t, p.run(cfg, make(chan struct{})))
	assert.Equal(t, int64(30), p.sent.Load())
	assert.Equal(t, int64(30), p.returned.Load())
	assert.Equal(t, int64(20), p.confirmed.Load())
	assert.Equal(t, int64(10), p.nacked.Load())
	require.Len(t, f.published, 30)
	for _, m := range f.published {
		assert.Len(t, m.Body, 20)
		assert.Equal(t, amqp.Persistent, m.DeliveryMode)
		_, ok := sendTime(m.Body)
		assert.True(t, ok, "the body carries the send time")
	}
	assert.Equal(t, []amqp.PublishOptions{{Mandatory: true}}, f.opts[:1])
}

func TestProducerPlain(t *testing.T) {
	f := &fakeChannel{}
	p := &producer{ch: f}
	cfg := config{size: headerSize, pCount: 5}
	require.NoError(t, p.setup(cfg))
	require.NoError(t, p.run(cfg, make(chan struct{})))
	assert.Equal(t, int64(5), p.sent.Load())
	assert.Empty(t, f.opts, "not mandatory")
	assert.Equal(t, uint8(0), f.published[0].DeliveryMode, "transient")
	stop := make(chan struct{})
	close(stop)
	q := &producer{ch: &fakeChannel{}}
	require.NoError(t, q.run(cfg, stop))
	assert.Equal(t, int64(0), q.sent.Load(), "stopped before the first message")
}
