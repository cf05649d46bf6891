package client091_test

import (
	"net"
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

// A 530 for a vhost that does not exist names the vhost asked for; for the
// empty vhost (a URL ending in "/") it says how to ask for "/".
func TestBrokerMissingVhostNamed(t *testing.T) {
	uri, err := amqp.ParseURI(testbroker.URL(t))
	require.NoError(t, err)
	for _, vhost := range []string{"no-such-vhost-" + testbroker.Name(t, "v"), ""} {
		uri.Vhost = vhost
		_, err := client091.DialURI(uri, amqp.Config{})
		require.ErrorIs(t, err, amqp.ErrNotAllowed)
		require.ErrorIs(t, err, amqp.ErrHandshake)
		assert.Contains(t, err.Error(), "the vhost asked for: \""+vhost+"\"")
		assert.Equal(t, vhost == "", strings.Contains(err.Error(), "%2F"), err.Error())
	}
}
