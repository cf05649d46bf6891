package amqplib_test

// connection.update-secret: answers are matched to calls in order, a late
// answer is not taken for the next call's, an answer nobody asked for ends
// the connection, a refusal is a typed error, and the secret is never shown.

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec08"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/client08"
)

// The broker gets the secret and reason; the call returns at update-secret-ok
// and the trace never shows the secret.
func TestUpdateSecret(t *testing.T) {
	got := make(chan *spec091.ConnectionUpdateSecret, 1)
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		m, err := s.Expect(0, spec091.IDConnectionUpdateSecret)
		if err != nil {
			return err
		}
		got <- m.(*spec091.ConnectionUpdateSecret)
		if err := s.Send(0, &spec091.ConnectionUpdateSecretOK{}); err != nil {
			return err
		}
		return hold(s)
	})
	var mu sync.Mutex
	var trace []string
	conn := dial(t, srv.URL, amqp.Config{Trace: func(line string) {
		mu.Lock()
		trace = append(trace, line)
		mu.Unlock()
	}})
	require.NoError(t, conn.UpdateSecret("token-s3cr3t", "refresh"))
	m := within(t, got, "update-secret")
	assert.Equal(t, "token-s3cr3t", m.NewSecret)
	assert.Equal(t, "refresh", m.Reason)
	require.NoError(t, conn.Close())
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(trace, "\n")
	assert.Contains(t, joined, "connection.update-secret (secret hidden)")
	assert.NotContains(t, joined, "s3cr3t")
}

// A call whose answer comes late gives up at its deadline; the late answer
// is that call's, so it does not end the next call, which still waits for
// its own (and here, gets none).
func TestUpdateSecretLateAnswer(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if _, err := s.Expect(0, spec091.IDConnectionUpdateSecret); err != nil {
			return err
		}
		if _, err := s.Expect(0, spec091.IDConnectionUpdateSecret); err != nil {
			return err
		}
		if err := s.Send(0, &spec091.ConnectionUpdateSecretOK{}); err != nil { // the first call's
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	bounded := func(d time.Duration, secret string) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return conn.WithContext(ctx).UpdateSecret(secret, "")
	}
	err := bounded(100*time.Millisecond, "one")
	require.ErrorIs(t, err, amqp.ErrTimeout)
	assert.Contains(t, err.Error(), "update-secret-ok")
	err = bounded(300*time.Millisecond, "two")
	require.ErrorIs(t, err, amqp.ErrTimeout, "the first call's late answer must not end the second call")
	assert.Equal(t, amqplib.StateOpen, conn.State())
}

// An update-secret-ok nobody asked for ends the connection with 503.
func TestUpdateSecretUnsolicitedAnswer(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		if err := s.Send(0, &spec091.ConnectionUpdateSecretOK{}); err != nil {
			return err
		}
		return hold(s)
	})
	conn := dial(t, srv.URL, amqp.Config{})
	_, err := conn.Channel()
	require.NoError(t, err)
	select {
	case <-conn.Done():
	case <-time.After(waitLimit):
		t.Fatal("the connection did not end")
	}
	require.ErrorIs(t, conn.Err(), amqp.ErrProtocol)
	assert.Contains(t, conn.Err().Error(), "update-secret-ok")
}

// A broker that refuses the secret closes the connection with 530: the call
// returns that error, matching amqp.ErrNotAllowed, without the secret.
func TestUpdateSecretRefused(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if _, err := s.Expect(0, spec091.IDConnectionUpdateSecret); err != nil {
			return err
		}
		return s.CloseConnection(&amqp.Error{Code: amqp.NotAllowed, Text: "NOT_ALLOWED - new secret refused"})
	})
	conn := dial(t, srv.URL, amqp.Config{})
	err := conn.UpdateSecret("bad-s3cr3t", "refresh")
	require.ErrorIs(t, err, amqp.ErrNotAllowed)
	assert.NotContains(t, err.Error(), "s3cr3t")
	assert.Equal(t, amqplib.StateClosed, conn.State())
}

// AMQP 0-8 has no update-secret: the engine refuses before writing.
func TestUpdateSecret08(t *testing.T) {
	srv := amqptest.NewServer(t, spec08.Protocol, func(s *amqptest.Session) error {
		if err := s.Handshake(amqptest.DefaultTune); err != nil {
			return err
		}
		return hold(s)
	})
	conn, err := client08.DialConfig(srv.URL, amqp.Config{Timeout: waitLimit})
	require.NoError(t, err)
	defer conn.Close()
	err = amqplib.ConnOf(conn).UpdateSecret(context.Background(), "x", "")
	require.ErrorIs(t, err, amqp.ErrNotImplemented)
}
