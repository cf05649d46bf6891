package reliability_test

// Regression tests for library bugs this suite found (both fixed).

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client08"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
)

// Fixed bug: amqplib/channel.go, (*Conn).Channel: when channel.open times out,
// Call has already abandoned the channel (channel.close sent, id kept until
// close-ok), but Channel then calls ch.closed(err, true), which frees the id
// at once. Reopening the same id (ChannelID, or Channel after the ids wrap
// around) sends a second channel.open before the broker's close-ok: the
// stale open-ok answers it, the stale close-ok then closes the new channel,
// and RabbitMQ closes the whole connection with 504 CHANNEL_ERROR "second
// 'channel.open' seen". Expected: the id stays taken until close-ok (a
// reopen fails with an error, or waits), and the connection survives.
func TestChannelIDKeptUntilCloseOK(t *testing.T) {
	type reopener interface {
		Channel(id uint16) error
		Close() error
		Err() error
		State() string
	}
	dials := map[string]func(url string, cfg amqp.Config) (reopener, error){
		"0-9-1": func(url string, cfg amqp.Config) (reopener, error) {
			c, err := client091.DialConfig(url, cfg)
			if err != nil {
				return nil, err
			}
			return reopen091{c}, nil
		},
		"0-8": func(url string, cfg amqp.Config) (reopener, error) {
			c, err := client08.DialConfig(url, cfg)
			if err != nil {
				return nil, err
			}
			return reopen08{c}, nil
		},
	}
	for name, dial := range dials {
		t.Run(name, func(t *testing.T) {
			p := faultproxy.New(t, brokerAddr(t))
			c, err := dial(p.URL(brokerURL(t)), amqp.Config{Timeout: time.Second})
			require.NoError(t, err)
			defer c.Close()
			p.BlackHole()
			require.ErrorIs(t, c.Channel(5), amqp.ErrTimeout)
			p.Pass()
			_ = c.Channel(5) // an error ("still closing") is fine; killing the connection is not
			// A round trip on another channel: the broker has seen everything
			// sent before it.
			require.NoError(t, c.Channel(6), "the connection survives the reopen: %v", c.Err())
			assert.Equal(t, "open", c.State(), "connection error: %v", c.Err())
		})
	}
}

type reopen091 struct{ *client091.Conn }

func (c reopen091) Channel(id uint16) error {
	ch, err := c.ChannelID(id)
	if err != nil {
		return err
	}
	_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	return err
}

type reopen08 struct{ *client08.Conn }

func (c reopen08) Channel(id uint16) error {
	ch, err := c.ChannelID(id)
	if err != nil {
		return err
	}
	_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	return err
}

// Questionable (a judgement call for the lead): amqplib/dial.go,
// (*handshake).fail maps an EOF or reset after start-ok to amqp.ErrAuth
// ("wrong user name or password"). The client always asks for
// authentication_failure_close, and a 0-9-1 RabbitMQ announces it in
// connection.start: such a broker refuses a login with a 403 close, never a
// bare drop. A network drop after the login is then reported as a bad
// password. Expected: ErrHandshake when the broker announced the capability.
func TestDropAfterLoginIsNotAnAuthFailure(t *testing.T) {
	up, down := handshakeSteps(t, v091)
	p := faultproxy.New(t, brokerAddr(t))
	for _, cut := range []faultproxy.Cut{{Dir: faultproxy.Downstream, N: down[0]}, {Dir: faultproxy.Upstream, N: up[1]}} {
		p.Pass()
		p.CutAfter(cut.Dir, cut.N, false)
		_, err := client091.DialConfig(p.URL(brokerURL(t)), amqp.Config{ConnectionTimeout: 5 * time.Second})
		assert.ErrorIs(t, err, amqp.ErrHandshake, "cut %v after %d bytes", cut.Dir, cut.N)
		assert.NotErrorIs(t, err, amqp.ErrAuth, "a network drop is not a refused login")
	}
}
