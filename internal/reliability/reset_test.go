package reliability_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// isReset reports whether err is a connection reset or a broken pipe, the
// two faces of an RST.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// A connection reset in the middle of a 1 MiB message (the broker got the
// first 300 KiB of it) fails the publisher with amqp.ErrClosed wrapping the
// reset, leaves no partial message in the queue, and does not stop the next
// dial.
func TestResetMidFrame(t *testing.T) {
	forEach(t, func(t *testing.T, d dialect) {
		admin := mustDial(t, d, brokerURL(t), amqp.Config{Timeout: 10 * time.Second})
		adminCh := mustChannel(t, admin)
		q := testbroker.Name(t, "q")
		_, err := adminCh.QueueDeclare(q)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = adminCh.QueueDelete(q) })

		p := proxy(t)
		c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Timeout: 10 * time.Second})
		ch := mustChannel(t, c)
		big := make([]byte, 1<<20)
		for i := range big {
			big[i] = byte(i)
		}
		before := p.Forwarded(faultproxy.Upstream)
		p.CutAfter(faultproxy.Upstream, 300<<10, true) // 300 KiB more, then RST both ways
		start := time.Now()
		err = ch.Publish("", q, amqp.NewMessage(big))
		if err == nil {
			// The kernel took the whole body before the RST came back: the
			// reader reports the reset instead.
			waitDone(t, c, start, 5*time.Second)
			err = ch.Publish("", q, amqp.NewMessage("after the reset"))
		}
		t.Logf("publish: %v; connection: %v", err, c.Err())
		assert.ErrorIs(t, err, amqp.ErrClosed)
		assert.True(t, isReset(err), "the error wraps the reset: %v", err)
		assert.True(t, isReset(c.Err()), "Conn.Err is the reset: %v", c.Err())
		assert.False(t, errors.Is(c.Err(), amqp.ErrTimeout) || errors.Is(c.Err(), amqp.ErrHeartbeatTimeout))
		waitDone(t, c, start, 5*time.Second)
		assert.Equal(t, int64(300<<10), p.Forwarded(faultproxy.Upstream)-before, "the broker got 300 KiB, mid-frame")

		info, err := adminCh.QueueDeclare(q, amqp.QueueOptions{Passive: true})
		require.NoError(t, err)
		assert.Equal(t, 0, info.Messages, "no partial message in the queue")

		// The next dial (same proxy, faults cleared) works, and so does a
		// whole 1 MiB message.
		p.Pass()
		c2 := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{Timeout: 10 * time.Second})
		ch2 := mustChannel(t, c2)
		require.NoError(t, ch2.TxSelect())
		require.NoError(t, ch2.Publish("", q, amqp.NewMessage(big)))
		require.NoError(t, ch2.TxCommit())
		got, ok, err := adminCh.Get(q, amqp.GetOptions{NoAck: true})
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, bytes.Equal(big, got.Body), "the whole message arrives intact")
	})
}

// frameEnds parses a recorded AMQP byte stream (after skipping skip bytes,
// the protocol header) and returns the offset just past each frame.
func frameEnds(t *testing.T, b []byte, skip int) []int64 {
	t.Helper()
	var ends []int64
	off := skip
	for off+7 <= len(b) {
		size := int(binary.BigEndian.Uint32(b[off+3 : off+7]))
		end := off + 7 + size + 1
		require.LessOrEqual(t, end, len(b), "a partial frame in the recording")
		require.Equal(t, byte(0xCE), b[end-1], "frame end")
		ends = append(ends, int64(end))
		off = end
	}
	return ends
}

// handshakeSteps records one successful handshake through a proxy and
// returns where each step ends in each direction.
func handshakeSteps(t *testing.T, d dialect) (up, down []int64) {
	t.Helper()
	p := proxy(t)
	var mu sync.Mutex
	var rec [2]bytes.Buffer
	p.Tap(func(dir faultproxy.Direction, b []byte) {
		mu.Lock()
		rec[dir].Write(b)
		mu.Unlock()
	})
	c, err := d.dial(p.URL(brokerURL(t)), amqp.Config{Heartbeat: amqp.NoHeartbeat})
	require.NoError(t, err)
	mu.Lock()
	upRec, downRec := append([]byte(nil), rec[faultproxy.Upstream].Bytes()...), append([]byte(nil), rec[faultproxy.Downstream].Bytes()...)
	mu.Unlock()
	require.NoError(t, c.Close())
	up = append([]int64{8}, frameEnds(t, upRec, 8)...) // header, start-ok, tune-ok, open
	down = frameEnds(t, downRec, 0)                    // start, tune, open-ok
	require.Len(t, up, 4, "client: header, start-ok, tune-ok, open")
	require.Len(t, down, 3, "broker: start, tune, open-ok")
	return up, down
}

// A connection lost at any step of the handshake gives a typed error
// quickly, never a hang, and the next dial works.
func TestHandshakeDisconnects(t *testing.T) {
	forEach(t, func(t *testing.T, d dialect) {
		up, down := handshakeSteps(t, d)
		t.Logf("client->broker frame ends %v, broker->client frame ends %v", up, down)
		steps := []struct {
			name string
			dir  faultproxy.Direction
			at   int64
			want error
		}{
			{"after the protocol header", faultproxy.Upstream, up[0], amqp.ErrHandshake},
			{"inside connection.start", faultproxy.Downstream, down[0] / 2, amqp.ErrHandshake},
			// The login was sent and the connection dropped. RabbitMQ
			// refuses a bad login with a 403 (authentication_failure_close,
			// on both versions), so this is a lost connection, not ErrAuth.
			{"after connection.start", faultproxy.Downstream, down[0], amqp.ErrHandshake},
			{"after start-ok", faultproxy.Upstream, up[1], amqp.ErrHandshake},
			{"after connection.tune", faultproxy.Downstream, down[1], amqp.ErrHandshake},
			{"after connection.open", faultproxy.Upstream, up[3], amqp.ErrHandshake},
		}
		p := proxy(t)
		for _, st := range steps {
			for _, reset := range []bool{false, true} {
				name := st.name + map[bool]string{false: " (FIN)", true: " (RST)"}[reset]
				t.Run(name, func(t *testing.T) {
					p.Pass()
					p.CutAfter(st.dir, st.at, reset)
					var err error
					took := timed(func() {
						_, err = d.dial(p.URL(brokerURL(t)), amqp.Config{ConnectionTimeout: 5 * time.Second})
					})
					t.Logf("%s: %v", took.Round(time.Millisecond), err)
					require.Error(t, err)
					assert.ErrorIs(t, err, st.want)
					if st.want == amqp.ErrHandshake {
						assert.NotErrorIs(t, err, amqp.ErrAuth, "a lost connection is not a refused login")
					}
					assert.False(t, errors.Is(err, amqp.ErrTimeout), "reported at once, not by the connection timeout")
					assert.False(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "not a bare EOF")
					assert.Less(t, took, 2*time.Second, "never a hang")
					p.Pass()
					c := mustDial(t, d, p.URL(brokerURL(t)), amqp.Config{ConnectionTimeout: 5 * time.Second})
					require.NoError(t, c.Close(), "the next dial works")
				})
			}
		}
	})
}
