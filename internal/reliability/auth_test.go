package reliability_test

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
)

// A wrong password gives a quick 403 (the client asks for
// authentication_failure_close), typed as both amqp.ErrAccessRefused and
// amqp.ErrAuth, never an EOF or a hang; the password appears in no error
// text, trace line or log line, whichever login mechanism carries it.
func TestWrongPassword(t *testing.T) {
	const secret = "s3ntinel-Pa55w0rd-7f3c"
	forEach(t, func(t *testing.T, d dialect) {
		for _, mech := range []string{"PLAIN", "AMQPLAIN"} {
			t.Run(mech, func(t *testing.T) {
				u, err := url.Parse(brokerURL(t))
				require.NoError(t, err)
				u.User = url.UserPassword(u.User.Username(), secret)
				var mu sync.Mutex
				var lines []string
				logf := func(format string, args ...any) {
					mu.Lock()
					lines = append(lines, "log: "+fmt.Sprintf(format, args...))
					mu.Unlock()
				}
				trace := func(line string) {
					mu.Lock()
					lines = append(lines, "trace: "+line)
					mu.Unlock()
				}
				cfg := amqp.Config{ConnectionTimeout: 10 * time.Second, AuthMechanisms: []string{mech}, Trace: trace, Logf: logf}
				var c Conn
				took := timed(func() { c, err = d.dial(u.String(), cfg) })
				t.Logf("%s: %v", took.Round(time.Millisecond), err)
				require.Error(t, err)
				require.Nil(t, c)
				assert.Less(t, took, 5*time.Second, "a quick answer, far from the connection timeout")
				assert.ErrorIs(t, err, amqp.ErrAccessRefused, "the broker's 403")
				assert.ErrorIs(t, err, amqp.ErrAuth)
				assert.False(t, errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "not an EOF")
				assert.False(t, errors.Is(err, amqp.ErrTimeout), "not a timeout")
				var ae *amqp.Error
				require.True(t, errors.As(err, &ae))
				assert.Equal(t, amqp.AccessRefused, ae.Code)
				assert.True(t, strings.HasPrefix(err.Error(), "amqp: "), err.Error())

				for _, s := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fmt.Sprintf("%#v", ae)} {
					noSecret(t, secret, "the error", s)
				}
				mu.Lock()
				defer mu.Unlock()
				require.NotEmpty(t, lines, "the trace saw the handshake")
				var sawLogin bool
				for _, l := range lines {
					noSecret(t, secret, "a trace or log line", l)
					sawLogin = sawLogin || strings.Contains(l, "login response hidden")
				}
				assert.True(t, sawLogin, "the trace shows the login without its response: %q", lines)
			})
		}
	})
}
