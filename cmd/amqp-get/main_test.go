package main

import (
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli/clitest"
)

func TestGet(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			clitest.Publish(t, q, amqp.NewMessage("first\x00\n"), amqp.NewMessage(""))
			args := []string{"-u", url, "--protocol", proto, "-q", q}

			r := clitest.Run(t, run, "", args...)
			if r.Code != 0 || r.Stdout != "first\x00\n" || r.Stderr != "" {
				t.Errorf("first get: %+v, want the body as it is and exit 0", r)
			}
			r = clitest.Run(t, run, "", args...)
			if r.Code != 0 || r.Stdout != "" {
				t.Errorf("empty-body get: %+v, want no output and exit 0", r)
			}
			r = clitest.Run(t, run, "", args...)
			if r.Code != 2 || r.Stdout != "" || r.Stderr != "" {
				t.Errorf("get from an empty queue: %+v, want exit 2 and no output", r)
			}
		})
	}
}

func TestGetErrors(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			r := clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-q", "no-such-queue-for-amqp-get")
			if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "404 NOT_FOUND - no queue 'no-such-queue-for-amqp-get'") {
				t.Errorf("missing queue: %+v, want exit 1 and the broker's 404", r)
			}
		})
	}
	for _, args := range [][]string{{}, {"-q"}, {"--bogus"}, {"-q", "x", "extra"}, {"-q", "x", "--protocol", "0-10"}} {
		if r := clitest.Run(t, run, "", append([]string{"-u", url}, args...)...); r.Code != 1 || r.Stdout != "" || r.Stderr == "" {
			t.Errorf("args %q: %+v, want a usage error (exit 1)", args, r)
		}
	}
	r := clitest.Run(t, run, "", "--help")
	if r.Code != 0 || !strings.Contains(r.Stdout, "-q, --queue") || !strings.Contains(r.Stdout, "--authfile") {
		t.Errorf("--help: %+v", r)
	}
}
