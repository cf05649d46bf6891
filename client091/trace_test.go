package client091_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

func TestBrokerTraceHidesPassword(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	trace := func(l string) { mu.Lock(); lines = append(lines, l); mu.Unlock() }
	conn, err := client091.DialConfig(testbroker.URL(t), amqp.Config{Trace: trace})
	require.NoError(t, err)
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.Publish("", q.Name, amqp.NewMessage("traced")))
	_, _, err = ch.Get(q.Name)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	mu.Lock()
	all := strings.Join(lines, "\n")
	mu.Unlock()
	for _, want := range []string{"-> ch 0 connection.start-ok (login response hidden)", "<- ch 0 connection.tune",
		"-> ch 1 queue.declare", "<- ch 1 queue.declare-ok", "-> ch 1 basic.publish", "<- ch 1 basic.get-ok",
		"<- ch 1 content body, 6 bytes", "<- ch 0 connection.close-ok"} {
		assert.Contains(t, all, want)
	}
	u, err := amqp.ParseURI(testbroker.URL(t))
	require.NoError(t, err)
	assert.NotContains(t, all, "\x00"+u.Password, "the PLAIN response never appears")
}

func TestBrokerLogfReportsDroppedReturn(t *testing.T) {
	var mu sync.Mutex
	var logged []string
	conn, err := client091.DialConfig(testbroker.URL(t), amqp.Config{Logf: func(f string, a ...any) {
		mu.Lock()
		logged = append(logged, f)
		mu.Unlock()
	}})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", testbroker.Name(t, "nowhere"), amqp.NewMessage("x"), amqp.PublishOptions{Mandatory: true}))
	require.Equal(t, 1, ch.Pending(), "the return is queued before the confirm")
	require.NoError(t, ch.Wait())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, logged, 1)
	assert.Contains(t, logged[0], "no OnReturn callback")
}
