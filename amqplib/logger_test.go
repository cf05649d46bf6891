package amqplib_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/amqplib/amqptest"
	"github.com/amqplib-go/amqp/amqplib/spec091"
)

// lockedBuffer is a bytes.Buffer for a handler written from several
// goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Config.Logger gets the diagnostic lines as records with a level and
// component=amqp; a broker's reply text in them is quoted, and the password
// never appears.
func TestConfigLogger(t *testing.T) {
	const secret = "s3cr3t-Logger-77"
	srv := fake(t, amqptest.DefaultTune, func(s *amqptest.Session) error {
		if err := s.OpenChannel(1); err != nil {
			return err
		}
		var f frames
		f.content(1, &spec091.BasicReturn{ReplyCode: 312, ReplyText: "NO_ROUTE\nforged", RoutingKey: "nowhere"}, "lost")
		if err := s.Write(f.bytes()); err != nil {
			return err
		}
		return hold(s)
	})
	var buf lockedBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	url := "amqp://guest:" + secret + "@" + srv.Addr
	conn := dial(t, url, amqp.Config{Logger: logger})
	ch, err := conn.Channel()
	require.NoError(t, err)
	require.NoError(t, ch.WaitTimeout(waitLimit), "the return, with no OnReturn callback")
	out := buf.String()
	assert.Contains(t, out, "level=WARN")
	assert.Contains(t, out, "component=amqp")
	assert.Contains(t, out, "no OnReturn callback")
	assert.NotContains(t, out, "NO_ROUTE\nforged", "the broker's text is quoted")
	assert.NotContains(t, out, secret)
}
