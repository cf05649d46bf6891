package cli_test

import (
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/amqplib-go/amqp/internal/cli/clitest"
)

// TestBinaries builds the commands and runs them as programs, checking
// stdout and exit codes on both protocol versions.
func TestBinaries(t *testing.T) {
	brokerURL := clitest.Broker(t)
	bin := clitest.Build(t, t.TempDir())
	tool := func(name string) string { return filepath.Join(bin, name) }
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			run := func(stdin, name string, args ...string) clitest.Result {
				t.Helper()
				return clitest.Exec(t, stdin, nil, tool(name), append([]string{"-u", brokerURL, "--protocol", proto}, args...)...)
			}
			r := run("", "amqp-declare-queue", "-q", "")
			if r.Code != 0 || !regexp.MustCompile(`^amq\.gen-\S+\n$`).MatchString(r.Stdout) {
				t.Fatalf("amqp-declare-queue -q '': %+v", r)
			}
			q := strings.TrimSpace(r.Stdout)
			t.Cleanup(func() { clitest.DeleteQueue(t, q) })

			if r := run("from stdin", "amqp-publish", "-r", q); r.Code != 0 || r.Stdout != "" {
				t.Fatalf("amqp-publish: %+v", r)
			}
			if r := run("", "amqp-publish", "-r", q, "-b", "from -b"); r.Code != 0 {
				t.Fatalf("amqp-publish -b: %+v", r)
			}
			if r := run("l1\nl2\n", "amqp-publish", "-r", q, "-l", "--mandatory"); r.Code != 0 {
				t.Fatalf("amqp-publish -l --mandatory: %+v", r)
			}
			if r := run("", "amqp-get", "-q", q); r.Code != 0 || r.Stdout != "from stdin" {
				t.Errorf("amqp-get: %+v", r)
			}
			if r := run("", "amqp-consume", "-q", q, "-c", "2", "cat"); r.Code != 0 || r.Stdout != "from -bl1\n" {
				t.Errorf("amqp-consume -c 2 cat: %+v", r)
			}
			if r := run("", "amqp-delete-queue", "-q", q); r.Code != 0 || r.Stdout != "1\n" {
				t.Errorf("amqp-delete-queue: %+v", r)
			}
			if r := run("", "amqp-get", "-q", q); r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "404 NOT_FOUND") {
				t.Errorf("amqp-get from a deleted queue: %+v", r)
			}
			if r := run("", "amqp-publish", "-r", "no-such-queue-e2e", "-b", "x", "--mandatory"); r.Code != 1 {
				t.Errorf("amqp-publish --mandatory unroutable: %+v", r)
			}
		})
	}

	t.Run("AMQP_URL", func(t *testing.T) {
		q := clitest.Queue(t)
		env := []string{"AMQP_URL=" + brokerURL}
		if r := clitest.Exec(t, "", env, tool("amqp-get"), "-q", q); r.Code != 2 || r.Stdout != "" {
			t.Errorf("amqp-get with $AMQP_URL on an empty queue: %+v", r)
		}
		env = []string{"AMQP_URL=amqp://guest:guest@127.0.0.1:1"}
		if r := clitest.Exec(t, "", env, tool("amqp-get"), "-q", q); r.Code != 1 || !strings.Contains(r.Stderr, "127.0.0.1:1") {
			t.Errorf("amqp-get with $AMQP_URL pointing nowhere: %+v", r)
		}
	})

	t.Run("fails fast without showing the password", func(t *testing.T) {
		const secret = "s3cr3t-Pw"
		u, _ := url.Parse(brokerURL)
		u.User = url.UserPassword("guest", secret)
		hung := hungBroker(t)
		for _, args := range [][]string{
			{"-u", u.String()},                                         // wrong password
			{"-u", brokerURL, "--password", secret},                    // wrong password, flag
			{"-s", "127.0.0.1:1", "--password", secret},                // refused
			{"-s", hung, "--password", secret, "--timeout", "300ms"},   // silent broker
			{"-s", "no-such-host.invalid", "--password", secret},       // no such host
			{"-u", "amqp://guest:" + secret + "@host:99999"},           // bad URL
			{"-u", brokerURL, "--vhost", "no-such-vhost", "--verbose"}, // refused vhost
		} {
			for _, proto := range clitest.Protocols {
				start := time.Now()
				r := clitest.Exec(t, "", nil, tool("amqp-get"), append(args, "--protocol", proto, "-q", "q")...)
				if r.Code != 1 || r.Stdout != "" || r.Stderr == "" {
					t.Errorf("%q (%s): %+v, want exit 1 and a message", args, proto, r)
				}
				if strings.Contains(r.Stderr, secret) {
					t.Errorf("%q (%s): stderr shows the password: %s", args, proto, r.Stderr)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Errorf("%q (%s): took %s", args, proto, d)
				}
			}
		}
	})

	t.Run("verbose", func(t *testing.T) {
		q := clitest.Queue(t)
		r := clitest.Exec(t, "", nil, tool("amqp-get"), "-u", brokerURL, "-q", q, "--verbose")
		if r.Code != 2 || !strings.Contains(r.Stderr, "-> ch 1 basic.get") || !strings.Contains(r.Stderr, "<- ch 1 basic.get-empty") {
			t.Errorf("--verbose: %+v", r)
		}
	})
}

// hungBroker listens on a local port, accepts connections and never
// answers; it returns "host:port".
func hungBroker(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	return ln.Addr().String()
}
