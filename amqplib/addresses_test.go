package amqplib_test

// Config.Addresses: Dial tries the URL's address and the others, each once,
// and takes the first that opens; a refused login stops it at once.

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// deadAddr returns an address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// One address is dead: whichever order the shuffle picks, the dial reaches
// the live one.
func TestAddressesSkipDeadOne(t *testing.T) {
	srv := fake(t, amqptest.DefaultTune, hold)
	for _, tc := range []struct{ url, extra string }{
		{srv.URL, deadAddr(t)},
		{"amqp://guest:guest@" + deadAddr(t), srv.Addr},
	} {
		for range 4 { // both shuffle orders, most likely
			conn, err := client091.DialConfig(tc.url, amqp.Config{Timeout: waitLimit, Addresses: []string{tc.extra}})
			require.NoError(t, err)
			assert.Equal(t, srv.Addr, conn.RemoteAddr().String())
			require.NoError(t, conn.Close())
		}
	}
}

// Every address is dead: the error names each one and matches their causes.
func TestAddressesAllDead(t *testing.T) {
	a, b := deadAddr(t), deadAddr(t)
	_, err := client091.DialConfig("amqp://guest:secret-pw@"+a, amqp.Config{Addresses: []string{b, a}})
	var de *amqp.DialError
	require.ErrorAs(t, err, &de)
	assert.ElementsMatch(t, []string{a, b}, de.Addrs, "each address once")
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.Contains(t, err.Error(), a)
	assert.Contains(t, err.Error(), b)
	assert.NotContains(t, err.Error(), "secret-pw")
}

// A refused login is the same on every node: the dial stops at the first.
func TestAddressesAuthRefusedStops(t *testing.T) {
	var sessions atomic.Int32
	refuse := func(s *amqptest.Session) error {
		sessions.Add(1)
		return steps(
			func() error { _, err := s.ReadProtocolHeader(); return err },
			func() error { return s.SendStart(nil) },
			func() error { _, err := s.ExpectRaw(0, spec091.IDConnectionStartOK); return err },
			func() error {
				return s.CloseConnection(&amqp.Error{Code: 403, Text: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"})
			},
		)
	}
	one := amqptest.NewServer(t, spec091.Protocol, refuse)
	two := amqptest.NewServer(t, spec091.Protocol, refuse)
	_, err := client091.DialConfig(one.URL, amqp.Config{Addresses: []string{two.Addr}})
	require.ErrorIs(t, err, amqp.ErrAuth)
	var de *amqp.DialError
	assert.False(t, errors.As(err, &de), "not a list of addresses: %v", err)
	assert.Equal(t, int32(1), sessions.Load())
}

// A malformed address is refused before anything is dialled.
func TestAddressesInvalid(t *testing.T) {
	_, err := client091.DialConfig("amqp://localhost", amqp.Config{Addresses: []string{"h:notaport"}})
	require.ErrorIs(t, err, amqp.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "h:notaport")
}

// A recovery tries the address of the connection it lost last in its
// first round: with another address up, it moves there, every time.
func TestBrokerRecoveryTriesLostAddressLast(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	require.NoError(t, err)
	pa, pb := faultproxy.New(t, uri.Addr()), faultproxy.New(t, uri.Addr())
	cfg := amqp.Config{Timeout: 10 * time.Second, Addresses: []string{pb.Addr()},
		Recovery: &amqp.Recovery{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}}
	var conn *client091.Conn
	for conn == nil || conn.RemoteAddr().String() != pa.Addr() { // the first dial picks at random
		if conn != nil {
			require.NoError(t, conn.Close())
		}
		conn, err = client091.DialConfig(pa.URL(url), cfg)
		require.NoError(t, err)
	}
	defer conn.Close()
	ups := make(chan struct{}, 1)
	conn.OnRecovered(func() { ups <- struct{}{} })
	for i := range 6 {
		on, other := pa, pb
		if i%2 == 1 {
			on, other = pb, pa
		}
		dials := on.Accepted()
		on.Reset()
		select {
		case <-ups:
		case <-time.After(10 * time.Second):
			t.Fatalf("recovery %d did not complete", i)
		}
		assert.Equal(t, other.Addr(), conn.RemoteAddr().String(), "recovery %d", i)
		assert.Equal(t, dials, on.Accepted(), "recovery %d dialled the address it lost", i)
	}
}
