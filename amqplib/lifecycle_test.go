package amqplib_test

// Adversarial lifecycle tests: hooks, a flood nobody reads, goroutine
// leaks, bounded closes and secrets.

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/amqplib/wire"
	"github.com/amqplib-go/amqp/client091"
)

func TestBlockedHooksRunOffTheReader(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "ctag"}),
			func() error { return s.Send(0, &spec091.ConnectionBlocked{Reason: "low on memory"}) },
			// The client declares while its OnBlocked hook is still running.
			func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); return err },
		)
		if err != nil {
			return err
		}
		var f frames
		f.method(0, &spec091.ConnectionUnblocked{})
		f.content(1, &spec091.BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 1}, "while blocked")
		f.method(1, &spec091.QueueDeclareOK{Queue: "q"})
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	var (
		mu      sync.Mutex
		order   []string
		release = make(chan struct{})
		blocked = make(chan struct{})
		unblock = make(chan struct{})
	)
	letGo := sync.OnceFunc(func() { close(release) })
	t.Cleanup(letGo)
	conn.OnBlocked(func(reason string) {
		mu.Lock()
		order = append(order, "blocked: "+reason)
		mu.Unlock()
		close(blocked)
		<-release // a slow hook
	})
	conn.OnUnblocked(func() {
		mu.Lock()
		order = append(order, "unblocked")
		mu.Unlock()
		close(unblock)
	})
	ch, err := conn.Channel()
	require.NoError(t, err)
	var got []string
	_, err = ch.Consume("q", func(d *amqp.Delivery) { got = append(got, d.Text()) })
	require.NoError(t, err)

	within(t, blocked, "OnBlocked")
	assert.Equal(t, "low on memory", conn.Blocked())
	// The hook is still running: RPCs and deliveries must not wait for it.
	_, err = ch.QueueDeclare("q")
	require.NoError(t, err)
	assert.Equal(t, "", conn.Blocked(), "unblocked arrived before declare-ok")
	require.NoError(t, ch.WaitTimeout(waitLimit))
	assert.Equal(t, []string{"while blocked"}, got)
	select {
	case <-unblock:
		t.Fatal("OnUnblocked ran while OnBlocked was still running")
	default:
	}
	letGo()
	within(t, unblock, "OnUnblocked")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"blocked: low on memory", "unblocked"}, order)
}

func TestFloodNobodyWaitsFor(t *testing.T) {
	const n = 10000
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { return s.OpenChannel(2) },
			answer(s, 1, spec091.IDBasicConsume, &spec091.BasicConsumeOK{ConsumerTag: "flood"}),
		)
		if err != nil {
			return err
		}
		flooded := make(chan error, 1)
		go func() {
			var e wire.Encoder
			msg := amqp.NewMessage("a delivery nobody reads")
			for i := 1; i <= n; i++ {
				s.AppendContent(&e, 1, &spec091.BasicDeliver{ConsumerTag: "flood", DeliveryTag: uint64(i), RoutingKey: "q"}, &msg, 131072)
				if i%100 == 0 {
					if err := s.Write(e.Buf); err != nil {
						flooded <- err
						return
					}
					e.Reset()
				}
			}
			flooded <- nil
		}()
		for {
			ch, m, err := s.Recv()
			if err != nil {
				return err
			}
			switch {
			case ch == 0 && m.ID() == spec091.IDConnectionClose:
				return s.Send(0, &spec091.ConnectionCloseOK{})
			case ch == 2 && m.ID() == spec091.IDQueueDeclare:
				name := m.(*spec091.QueueDeclare).Queue
				if name == "last" { // answered once every delivery is on the wire
					if err, _ := await(flooded, "the flood"); err != nil {
						return err
					}
				}
				if err := s.Send(2, &spec091.QueueDeclareOK{Queue: name}); err != nil {
					return err
				}
			default:
				return fmt.Errorf("unexpected %s on channel %d", m.Name(), ch)
			}
		}
	})
	conn := dial(t, srv.URL, amqp.Config{})
	consumer, err := conn.Channel()
	require.NoError(t, err)
	other, err := conn.Channel()
	require.NoError(t, err)
	called := 0
	_, err = consumer.Consume("q", func(*amqp.Delivery) { called++ })
	require.NoError(t, err)
	for i := 0; i < 50; i++ {
		_, err := other.QueueDeclare(fmt.Sprint("q", i))
		require.NoError(t, err, "RPC %d during the flood", i)
	}
	_, err = other.QueueDeclare("last")
	require.NoError(t, err)
	assert.Equal(t, n, consumer.Pending(), "every delivery queued, none dispatched")
	assert.Zero(t, called)

	closed := make(chan error, 1)
	go func() { closed <- conn.Close() }()
	assert.NoError(t, within(t, closed, "Close with 10,000 undispatched deliveries"))
	assert.True(t, consumer.IsClosed())
}

