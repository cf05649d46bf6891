package client091_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/client091"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "amqptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLSVerifiesPeerByDefault(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := amqptest.NewTLSServer(t, client091.Protocol, &tls.Config{Certificates: []tls.Certificate{cert}},
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
