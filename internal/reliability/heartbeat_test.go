package reliability_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/node2"
)

// A frozen broker (node2's beam.smp under SIGSTOP) keeps its sockets open and
// says nothing: only heartbeats can tell. With a 2 s heartbeat the client
// must report it within 2×heartbeat + 1 s, as amqp.ErrHeartbeatTimeout,
// whatever it was doing.
func TestFrozenBrokerHeartbeat(t *testing.T) {
	const hb = 2 * time.Second
	const bound = 2*hb + time.Second
	cfg := amqp.Config{Heartbeat: hb, Timeout: 10 * time.Second} // Timeout well above the bound

	type scenario struct {
		name string
		// run sets the scenario up, freezes the node (by calling freeze,
		// which returns the time of the freeze) and returns the error of
		// the call in progress, if there is one.
		run func(t *testing.T, c Conn, freeze func() time.Time) (call <-chan result, frozenAt time.Time)
	}
	scenarios := []scenario{
		{"right after the handshake", func(t *testing.T, c Conn, freeze func() time.Time) (<-chan result, time.Time) {
			return nil, freeze()
		}},
		{"idle", func(t *testing.T, c Conn, freeze func() time.Time) (<-chan result, time.Time) {
			ch := mustChannel(t, c)
			_, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
			require.NoError(t, err)
			time.Sleep(hb + hb/2) // idle past one interval: heartbeats keep it open
			require.Equal(t, "open", c.State(), "an idle connection with heartbeats stays open")
			return nil, freeze()
		}},
		{"mid-publish", func(t *testing.T, c Conn, freeze func() time.Time) (<-chan result, time.Time) {
			ch := mustChannel(t, c)
			q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
			require.NoError(t, err)
			started := make(chan struct{})
			var once sync.Once
			call := async(func() error {
				defer once.Do(func() { close(started) })
				msg := amqp.NewMessage(make([]byte, 1024))
				for i := 0; ; i++ {
					if i == 100 {
						once.Do(func() { close(started) })
					}
					if err := ch.Publish("", q.Name, msg); err != nil {
						return err
					}
				}
			})
			<-started
			return call, freeze()
		}},
		{"mid-RPC", func(t *testing.T, c Conn, freeze func() time.Time) (<-chan result, time.Time) {
			ch := mustChannel(t, c)
			at := freeze()
			// queue.declare goes out to the frozen broker and waits.
			call := async(func() error {
				_, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
				return err
			})
			return call, at
		}},
	}
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			for _, sc := range scenarios {
				if d.name == "0-8" && (sc.name == "idle" || sc.name == "mid-publish") {
					continue // the engine is shared: two scenarios suffice for 0-8
				}
				t.Run(sc.name, func(t *testing.T) {
					url := node2.Start(t)
					c := mustDial(t, d, url, cfg)
					require.Equal(t, hb, c.Heartbeat())
					freeze := func() time.Time {
						node2.Freeze(t)
						return time.Now()
					}
					call, frozenAt := sc.run(t, c, freeze)
					took := waitDone(t, c, frozenAt, bound+5*time.Second)
					t.Logf("heartbeat timeout reported %s after the freeze: %v", took.Round(time.Millisecond), c.Err())
					assert.LessOrEqual(t, took, bound, "reported within 2×heartbeat + 1 s")
					assert.ErrorIs(t, c.Err(), amqp.ErrHeartbeatTimeout)
					if call != nil {
						r := await(t, call, bound+5*time.Second, "the call in progress")
						assert.LessOrEqual(t, r.at.Sub(frozenAt), bound, "the call in progress returns within 2×heartbeat + 1 s")
						assert.ErrorIs(t, r.err, amqp.ErrHeartbeatTimeout, "the call's error wraps the heartbeat timeout")
						assert.ErrorIs(t, r.err, amqp.ErrClosed)
						assert.False(t, errors.Is(r.err, amqp.ErrTimeout), "not a call timeout: %v", r.err)
					}
					// Later calls say why the connection is gone.
					_, err := c.Channel()
					assert.ErrorIs(t, err, amqp.ErrClosed)
					assert.ErrorIs(t, err, amqp.ErrHeartbeatTimeout)
					node2.Thaw(t)
				})
			}
		})
	}
}
