package reliability_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/node2"
)

// blocker is what a 0-9-1 connection adds for connection.blocked (AMQP 0-8
// has no such method: its ids are 0-8's connection.close).
type blocker interface {
	OnBlocked(fn func(reason string))
	OnUnblocked(fn func())
	Blocked() string
}

// blockedConn dials node2 and returns the connection, a channel with an
// exclusive queue, and the channels the hooks report to.
func blockedConn(t *testing.T, timeout time.Duration) (Conn, Channel, string, <-chan string, <-chan struct{}) {
	t.Helper()
	url := node2.Start(t)
	c := mustDial(t, v091, url, amqp.Config{Timeout: timeout})
	b := c.(blocker)
	blocked := make(chan string, 4)
	unblocked := make(chan struct{}, 4)
	b.OnBlocked(func(reason string) { blocked <- reason })
	b.OnUnblocked(func() { unblocked <- struct{}{} })
	ch := mustChannel(t, c)
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	return c, ch, q.Name, blocked, unblocked
}

// publishUntilBlocked publishes a message every 100 ms until OnBlocked
// fires: RabbitMQ blocks a connection (and says so) when it publishes
// during an alarm.
func publishUntilBlocked(t *testing.T, ch Channel, q string, blocked <-chan string) string {
	t.Helper()
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		require.NoError(t, ch.Publish("", q, amqp.NewMessage("during the alarm")))
		select {
		case reason := <-blocked:
			return reason
		case <-deadline:
			t.Fatal("OnBlocked did not fire within 20s of the memory alarm")
		case <-tick.C:
		}
	}
}

func TestConnectionBlocked(t *testing.T) {
	c, ch, q, blocked, unblocked := blockedConn(t, 10*time.Second)
	node2.SetMemoryAlarm(t, true)
	reason := publishUntilBlocked(t, ch, q, blocked)
	t.Logf("blocked: %q", reason)
	assert.Contains(t, reason, "memory")
	assert.Equal(t, reason, c.(blocker).Blocked())

	node2.SetMemoryAlarm(t, false)
	select {
	case <-unblocked:
	case <-time.After(20 * time.Second):
		t.Fatal("OnUnblocked did not fire within 20s of clearing the alarm")
	}
	assert.Empty(t, c.(blocker).Blocked())
	// The connection works again: the messages held during the alarm arrive.
	info, err := ch.QueueDeclare(q, amqp.QueueOptions{Passive: true})
	require.NoError(t, err)
	assert.Positive(t, info.Messages)
}

// Close on a blocked connection (the broker no longer reads from it, so no
// close-ok comes) returns within its timeout and closes the socket.
func TestCloseWhileBlocked(t *testing.T) {
	const timeout = 2 * time.Second
	c, ch, q, blocked, _ := blockedConn(t, timeout)
	node2.SetMemoryAlarm(t, true)
	publishUntilBlocked(t, ch, q, blocked)
	var err error
	took := timed(func() { err = c.Close() })
	t.Logf("Close while blocked: %s: %v", took.Round(time.Millisecond), err)
	assert.LessOrEqual(t, took, timeout+time.Second, "Close returns within its timeout")
	if err != nil {
		assert.ErrorIs(t, err, amqp.ErrTimeout)
		assert.True(t, strings.Contains(err.Error(), "close-ok"), "%v", err)
	}
	assert.True(t, c.IsClosed())
	node2.SetMemoryAlarm(t, false)
}

// With Config.BlockedTimeout, a publish on a blocked connection fails with
// ErrTimeout once it waited that long, and goes through again once the
// broker unblocks.
func TestBlockedTimeoutFailsPublish(t *testing.T) {
	const wait = 500 * time.Millisecond
	url := node2.Start(t)
	c := mustDial(t, v091, url, amqp.Config{Timeout: 10 * time.Second, BlockedTimeout: wait})
	b := c.(blocker)
	blocked, unblocked := make(chan string, 4), make(chan struct{}, 4)
	b.OnBlocked(func(reason string) { blocked <- reason })
	b.OnUnblocked(func() { unblocked <- struct{}{} })
	ch := mustChannel(t, c)
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	node2.SetMemoryAlarm(t, true)
	// Publish until the broker says it blocked us (the first publishes
	// during the alarm are what trigger connection.blocked).
	deadline := time.After(20 * time.Second)
	for len(blocked) == 0 {
		err := ch.Publish("", q.Name, amqp.NewMessage("during the alarm"))
		if err != nil {
			break // already blocked by the time this publish started
		}
		select {
		case <-deadline:
			t.Fatal("OnBlocked did not fire within 20s of the memory alarm")
		case <-time.After(50 * time.Millisecond):
		}
	}
	var perr error
	took := timed(func() { perr = ch.Publish("", q.Name, amqp.NewMessage("waits too long")) })
	assert.ErrorIs(t, perr, amqp.ErrTimeout)
	assert.Contains(t, perr.Error(), "blocked")
	assert.GreaterOrEqual(t, took, wait)
	assert.Less(t, took, wait+2*time.Second)
	node2.SetMemoryAlarm(t, false)
	select {
	case <-unblocked:
	case <-time.After(20 * time.Second):
		t.Fatal("OnUnblocked did not fire")
	}
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("after the alarm")))
}
