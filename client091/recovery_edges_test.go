package client091_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// OnQueueRenamed names the queue the program knew, even when a failed
// attempt of the same recovery (here OnConnect fails once) had renamed it
// already.
func TestBrokerRecoveryRenameAfterFailedAttempt(t *testing.T) {
	var n atomic.Int32
	conn, _, p := recoveringAdmin(t, client091.OnConnect(func(*client091.Conn) error {
		if n.Add(1) == 2 { // the first recovery attempt
			return errors.New("not yet")
		}
		return nil
	}))
	renames := make(chan [2]string, 4)
	conn.OnQueueRenamed(func(old, name string) { renames <- [2]string{old, name} })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)

	p.Reset()
	next(t, ups, "OnRecovered")
	require.EqualValues(t, 3, n.Load())
	r := next(t, renames, "OnQueueRenamed")
	assert.Equal(t, q.Name, r[0], "OnQueueRenamed(old, new) must name the queue the program knows")
}

// Arguments are recorded as they were sent: a program reusing its table
// for the next declaration does not change what recovery declares.
func TestBrokerRecoveryArgumentsCopied(t *testing.T) {
	conn, admin, p := recoveringAdmin(t)
	failures := make(chan *amqp.TopologyError, 4)
	conn.OnTopologyError(func(err *amqp.TopologyError) { failures <- err })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	q1, q2 := testbroker.Name(t, "args1"), testbroker.Name(t, "args2")
	t.Cleanup(func() {
		_ = admin.WithChannel(func(ch *client091.Channel) error {
			_, _ = ch.QueueDelete(q1)
			_, err := ch.QueueDelete(q2)
			return err
		})
	})
	ch, err := conn.Channel()
	require.NoError(t, err)
	args := amqp.Table{"x-max-length": int32(5)}
	_, err = ch.QueueDeclare(q1, amqp.QueueOptions{Arguments: args})
	require.NoError(t, err)
	args["x-max-length"] = int32(7) // reused for the next queue
	_, err = ch.QueueDeclare(q2, amqp.QueueOptions{Arguments: args})
	require.NoError(t, err)

	p.Reset()
	next(t, ups, "OnRecovered")
	select {
	case f := <-failures:
		t.Fatalf("recovery declared %s with the table as it is now, not as it was: %v", q1, f)
	default:
	}
}

// Cancels on one channel while the recovery replays renamed consumers on
// another do not race with the replay (run with -race).
func TestBrokerRecoveryCancelDuringReplay(t *testing.T) {
	conn, admin, p := recoveringAdmin(t)
	downs := make(chan struct{}, 4)
	conn.OnDisconnect(func(error) { downs <- struct{}{} })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	other, shared := testbroker.Name(t, "race-other"), testbroker.Name(t, "race-shared")
	t.Cleanup(func() {
		_ = admin.WithChannel(func(ch *client091.Channel) error {
			_, _ = ch.QueueDelete(other)
			_, err := ch.QueueDelete(shared)
			return err
		})
	})
	a, err := conn.Channel() // replayed first: the renamed consumer, then many more
	require.NoError(t, err)
	q, err := a.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	_, err = a.QueueDeclare(other)
	require.NoError(t, err)
	_, err = a.QueueDeclare(shared)
	require.NoError(t, err)
	_, err = a.Consume(q.Name, func(*amqp.Delivery) {}, amqp.ConsumeOptions{NoAck: true})
	require.NoError(t, err)
	for i := 0; i < 150; i++ {
		_, err = a.Consume(other, func(*amqp.Delivery) {}, amqp.ConsumeOptions{NoAck: true})
		require.NoError(t, err)
	}
	e, err := conn.Channel()
	require.NoError(t, err)
	var tags []string
	for i := 0; i < 150; i++ {
		tag, err := e.Consume(shared, func(*amqp.Delivery) {}, amqp.ConsumeOptions{NoAck: true, Tag: fmt.Sprintf("s%d", i)})
		require.NoError(t, err)
		tags = append(tags, tag)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-downs
		for _, tag := range tags[:len(tags)-1] { // shared stays in use: no topology.mu
			select {
			case <-stop:
				return
			default:
			}
			_ = e.Cancel(tag)
			time.Sleep(time.Millisecond)
		}
	}()
	p.Reset()
	next(t, ups, "OnRecovered")
	close(stop)
	<-done
}

