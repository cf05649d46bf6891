package reliability_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

const (
	lossTotal    = 10000 // persistent messages to get confirmed
	lossMaxKills = 50    // connection resets while publishing, at most
	lossBatch    = 200   // messages between confirm waits / tx commits
)

// publishConfirmed uses publisher confirms (0-9-1): a message is confirmed
// by its basic.ack; nacked ones are re-sent on the next round.
func publishConfirmed(t *testing.T, c Conn, q string, confirmed []bool) error {
	ch, err := c.Channel()
	if err != nil {
		return err
	}
	conf := ch.(Confirmer)
	if err := conf.ConfirmSelect(); err != nil {
		return err
	}
	ids := map[uint64]int{} // seq → message number, this connection only
	conf.OnConfirm(func(cf amqp.Confirmation) {
		if id, ok := ids[cf.DeliveryTag]; ok && cf.Ack {
			confirmed[id] = true
		}
		delete(ids, cf.DeliveryTag)
	})
	n := 0
	for i := range confirmed {
		if confirmed[i] {
			continue
		}
		msg := amqp.NewMessage(body(i))
		msg.DeliveryMode = amqp.Persistent
		if err := ch.Publish("", q, msg); err != nil {
			dispatch(ch)
			return err
		}
		ids[conf.PublishSeq()] = i
		if n++; n%lossBatch == 0 {
			if err := waitConfirms(ch, conf); err != nil {
				return err
			}
		}
	}
	if err := waitConfirms(ch, conf); err != nil {
		return err
	}
	return c.Close()
}

// waitConfirms waits for every confirm, then runs the OnConfirm callbacks
// of those that arrived, even when the connection died meanwhile. Nacks
// are not an error: those messages are sent again.
func waitConfirms(ch Channel, conf Confirmer) error {
	err := conf.WaitConfirms()
	dispatch(ch)
	if errors.Is(err, amqp.ErrNacked) {
		return nil
	}
	return err
}

// dispatch runs the callbacks of the events already queued on ch; a
// closed channel still hands out what it queued before closing.
func dispatch(ch Channel) {
	for ch.Pending() > 0 && ch.Wait() == nil {
	}
}

// publishTx uses transactions (0-8 has no confirms): a batch is confirmed
// when tx.commit-ok arrives.
func publishTx(t *testing.T, c Conn, q string, confirmed []bool) error {
	ch, err := c.Channel()
	if err != nil {
		return err
	}
	if err := ch.TxSelect(); err != nil {
		return err
	}
	var batch []int
	commit := func() error {
		if err := ch.TxCommit(); err != nil {
			return err
		}
		for _, i := range batch {
			confirmed[i] = true
		}
		batch = batch[:0]
		return nil
	}
	for i := range confirmed {
		if confirmed[i] {
			continue
		}
		msg := amqp.NewMessage(body(i))
		msg.DeliveryMode = amqp.Persistent
		if err := ch.Publish("", q, msg); err != nil {
			return err
		}
		if batch = append(batch, i); len(batch) == lossBatch {
			if err := commit(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		if err := commit(); err != nil {
			return err
		}
	}
	return c.Close()
}

// Nothing confirmed is lost: 10,000 persistent messages go to a durable
// queue while the connection is reset at random points; the publisher
// reconnects and re-sends whatever was not confirmed. Afterwards a consumer
// with manual acks finds every body (duplicates allowed: a message whose
// confirm was lost with the connection is sent twice).
func TestNothingConfirmedIsLost(t *testing.T) {
	forEach(t, func(t *testing.T, d dialect) {
		publish := publishTx
		if d.confirms {
			publish = publishConfirmed
		}
		admin := mustDial(t, d, brokerURL(t), amqp.Config{Timeout: 30 * time.Second})
		adminCh := mustChannel(t, admin)
		q := testbroker.Name(t, "q")
		_, err := adminCh.QueueDeclare(q, amqp.QueueOptions{Durable: true})
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = adminCh.QueueDelete(q) })

		p := proxy(t)
		var done atomic.Bool
		var kills atomic.Int32
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the killer: resets live connections at random moments
			defer wg.Done()
			for i := 0; i < lossMaxKills && !done.Load(); i++ {
				time.Sleep(time.Duration(5+rand.IntN(60)) * time.Millisecond) // a random point in time
				if p.Conns() > 0 {
					p.Reset()
					kills.Add(1)
				}
			}
		}()
		defer func() { done.Store(true); wg.Wait() }()

		confirmed := make([]bool, lossTotal)
		rounds := 0
		deadline := time.Now().Add(2 * time.Minute)
		for {
			count := 0
			for _, ok := range confirmed {
				if ok {
					count++
				}
			}
			if count == lossTotal {
				break
			}
			require.True(t, time.Now().Before(deadline), "only %d of %d confirmed after 2 minutes", count, lossTotal)
			rounds++
			c, err := d.dial(p.URL(brokerURL(t)), amqp.Config{Timeout: 10 * time.Second, ConnectionTimeout: 10 * time.Second})
			if err != nil {
				continue // killed during the handshake
			}
			err = publish(t, c, q, confirmed)
			_ = c.Close()
			if err != nil {
				assert.True(t, isReset(err) || errors.Is(err, amqp.ErrClosed), "a killed connection gives a reset or ErrClosed: %v", err)
			}
		}
		done.Store(true)
		wg.Wait()
		t.Logf("%s: %d connections, %d resets", d.name, rounds, kills.Load())
		assert.GreaterOrEqual(t, kills.Load(), int32(5), "the connection was killed several times while publishing")

		// Read everything back with manual acks.
		info, err := adminCh.QueueDeclare(q, amqp.QueueOptions{Passive: true})
		require.NoError(t, err)
		require.GreaterOrEqual(t, info.Messages, lossTotal, "every confirmed message is in the queue")
		seen := make([]bool, lossTotal)
		got := 0
		require.NoError(t, adminCh.Qos(1000))
		_, err = adminCh.Consume(q, func(dl *amqp.Delivery) {
			var i int
			if _, err := parseBody(dl.Body, &i); err == nil && i >= 0 && i < lossTotal {
				seen[i] = true
			} else {
				t.Errorf("unexpected body %q", dl.Body)
			}
			got++
			assert.NoError(t, adminCh.Ack(dl.DeliveryTag))
		})
		require.NoError(t, err)
		for got < info.Messages {
			require.NoError(t, adminCh.WaitTimeout(10*time.Second), "consumed %d of %d", got, info.Messages)
		}
		missing := 0
		for i, ok := range seen {
			if !ok {
				if missing < 5 {
					t.Errorf("confirmed message %s is missing", body(i))
				}
				missing++
			}
		}
		assert.Zero(t, missing, "confirmed messages lost")
		t.Logf("%s: %d messages read back for %d sent (%d duplicates)", d.name, got, lossTotal, got-lossTotal)
	})
}

// parseBody reads the number out of a body made by body().
func parseBody(b []byte, i *int) (int, error) {
	const prefix = "msg-"
	if len(b) <= len(prefix) || string(b[:len(prefix)]) != prefix {
		return 0, errors.New("no prefix")
	}
	n := 0
	for _, c := range b[len(prefix):] {
		if c < '0' || c > '9' {
			return 0, errors.New("not a number")
		}
		n = n*10 + int(c-'0')
	}
	*i = n
	return 1, nil
}
