package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp/internal/cli/clitest"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

func TestDeclare(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			name := testbroker.Name(t, "decl")
			t.Cleanup(func() { clitest.DeleteQueue(t, name) })
			r := clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-q", name)
			if r.Code != 0 || r.Stdout != name+"\n" || r.Stderr != "" {
				t.Errorf("declare %s: %+v", name, r)
			}
			// Declaring it again as durable is a 406: exit 1, nothing printed.
			r = clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-q", name, "-d")
			if r.Code != 1 || r.Stdout != "" || !strings.Contains(r.Stderr, "406 PRECONDITION_FAILED") {
				t.Errorf("redeclare as durable: %+v", r)
			}
			r = clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-q", "")
			if r.Code != 0 || !regexp.MustCompile(`^amq\.gen-[A-Za-z0-9_-]+\n$`).MatchString(r.Stdout) {
				t.Errorf("server-named: %+v", r)
			} else {
				clitest.DeleteQueue(t, strings.TrimSuffix(r.Stdout, "\n"))
			}
		})
	}
	if r := clitest.Run(t, run, "", "-u", url); r.Code != 1 || !strings.Contains(r.Stderr, "queue name not specified") {
		t.Errorf("no -q: %+v", r)
	}
}
