package reliability_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
)

// When a busy connection ends (Close, a reset, or Close on a black-holed
// network) every call in flight on every goroutine returns within
// Timeout + 1 s with an error matching amqp.ErrClosed or amqp.ErrTimeout,
// and the race detector sees nothing.
func TestCallsInFlightWhenTheConnectionEnds(t *testing.T) {
	const timeout = time.Second
	forEach(t, func(t *testing.T, d dialect) {
		for _, end := range []string{"Close", "reset", "Close on a black hole"} {
			t.Run(end, func(t *testing.T) {
				p := proxy(t)
				c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Timeout: timeout})
				var wg sync.WaitGroup
				var running sync.WaitGroup
				errs := make(chan error, 8)
				for g := 0; g < 6; g++ {
					ch := mustChannel(t, c)
					q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
					require.NoError(t, err)
					wg.Add(1)
					running.Add(1)
					go func() {
						defer wg.Done()
						big := amqp.NewMessage(make([]byte, 200<<10))
						for i := 0; ; i++ {
							if i == 20 {
								running.Done()
							}
							var err error
							switch i % 4 {
							case 0:
								_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
							case 1:
								err = ch.Publish("", q.Name, amqp.NewMessage("small"))
							case 2:
								_, _, err = ch.Get(q.Name, amqp.GetOptions{NoAck: true})
							case 3:
								err = ch.Publish("", q.Name, big)
							}
							if err != nil {
								if i < 20 {
									running.Done()
								}
								errs <- err
								return
							}
						}
					}()
				}
				running.Wait() // every worker is busy
				start := time.Now()
				switch end {
				case "Close":
					assert.NoError(t, c.Close())
				case "reset":
					p.Reset()
				case "Close on a black hole":
					p.BlackHole()
					assert.ErrorIs(t, c.Close(), amqp.ErrTimeout)
				}
				done := make(chan struct{})
				go func() { wg.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(timeout + 5*time.Second):
					t.Fatal("calls in flight did not return")
				}
				assert.LessOrEqual(t, time.Since(start), timeout+time.Second, "every call returns within Timeout + 1 s")
				close(errs)
				for err := range errs {
					assert.True(t, errors.Is(err, amqp.ErrClosed) || errors.Is(err, amqp.ErrTimeout), "typed: %v", err)
				}
			})
		}
	})
}
