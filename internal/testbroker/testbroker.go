// Package testbroker gives integration tests the address of a real broker.
//
// URL returns $AMQP_URL, or the default local RabbitMQ, after checking that
// something accepts TCP connections there. When nothing does, the test is
// skipped with a hint to run `make test` (which finds, starts or installs
// RabbitMQ), except under CI (CI=true), where a missing broker is a failure.
package testbroker

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultURL is the broker tried when AMQP_URL is not set: RabbitMQ on
// localhost with its default user, on the vhost "/" (no path means "/"; a
// trailing "/" would mean the empty vhost).
const DefaultURL = "amqp://guest:guest@localhost:5672"

// waitFor is how long URL waits for the broker to accept a connection.
const waitFor = 2 * time.Second

var (
	once      sync.Once
	brokerURL string
	probeErr  error
)

// URL returns the AMQP URL of the test broker ($AMQP_URL, else DefaultURL).
// The first call checks, for up to 2 s, that the broker accepts TCP
// connections; the result is cached. An unreachable broker skips the test,
// or fails it when the environment variable CI is "true".
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		brokerURL = os.Getenv("AMQP_URL")
		if brokerURL == "" {
			brokerURL = DefaultURL
		}
		probeErr = probe(brokerURL, waitFor)
	})
	if probeErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testbroker: no AMQP broker (CI=true, so this is a failure): %v", probeErr)
		}
		t.Skipf("testbroker: no AMQP broker, skipping (run `make test`, which starts one, or set AMQP_URL): %v", probeErr)
	}
	return brokerURL
}

// probe dials the host and port of an AMQP URL until it answers or the wait
// is over. Its errors show the URL without the password.
func probe(rawURL string, wait time.Duration) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("cannot parse AMQP_URL (not shown, it may hold a password)")
	}
	port := u.Port()
	if port == "" {
		port = "5672"
		if strings.EqualFold(u.Scheme, "amqps") {
			port = "5671"
		}
	}
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	addr := net.JoinHostPort(host, port)
	deadline := time.Now().Add(wait)
	var firstErr error
	for {
		c, err := net.DialTimeout("tcp", addr, max(time.Until(deadline), 100*time.Millisecond))
		if err == nil {
			c.Close()
			return nil
		}
		if firstErr == nil {
			firstErr = err // "connection refused" says more than the last timeout
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing accepts TCP connections at %s (%s): %w", addr, u.Redacted(), firstErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Name returns a name for a queue, exchange or consumer tag that no other
// test (or earlier run) uses: prefix, the test's name with anything but
// letters, digits, '.', '_' and '-' replaced by '-', and a random suffix, all
// joined by '-'. Example: Name(t, "q") in TestGet/empty gives
// "q-TestGet-empty-3fa2c1d9".
func Name(t testing.TB, prefix string) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '-'
	}, t.Name())
	if len(name) > 100 { // names are short strings: 255 bytes at most
		name = name[:100]
	}
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testbroker: %v", err)
	}
	if prefix != "" {
		name = prefix + "-" + name
	}
	return name + "-" + hex.EncodeToString(b[:])
}
