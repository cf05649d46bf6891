package amqplib

import (
	"context"
	"fmt"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/wire"
)

// Methods the broker sends without being asked, on a channel: channel.flow
// (0-9-1 and 0-8) and channel.alert (0-8). They are handled where frames
// are routed, never left for the next RPC to trip over:
//
//   - channel.flow is answered at once with flow-ok (queued for the flusher:
//     the router never waits on a write). While the broker has the flow off,
//     publishes on the channel wait for it to come back, bounded by the
//     connection timeout. The OnFlow hook reports each change.
//   - channel.alert is reported to the OnAlert hook and the log.
//   - Any other synchronous method that no call on the channel waits for is
//     a protocol error that closes the connection, naming the method
//     (Channel.deliverReply).

// flow handles a broker's channel.flow (the turn's holder).
func (ch *Channel) flow(m wire.Method) {
	active := m.(wire.Flowing).FlowActive()
	ok := ch.c.proto.NewMethod(ch.c.proto.Known.ChannelFlowOK)
	ok.(wire.Flowing).SetFlowActive(active)
	_ = ch.c.queueMethod(ch.id, ok)
	ch.mu.Lock()
	changed := active == (ch.flowOff != nil)
	switch {
	case !active && ch.flowOff == nil:
		ch.flowOff = make(chan struct{})
		ch.paused.Store(true)
	case active && ch.flowOff != nil:
		close(ch.flowOff)
		ch.flowOff = nil
		ch.paused.Store(false)
	}
	ch.mu.Unlock()
	if changed {
		ch.c.events.push(hookEvent{kind: hookFlow, ch: ch.id, active: active})
	}
}

// alert handles a 0-8 channel.alert (the turn's holder).
func (ch *Channel) alert(m wire.Method) {
	code, text := m.(wire.Alerting).AlertInfo()
	ch.c.logf("%s: channel.alert %d %q", ch.name, code, text)
	ch.c.events.push(hookEvent{kind: hookAlert, ch: ch.id, code: int(code), reason: text})
}

// waitFlow waits, bounded by the connection timeout, while the broker has
// the channel's flow off.
func (ch *Channel) waitFlow(ctx context.Context) error {
	if !ch.paused.Load() {
		return nil
	}
	ch.mu.Lock()
	off := ch.flowOff
	ch.mu.Unlock()
	if off == nil {
		return nil
	}
	defer ch.c.needReader()()
	timer := time.NewTimer(ch.c.timeout)
	defer timer.Stop()
	select {
	case <-off:
		return nil
	case <-ch.done:
		return ch.usable()
	case <-timer.C:
		return fmt.Errorf("%w: %s: the broker has paused publishing (channel.flow) for over %s", amqp.ErrTimeout, ch.name, ch.c.timeout)
	case <-ctx.Done():
		return ctxError(ctx, ch.name+": waiting while the broker has paused publishing (channel.flow)")
	}
}