// The on-connect hook's Conn does not hand out the program's channels,
// which the recovery is restoring with their ids: ChannelID of such an id
// fails in the hook (which may go on), and the recovery completes.
func TestBrokerRecoveryOnConnectChannelID(t *testing.T) {
	var calls atomic.Int32
	refused := make(chan error, 4)
	conn, _, p := recoveringAdmin(t, client091.OnConnect(func(c *client091.Conn) error {
		if calls.Add(1) == 1 {
			return nil // the first connection: the program has no channel yet
		}
		ch, err := c.ChannelID(1)
		if err == nil {
			ch.Close()
		}
		refused <- err
		return nil
	}))
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.EqualValues(t, 1, ch.ID())
	p.Reset()
	err = next(t, refused, "the hook's ChannelID")
	require.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "in use")
	next(t, ups, "OnRecovered")
	_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err, "the program's channel 1 works")
}

// An auto-delete exchange the broker dropped with its last binding is not
// declared again, nor its binding to another exchange: nothing reported.
func TestBrokerRecoveryAutoDeleteCascade(t *testing.T) {
	conn, admin, p := recoveringAdmin(t)
	failures := make(chan *amqp.TopologyError, 4)
	conn.OnTopologyError(func(err *amqp.TopologyError) { failures <- err })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	src, ad, q := testbroker.Name(t, "cas-src"), testbroker.Name(t, "cas-ad"), testbroker.Name(t, "cas-q")
	t.Cleanup(func() {
		_ = admin.WithChannel(func(ch *client091.Channel) error {
			_, _ = ch.QueueDelete(q)
			return ch.ExchangeDelete(src)
		})
	})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.ExchangeDeclare(src, "fanout"))
	require.NoError(t, ch.ExchangeDeclare(ad, "fanout", amqp.ExchangeOptions{AutoDelete: true}))
	require.NoError(t, ch.ExchangeBind(ad, src, ""))
	_, err = ch.QueueDeclare(q)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(q, ad, ""))
	require.NoError(t, ch.QueueUnbind(q, ad, ""))
	err = admin.WithChannel(func(ach *client091.Channel) error {
		return ach.ExchangeDeclare(ad, "fanout", amqp.ExchangeOptions{Passive: true})
	})
	require.ErrorIs(t, err, amqp.ErrNotFound, "the broker deleted the auto-delete exchange")

	p.Reset()
	next(t, ups, "OnRecovered")
	select {
	case f := <-failures:
		t.Fatalf("recovery declared a binding the broker had dropped: %v", f)
	default:
	}
}

// A recorded binding to a queue that the on-connect hook declares is
// restored: bindings are declared after the hook.
func TestBrokerRecoveryBindingToHookQueue(t *testing.T) {
	hooked := testbroker.Name(t, "hooked-b")
	conn, _, p := recoveringAdmin(t, client091.OnConnect(func(c *client091.Conn) error {
		return c.WithChannel(func(ch *client091.Channel) error {
			_, err := ch.QueueDeclare(hooked, amqp.QueueOptions{Exclusive: true})
			return err
		})
	}))
	failures := make(chan *amqp.TopologyError, 4)
	conn.OnTopologyError(func(err *amqp.TopologyError) { failures <- err })
	ups := make(chan struct{}, 4)
	conn.OnRecovered(func() { ups <- struct{}{} })
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(hooked, "amq.fanout", ""))
	p.Reset()
	next(t, ups, "OnRecovered")
	select {
	case f := <-failures:
		t.Fatalf("binding to the hook's queue lost: %v", f)
	default:
	}
}

// recovery=true in the URL turns recovery on with the default policy.
func TestBrokerRecoveryFromURL(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	p := faultproxy.New(t, uri.Addr())
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	conn, err := client091.Dial(p.URL(url) + sep + "recovery=true")
	require.NoError(t, err)
	defer conn.Close()
	ups := make(chan struct{}, 1)
	conn.OnRecovered(func() { ups <- struct{}{} })
	p.Reset()
	next(t, ups, "a recovery")
	assert.Equal(t, "open", conn.State())
}
