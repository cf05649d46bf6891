package reliability_test

import (
	"net/url"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int { return testbroker.OpenFDs(t) }

// settles waits (bounded) until the goroutine and descriptor counts are back
// at or below the baseline, and fails with a goroutine dump otherwise.
func settles(t *testing.T, goroutines, fds int) {
	testbroker.Settles(t, goroutines, fds, 10*time.Second)
}

// baseline warms up (one connection, so lazily started runtime and resolver
// goroutines exist) and returns the goroutine and descriptor counts.
func baseline(t *testing.T, d dialect) (int, int) {
	t.Helper()
	c, err := d.dial(brokerURL(t), amqp.Config{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	return runtime.NumGoroutine(), openFDs(t)
}

// 1,000 open/close cycles (connection and channel) leave no goroutine and
// no file descriptor behind.
func TestNoLeakOpenClose(t *testing.T) {
	const cycles = 1000
	forEach(t, func(t *testing.T, d dialect) {
		g0, f0 := baseline(t, d)
		url := brokerURL(t)
		for i := 0; i < cycles; i++ {
			c, err := d.dial(url, amqp.Config{Timeout: 10 * time.Second})
			require.NoError(t, err, "cycle %d", i)
			ch, err := c.Channel()
			require.NoError(t, err, "cycle %d", i)
			require.NoError(t, ch.Close(), "cycle %d", i)
			require.NoError(t, c.Close(), "cycle %d", i)
		}
		settles(t, g0, f0)
	})
}

// 2,047 channels (RabbitMQ's channel_max) on one connection, opened and
// closed, leave nothing behind either; nor does closing the connection with
// all of them open.
func TestNoLeakManyChannels(t *testing.T) {
	forEach(t, func(t *testing.T, d dialect) {
		g0, f0 := baseline(t, d)
		c, err := d.dial(brokerURL(t), amqp.Config{Timeout: 10 * time.Second})
		require.NoError(t, err)
		for round := 0; round < 2; round++ {
			chans := make([]Channel, 0, 2047)
			for i := 0; i < 2047; i++ {
				ch, err := c.Channel()
				require.NoError(t, err, "channel %d", i+1)
				chans = append(chans, ch)
			}
			_, err = c.Channel()
			require.ErrorIs(t, err, amqp.ErrInvalidArgument, "channel 2048 is refused before anything is sent")
			if round == 0 {
				for _, ch := range chans {
					require.NoError(t, ch.Close())
				}
			}
		}
		require.NoError(t, c.Close()) // with 2,047 channels open
		settles(t, g0, f0)
	})
}

// Connections that fail or die leave nothing behind: dials reset on accept,
// dials cut after connection.start, refused logins, and open connections
// reset under a busy channel.
func TestNoLeakFailures(t *testing.T) {
	const n = 100
	forEach(t, func(t *testing.T, d dialect) {
		g0, f0 := baseline(t, d)
		p := proxy(t)
		purl := p.URL(brokerURL(t))
		cfg := amqp.Config{Timeout: 5 * time.Second, ConnectionTimeout: 5 * time.Second}

		p.SetMode(faultproxy.Reset)
		for i := 0; i < n; i++ {
			_, err := d.dial(purl, cfg)
			require.Error(t, err)
		}
		p.Pass()
		for i := 0; i < n; i++ {
			p.CutAfter(faultproxy.Downstream, 200, false) // inside connection.start
			_, err := d.dial(purl, cfg)
			require.ErrorIs(t, err, amqp.ErrHandshake)
			p.Pass()
		}
		u, err := url.Parse(brokerURL(t))
		require.NoError(t, err)
		u.User = url.UserPassword(u.User.Username(), "wrong-password")
		for i := 0; i < n/4; i++ {
			_, err := d.dial(u.String(), cfg)
			require.ErrorIs(t, err, amqp.ErrAuth)
		}
		for i := 0; i < n; i++ {
			c, err := d.dial(purl, cfg)
			require.NoError(t, err)
			ch, err := c.Channel()
			require.NoError(t, err)
			_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
			require.NoError(t, err)
			waiting := async(ch.Wait)
			p.Reset()
			r := await(t, waiting, 5*time.Second, "Wait on a reset connection")
			require.ErrorIs(t, r.err, amqp.ErrClosed)
			<-c.Done()
			require.NoError(t, c.Close())
		}
		require.NoError(t, p.Close())
		settles(t, g0, f0)
	})
}