// settle polls (bounded) until no more than base goroutines run.
func settle(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), base, buf)
		}
		time.Sleep(5 * time.Millisecond) // a bounded poll, not synchronisation
	}
}

func TestNoGoroutineLeakAfterClose(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		return steps(
			func() error { return s.OpenChannel(1) },
			answer(s, 1, spec091.IDChannelClose, &spec091.ChannelCloseOK{}),
			func() error { return s.ServeClose() },
		)
	})
	base := runtime.NumGoroutine()
	for i := 0; i < 200; i++ {
		conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: waitLimit})
		require.NoError(t, err, "cycle %d", i)
		ch, err := conn.Channel()
		require.NoError(t, err, "cycle %d", i)
		require.NoError(t, ch.Close(), "cycle %d", i)
		require.NoError(t, conn.Close(), "cycle %d", i)
	}
	settle(t, base)
}

func TestNoGoroutineLeakAfterBrokerKill(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); return err },
		)
		return err // returning closes the socket, with no connection.close
	})
	base := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: waitLimit})
		require.NoError(t, err)
		closed := make(chan error, 1)
		conn.OnClose(func(err error) { closed <- err })
		ch, err := conn.Channel()
		require.NoError(t, err)
		_, err = ch.QueueDeclare("q")
		require.Error(t, err)
		assert.ErrorIs(t, err, amqp.ErrClosed)
		reason := within(t, closed, "OnClose")
		require.Error(t, reason)
		assert.Contains(t, reason.Error(), "without connection.close")
		assert.Equal(t, reason, conn.Err())
		assert.NoError(t, conn.Close())
	}
	settle(t, base)
}

func TestNoGoroutineLeakAfterFailedDial(t *testing.T) {
	authEOF := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		return steps(
			func() error { _, err := s.ReadProtocolHeader(); return err },
			func() error { return s.SendStart(nil) },
			func() error { _, err := s.ExpectRaw(0, spec091.IDConnectionStartOK); return err },
		)
	})
	silent := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		if _, err := s.ReadProtocolHeader(); err != nil {
			return err
		}
		return hold(s)
	})
	base := runtime.NumGoroutine()
	for i := 0; i < 10; i++ {
		_, err := client091.DialConfig(authEOF.URL, amqp.Config{})
		assert.Error(t, err)
		_, err = client091.DialConfig(silent.URL, amqp.Config{ConnectionTimeout: 50 * time.Millisecond})
		assert.ErrorIs(t, err, amqp.ErrTimeout)
	}
	settle(t, base)
}

func TestCloseWakesBlockedRPC(t *testing.T) {
	declared := make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		err := steps(
			func() error { return s.OpenChannel(1) },
			func() error { _, err := s.Expect(1, spec091.IDQueueDeclare); return err },
		)
		if err != nil {
			return err
		}
		close(declared)
		return hold(s) // never answers the declare; answers connection.close
	})
	conn := dial(t, srv.URL, amqp.Config{Timeout: 10 * time.Second})
	ch, err := conn.Channel()
	require.NoError(t, err)
	rpc := make(chan error, 1)
	go func() { _, err := ch.QueueDeclare("q"); rpc <- err }()
	within(t, declared, "the declare on the wire")
	closed := make(chan error, 1)
	go func() { closed <- conn.Close() }()
	assert.NoError(t, within(t, closed, "Close"))
	err = within(t, rpc, "the blocked RPC")
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrClosed)
	assert.NotErrorIs(t, err, amqp.ErrTimeout, "woken by Close, not by its own timer")
	assert.Equal(t, "closed", conn.State())
}

