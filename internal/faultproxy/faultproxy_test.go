package faultproxy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp/internal/faultproxy"
)

// server is a TCP server running handle for every connection.
type server struct {
	ln net.Listener
	wg sync.WaitGroup
}

func newServer(t *testing.T, handle func(c net.Conn)) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s
}

func (s *server) addr() string { return s.ln.Addr().String() }

func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// sink records everything a connection sends until EOF or an error.
type sink struct {
	mu   sync.Mutex
	got  []byte
	ends chan error
}

func newSink() *sink { return &sink{ends: make(chan error, 16)} }

func (s *sink) handle(c net.Conn) {
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		s.mu.Lock()
		s.got = append(s.got, buf[:n]...)
		s.mu.Unlock()
		if err != nil {
			s.ends <- err
			return
		}
	}
}

func (s *sink) bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.got...)
}

func (s *sink) waitEnd(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.ends:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("the target connection did not end within 5s")
		return nil
	}
}

func dial(t *testing.T, p *faultproxy.Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func roundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, msg, string(buf))
}

// readEnd reads until the connection ends and returns what came and how it
// ended.
func readEnd(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			require.False(t, errors.Is(err, os.ErrDeadlineExceeded), "the connection did not end within 5s")
			return got, err
		}
	}
}

func TestPass(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	c := dial(t, p)
	roundTrip(t, c, "hello")
	roundTrip(t, c, "again")
	assert.Equal(t, int64(10), p.Forwarded(faultproxy.Upstream))
	assert.Equal(t, int64(10), p.Forwarded(faultproxy.Downstream))
	assert.Equal(t, int64(1), p.Accepted())
	assert.Equal(t, 1, p.Conns())
}

func TestURL(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	assert.Equal(t, "amqp://u:p@"+p.Addr()+"/vh?heartbeat=2", p.URL("amqp://u:p@localhost:5672/vh?heartbeat=2"))
	assert.Equal(t, "amqp://guest:guest@"+p.Addr(), p.URL("amqp://guest:guest@localhost:5672"))
}

func TestBlackHoleHoldsLiveDataUntilPass(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	c := dial(t, p)
	roundTrip(t, c, "before")
	p.BlackHole()
	assert.Equal(t, faultproxy.BlackHole, p.Mode())
	_, err := c.Write([]byte("held"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	n, err := c.Read(make([]byte, 10))
	assert.Equal(t, 0, n)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded, "a black hole forwards nothing and does not close")
	p.Pass()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.Equal(t, "held", string(buf))
}

func TestBlackHoleNewConnection(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	p.BlackHole()
	c := dial(t, p) // accepted
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	p.Pass()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	buf := make([]byte, 1)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	roundTrip(t, c, "y")
}

func TestResetLiveConnections(t *testing.T) {
	s := newSink()
	p := faultproxy.New(t, newServer(t, s.handle).addr())
	c := dial(t, p)
	_, err := c.Write([]byte("abc"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(s.bytes()) == 3 }, 5*time.Second, 5*time.Millisecond)
	p.Reset()
	_, err = readEnd(t, c)
	assert.ErrorIs(t, err, syscall.ECONNRESET, "the client side gets an RST")
	assert.ErrorIs(t, s.waitEnd(t), syscall.ECONNRESET, "the broker side gets an RST")
	require.Eventually(t, func() bool { return p.Conns() == 0 }, 5*time.Second, 5*time.Millisecond)
	// New connections still pass.
	c2 := dial(t, p)
	_, err = c2.Write([]byte("d"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return string(s.bytes()) == "abcd" }, 5*time.Second, 5*time.Millisecond)
}

func TestResetMode(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	live := dial(t, p)
	roundTrip(t, live, "a")
	p.SetMode(faultproxy.Reset)
	_, err := readEnd(t, live)
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err == nil { // else the RST beat the end of connect
		defer c.Close()
		_, err = readEnd(t, c)
	}
	assert.ErrorIs(t, err, syscall.ECONNRESET, "new connections are reset on accept")
	p.Pass()
	roundTrip(t, dial(t, p), "b")
}

func TestCutUpstreamFromStart(t *testing.T) {
	s := newSink()
	p := faultproxy.New(t, newServer(t, s.handle).addr())
	p.CutAfter(faultproxy.Upstream, 10, false)
	c := dial(t, p)
	msg := bytes.Repeat([]byte("0123456789"), 10)
	_, err := c.Write(msg)
	require.NoError(t, err)
	assert.ErrorIs(t, s.waitEnd(t), io.EOF, "a normal close after the cut")
	assert.Equal(t, msg[:10], s.bytes(), "exactly N bytes reach the broker")
	_, err = readEnd(t, c)
	assert.Error(t, err)
	assert.Equal(t, int64(10), p.Forwarded(faultproxy.Upstream))

	p.Pass() // clears the cut for new connections
	c2 := dial(t, p)
	_, err = c2.Write(msg)
	require.NoError(t, err)
	require.NoError(t, c2.Close())
	assert.ErrorIs(t, s.waitEnd(t), io.EOF)
	assert.Len(t, s.bytes(), 110)
}

func TestCutDownstreamWithReset(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 100)
	srv := newServer(t, func(c net.Conn) {
		_, _ = c.Write(data)
		_, _ = io.Copy(io.Discard, c)
	})
	p := faultproxy.New(t, srv.addr())
	p.CutAfter(faultproxy.Downstream, 30, true)
	// On loopback the reset can beat the end of connect(): then the dial
	// itself reports it, which is the same fault seen earlier.
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
		var got []byte
		got, err = readEnd(t, c)
		assert.LessOrEqual(t, len(got), 30, "never more than N bytes")
	}
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	assert.Eventually(t, func() bool { return p.Forwarded(faultproxy.Downstream) == 30 }, 5*time.Second, 5*time.Millisecond)
}

