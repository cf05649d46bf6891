package main

import (
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli/clitest"
)

func TestDelete(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			clitest.Publish(t, q, amqp.NewMessage("a"), amqp.NewMessage("b"), amqp.NewMessage("c"))
			base := []string{"-u", url, "--protocol", proto, "-q", q}

			r := clitest.Run(t, run, "", append(base, "-e")...)
			if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "406 PRECONDITION_FAILED") {
				t.Errorf("--if-empty on a queue of 3: %+v", r)
			}
			r = clitest.Run(t, run, "", append(base, "--if-unused")...)
			if r.Code != 0 || r.Stdout != "3\n" || r.Stderr != "" {
				t.Errorf("delete: %+v, want \"3\\n\"", r)
			}
			// RabbitMQ deletes a missing queue without complaint.
			r = clitest.Run(t, run, "", base...)
			if r.Code != 0 || r.Stdout != "0\n" {
				t.Errorf("delete again: %+v", r)
			}
		})
	}
	for _, args := range [][]string{{}, {"-q", ""}, {"-u", "-q", "x"}} {
		if r := clitest.Run(t, run, "", args...); r.Code != 1 || r.Stdout != "" {
			t.Errorf("args %q: %+v, want exit 1", args, r)
		}
	}
}
