package node2_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/node2"
)

func dial(t *testing.T, url string, cfg amqp.Config) *client091.Conn {
	t.Helper()
	c, err := client091.DialConfig(url, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestStartIsIdempotent(t *testing.T) {
	url := node2.Start(t)
	assert.Equal(t, "amqp://guest:guest@127.0.0.1:5682", url)
	assert.NotContains(t, url, ":5672", "never the main broker")
	start := time.Now()
	assert.Equal(t, url, node2.Start(t), "a second Start returns the same node")
	t.Logf("second Start took %s", time.Since(start))
	conn := dial(t, url, amqp.Config{})
	assert.True(t, strings.HasPrefix(conn.ServerVersion(), "RabbitMQ"))
	assert.Greater(t, node2.Pid(t), 1)
}

func TestCtl(t *testing.T) {
	node2.Start(t)
	out := node2.Ctl(t, "eval", "node().")
	assert.Contains(t, out, node2.Name(t))
	_, err := node2.CtlErr("no_such_command")
	assert.Error(t, err)
}

func TestFreezeThaw(t *testing.T) {
	url := node2.Start(t)
	node2.Freeze(t)
	// The kernel still accepts the TCP connection, but the frozen node never
	// sends connection.start.
	_, err := client091.DialConfig(url, amqp.Config{ConnectionTimeout: time.Second})
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrHandshake)
	assert.ErrorIs(t, err, amqp.ErrTimeout)
	node2.Thaw(t)
	dial(t, url, amqp.Config{})
}

func TestCloseAllConnections(t *testing.T) {
	url := node2.Start(t)
	conn := dial(t, url, amqp.Config{})
	node2.CloseAllConnections(t, "node2 test")
	select {
	case <-conn.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed within 10s")
	}
	var ae *amqp.Error
	require.True(t, errors.As(conn.Err(), &ae), "%v", conn.Err())
	assert.Equal(t, amqp.ConnectionForced, ae.Code)
	assert.Contains(t, ae.Text, "node2 test")
}

func TestMemoryAlarm(t *testing.T) {
	node2.Start(t)
	node2.SetMemoryAlarm(t, true)
	assert.Contains(t, node2.Alarms(t), "memory")
	node2.SetMemoryAlarm(t, false)
	assert.Equal(t, "[]", node2.Alarms(t))
}