func TestCutLiveConnectionStopsBothDirections(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	c := dial(t, p)
	roundTrip(t, c, "0123456789")
	p.CutAfter(faultproxy.Upstream, 5, false) // 5 more bytes from now
	_, err := c.Write([]byte("abcdefghij"))
	require.NoError(t, err)
	got, err := readEnd(t, c)
	assert.Error(t, err)
	assert.Empty(t, got, "after the cut nothing comes back, not even the echo of the 5 bytes")
	assert.Equal(t, int64(15), p.Forwarded(faultproxy.Upstream))
}

func TestLatency(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	c := dial(t, p)
	roundTrip(t, c, "warm")
	const d = 150 * time.Millisecond
	p.SetLatency(d)
	start := time.Now()
	roundTrip(t, c, "slow")
	assert.GreaterOrEqual(t, time.Since(start), 2*d, "delayed once each way")
	// Latency does not accumulate over chunks sent back to back.
	start = time.Now()
	for i := 0; i < 5; i++ {
		_, err := c.Write([]byte("z"))
		require.NoError(t, err)
		time.Sleep(10 * time.Millisecond) // separate chunks: let time pass
	}
	buf := make([]byte, 5)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err := io.ReadFull(c, buf)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 2*d)
	p.SetLatency(0)
	roundTrip(t, c, "fast")
}

func TestTap(t *testing.T) {
	p := faultproxy.New(t, newServer(t, echo).addr())
	var mu sync.Mutex
	seen := map[faultproxy.Direction]string{}
	p.Tap(func(dir faultproxy.Direction, b []byte) {
		mu.Lock()
		seen[dir] += string(b)
		mu.Unlock()
	})
	c := dial(t, p)
	roundTrip(t, c, "tapped")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "tapped", seen[faultproxy.Upstream])
	assert.Equal(t, "tapped", seen[faultproxy.Downstream])
}

func TestHalfClosePassesFIN(t *testing.T) {
	s := newSink()
	p := faultproxy.New(t, newServer(t, s.handle).addr())
	c := dial(t, p)
	_, err := c.Write([]byte("bye"))
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	assert.ErrorIs(t, s.waitEnd(t), io.EOF)
	assert.Equal(t, "bye", string(s.bytes()))
}

func TestCloseCleansUp(t *testing.T) {
	target := newServer(t, echo).addr()
	before := runtime.NumGoroutine()
	p, err := faultproxy.Start(target)
	require.NoError(t, err)
	c1, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c1.Close()
	roundTrip(t, c1, "a")
	p.BlackHole() // a pump waiting in the black hole must end too
	c2, err := net.Dial("tcp", p.Addr())
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Write([]byte("held"))
	require.NoError(t, err)
	p.SetLatency(time.Hour)
	require.Eventually(t, func() bool { return p.Conns() == 2 }, 5*time.Second, 5*time.Millisecond)

	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5s")
	}
	assert.Equal(t, 0, p.Conns())
	_, err = readEnd(t, c1)
	assert.Error(t, err, "live connections are closed")
	_, err = net.DialTimeout("tcp", p.Addr(), time.Second)
	assert.Error(t, err, "the listener is closed")
	require.NoError(t, p.Close(), "Close is idempotent")
	// The echo server's goroutines for c1/c2 end when the proxy closed its
	// side; then the count is back where it was.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}