func TestCloseBoundedWithoutCloseOK(t *testing.T) {
	sawClose, sawEOF := make(chan struct{}), make(chan struct{})
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		for {
			f, err := s.Next()
			if err != nil {
				close(sawEOF) // the client closed the socket itself
				return nil
			}
			if f.Method != nil && f.Method.ID() == spec091.IDConnectionClose {
				close(sawClose) // and never answer it
			}
		}
	})
	conn, err := client091.DialConfig(srv.URL, amqp.Config{Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- conn.Close() }()
	err = within(t, closed, "Close")
	require.Error(t, err)
	assert.ErrorIs(t, err, amqp.ErrTimeout)
	assert.Contains(t, err.Error(), "close-ok")
	within(t, sawClose, "connection.close")
	within(t, sawEOF, "the socket to close")
	assert.Equal(t, "closed", conn.State())
	assert.NoError(t, conn.Close(), "a second Close")
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	const secret = "s3cr3t-Sentinel-9q"
	var logs []string
	var logMu sync.Mutex
	cfg := amqp.Config{
		ConnectionTimeout: 300 * time.Millisecond,
		Trace: func(line string) {
			logMu.Lock()
			logs = append(logs, line)
			logMu.Unlock()
		},
	}
	withSecret := func(url string) string { return strings.Replace(url, "guest:guest", "guest:"+secret, 1) }
	var errs []error // every error, unwrapped: labels would carry the URL
	dialErr := func(what, url string, cfg amqp.Config) {
		t.Helper()
		_, err := client091.DialConfig(url, cfg)
		require.Error(t, err, what)
		errs = append(errs, err)
	}

	// The broker hangs up after the login.
	eof := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		return steps(
			func() error { _, err := s.ReadProtocolHeader(); return err },
			func() error { return s.SendStart(nil) },
			func() error { _, err := s.ExpectRaw(0, spec091.IDConnectionStartOK); return err },
		)
	})
	dialErr("auth EOF", withSecret(eof.URL), cfg)

	// The broker refuses the login with connection.close 403.
	refused := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		return steps(
			func() error { _, err := s.ReadProtocolHeader(); return err },
			func() error { return s.SendStart(nil) },
			func() error { _, err := s.ExpectRaw(0, spec091.IDConnectionStartOK); return err },
			func() error {
				return s.CloseConnection(&amqp.Error{Code: 403, Text: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"})
			},
		)
	})
	dialErr("auth refused", withSecret(refused.URL), cfg)
	assert.ErrorIs(t, errs[len(errs)-1], amqp.ErrAuth)

	// Nothing listens on the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	dialErr("refused port", "amqp://guest:"+secret+"@"+addr+"/", cfg)

	// The broker never answers the protocol header.
	silent := amqptest.NewServer(t, spec091.Protocol, func(s *amqptest.Session) error {
		if _, err := s.ReadProtocolHeader(); err != nil {
			return err
		}
		return hold(s)
	})
	dialErr("handshake timeout", withSecret(silent.URL), cfg)
	assert.ErrorIs(t, errs[len(errs)-1], amqp.ErrTimeout)

	// TLS to a peer that hangs up.
	hangup, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { hangup.Close() })
	go func() {
		for {
			c, err := hangup.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dialErr("TLS", "amqps://guest:"+secret+"@"+hangup.Addr().String()+"/", cfg)

	// Malformed URIs that carry the password.
	for i, u := range []string{
		"amqp://guest:" + secret + "@host:99999/",
		"amqp://guest:" + secret + "@host:port/",
		"amqp://guest:" + secret,
		"amqp://guest:" + secret + "@ho st/",
		"amqp://guest:" + secret + "@host/a/b",
		"amqp://guest:" + secret + "@host/?heartbeat=abc",
		"amqp://guest:" + secret + "%zz@host/",
		"amqp://guest:" + secret + "@x@host/",
		"amqp://guest:" + secret + "#@host/",
		"amqp://guest:/" + secret + "@host/",
		"amqps://guest:" + secret + "@host/?cacertfile=/nonexistent/ca.pem",
		"http://guest:" + secret + "@host/",
		"amqp://guest:" + secret + "@[::1/",
	} {
		dialErr(fmt.Sprint("URI #", i), u, cfg)
	}

	// A connection the broker drops after the handshake.
	dropped := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error { return nil })
	conn, err := client091.DialConfig(withSecret(dropped.URL), cfg)
	require.NoError(t, err)
	within(t, conn.Done(), "the dropped connection")
	errs = append(errs, conn.Err())
	_, err = conn.Channel()
	errs = append(errs, err)

	for i, err := range errs {
		require.Error(t, err, "error #%d", i)
		assert.NotContains(t, err.Error(), secret, "error #%d", i)
		assert.NotContains(t, fmt.Sprintf("%+v", err), secret, "error #%d", i)
	}

	uri, err := amqp.ParseURI("amqps://guest:" + secret + "@host:5671/vh?heartbeat=5")
	require.NoError(t, err)
	assert.Equal(t, secret, uri.Password)
	for _, s := range []string{uri.String(), fmt.Sprint(uri), fmt.Sprintf("%v", &uri), fmt.Sprintf("%s", uri)} {
		assert.NotContains(t, s, secret)
		assert.Contains(t, s, "host:5671")
	}
	logMu.Lock()
	defer logMu.Unlock()
	assert.NotEmpty(t, logs, "the handshakes were traced")
	for _, l := range logs {
		assert.NotContains(t, l, secret)
	}
}
