package reliability_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/node2"
)

// A recovery logs in with the secret of the last UpdateSecret: a password
// changed on the broker (as an OAuth 2 token is replaced) and given to the
// connection with UpdateSecret is the one the new connection uses.
func TestRecoveryUsesUpdatedSecret(t *testing.T) {
	url := node2.Start(t)
	user := "recovery-secret"
	node2.Ctl(t, "add_user", user, "first-secret")
	t.Cleanup(func() { _, _ = node2.CtlErr("delete_user", user) })
	node2.Ctl(t, "set_permissions", "-p", "/", user, ".*", ".*", ".*")
	u, err := amqp.ParseURI(url)
	require.NoError(t, err)
	u.Username, u.Password = user, "first-secret"
	conn, err := client091.DialURI(u, amqp.Config{Timeout: 20 * time.Second,
		Recovery: &amqp.Recovery{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
	require.NoError(t, err)
	defer conn.Close()
	ups := make(chan struct{}, 2)
	conn.OnRecovered(func() { ups <- struct{}{} })

	node2.Ctl(t, "change_password", user, "second-secret")
	require.NoError(t, conn.UpdateSecret("second-secret", "rotated"))
	node2.CloseAllConnections(t, "recovery secret test")
	next(t, ups, "a recovery that logs in with the new secret")
	require.Contains(t, strings.ToLower(node2.Ctl(t, "list_connections", "user")), user)
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDeclare("", amqp.QueueOptions{Exclusive: true})
	require.NoError(t, err)
}
