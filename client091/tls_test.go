package client091_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
	"github.com/amqplib-go/amqp/client091"
)

func TestTLSVerifiesPeerByDefault(t *testing.T) {
	cert, pool := amqptest.SelfSigned(t)
	srv := amqptest.NewTLSServer(t, spec091.Protocol, &tls.Config{Certificates: []tls.Certificate{cert}},
		func(s *amqptest.Session) error {
			if err := s.Handshake(amqptest.DefaultTune); err != nil {
				return nil // the client refusing the certificate ends this script early
			}
			return hold(s)
		})
	_, err := client091.Dial(srv.URL)
	require.Error(t, err, "an untrusted certificate is refused by default")
	var unknown x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &unknown)

	conn, err := client091.DialConfig(srv.URL, amqp.Config{TLS: &tls.Config{RootCAs: pool}})
	require.NoError(t, err, "a tls.Config that trusts the CA overrides the default")
	assert.Equal(t, "open", conn.State())
	require.NoError(t, conn.Close())
}
