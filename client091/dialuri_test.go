package client091_test

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// A URI built in code can be dialled; the connection tells both its ends.
func TestBrokerDialURIAndAddresses(t *testing.T) {
	uri, err := amqp.ParseURI(testbroker.URL(t))
	require.NoError(t, err)
	conn, err := client091.DialURI(uri, amqp.Config{})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Close())
	remote, ok := conn.RemoteAddr().(*net.TCPAddr)
	require.True(t, ok, "%T", conn.RemoteAddr())
	assert.Equal(t, uri.Port, remote.Port)
	local, ok := conn.LocalAddr().(*net.TCPAddr)
	require.True(t, ok)
	assert.NotEqual(t, remote.Port, local.Port)
}

// The URL of RabbitMQ's tutorials, with a trailing slash, reaches the
// default vhost "/".
func TestBrokerTrailingSlashIsDefaultVhost(t *testing.T) {
	uri, err := amqp.ParseURI(testbroker.URL(t))
	require.NoError(t, err)
	scheme := "amqp"
	if uri.TLS {
		scheme = "amqps"
	}
	u := (&url.URL{Scheme: scheme, User: url.UserPassword(uri.Username, uri.Password), Host: uri.Addr(), Path: "/"}).String()
	require.True(t, strings.HasSuffix(u, "/"))
	tlsConfig, err := uri.TLSConfig()
	require.NoError(t, err)
	conn, err := client091.DialConfig(u, amqp.Config{TLS: tlsConfig})
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.Close())
}

// A 530 for a vhost that does not exist names the vhost asked for.
func TestBrokerMissingVhostNamed(t *testing.T) {
	uri, err := amqp.ParseURI(testbroker.URL(t))
	require.NoError(t, err)
	for _, vhost := range []string{"no-such-vhost-" + testbroker.Name(t, "v"), ""} {
		uri.Vhost = vhost
		_, err := client091.DialURI(uri, amqp.Config{})
		require.ErrorIs(t, err, amqp.ErrNotAllowed)
		require.ErrorIs(t, err, amqp.ErrHandshake)
		assert.Contains(t, err.Error(), "the vhost asked for: \""+vhost+"\"")
	}
}

// RabbitMQ accepts a new secret on a live connection (with its internal
// backend the secret is the password) and the connection goes on working.
func TestBrokerUpdateSecret(t *testing.T) {
	uri, err := amqp.ParseURI(testbroker.URL(t))
	require.NoError(t, err)
	conn, err := client091.DialURI(uri, amqp.Config{})
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.UpdateSecret(uri.Password, "token refresh"))
	require.NoError(t, conn.UpdateSecret(uri.Password, "and again"))
	ch, err := conn.Channel()
	require.NoError(t, err)
	q, err := ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
	require.NoError(t, ch.ConfirmSelect())
	require.NoError(t, ch.PublishConfirmed("", q.Name, amqp.NewMessage("after the update")))
	d, ok, err := ch.Get(q.Name, amqp.GetOptions{NoAck: true})
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "after the update", string(d.Body))
	require.NoError(t, conn.Close())
}
