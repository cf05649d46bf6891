package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli/clitest"
	"github.com/amqplib-go/amqp/internal/faultproxy"
)

// lockedBuffer is a bytes.Buffer safe to read while the command writes.
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

// With --recover, amqp-consume keeps consuming across a connection reset:
// it says so on stderr, and the message published after the reset is
// consumed by the same run.
func TestConsumeRecover(t *testing.T) {
	url := clitest.Broker(t)
	uri, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			p := faultproxy.New(t, uri.Addr())
			q := clitest.Queue(t)
			var out, errOut lockedBuffer
			code := make(chan int, 1)
			go func() {
				code <- run([]string{"-u", p.URL(url), "--protocol", proto, "-q", q, "-A", "-c", "2", "--recover"}, strings.NewReader(""), &out, &errOut)
			}()
			clitest.Publish(t, q, amqp.NewMessage("one\n"))
			waitFor(t, func() bool { return out.String() == "one\n" }, "the first message", &out, &errOut)
			p.Reset()
			waitFor(t, func() bool { return strings.Contains(errOut.String(), "connection recovered") }, "the recovery", &out, &errOut)
			clitest.Publish(t, q, amqp.NewMessage("two\n"))
			select {
			case c := <-code:
				if c != 0 || out.String() != "one\ntwo\n" || !strings.Contains(errOut.String(), "connection lost") {
					t.Fatalf("exit %d, stdout %q, stderr %q", c, out.String(), errOut.String())
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("amqp-consume --recover did not finish; stdout %q, stderr %q", out.String(), errOut.String())
			}
		})
	}
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, cond func() bool, what string, out, errOut *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s; stdout %q, stderr %q", what, out.String(), errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
