package main

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli/clitest"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

func TestConsume(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			clitest.Publish(t, q, amqp.NewMessage("one\n"), amqp.NewMessage("two\n"), amqp.NewMessage("three\n"), amqp.NewMessage("four\n"))
			base := []string{"-u", url, "--protocol", proto, "-q", q}

			// A command per message, body on its stdin; acked when it exits 0.
			r := clitest.Run(t, run, "", append(base, "-c", "2", "-p", "5", "--", "sed", "s/^/got /")...)
			if r.Code != 0 || r.Stdout != "got one\ngot two\n" || r.Stderr != "" {
				t.Fatalf("consume -c 2 sed: %+v", r)
			}
			// A failing command: not acked, so the message comes back.
			if r := clitest.Run(t, run, "", append(base, "-c", "1", "false")...); r.Code != 0 {
				t.Fatalf("consume false: %+v (amqp-tools exits 0 too)", r)
			}
			if n := clitest.Count(t, q); n != 2 {
				t.Fatalf("%d messages left after a failed command, want 2", n)
			}
			// No command: bodies to stdout.
			r = clitest.Run(t, run, "", append(base, "-c", "1")...)
			if r.Code != 0 || r.Stdout != "three\n" {
				t.Fatalf("consume without a command: %+v", r)
			}
			// -A: acknowledged on delivery, whatever the command does.
			if r := clitest.Run(t, run, "", append(base, "-A", "-c", "1", "false")...); r.Code != 0 {
				t.Fatalf("consume -A false: %+v", r)
			}
			if n := clitest.Count(t, q); n != 0 {
				t.Fatalf("%d messages left after -A, want 0", n)
			}
			// A command that cannot run is an error.
			clitest.Publish(t, q, amqp.NewMessage("five"))
			r = clitest.Run(t, run, "", append(base, "-c", "1", "/nonexistent/command")...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "/nonexistent/command") {
				t.Fatalf("consume /nonexistent/command: %+v", r)
			}
		})
	}
}

func TestConsumeBindings(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			x := clitest.Exchange(t, "direct")
			q := testbroker.Name(t, "cq")
			wait := clitest.Async(t, func() clitest.Result {
				return clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-q", q, "-e", x, "-r", "k1,,k2", "-c", "2", "cat")
			})
			clitest.PublishRouted(t, x, "k1", "via k1;")
			clitest.PublishRouted(t, x, "k2", "via k2;")
			if r := wait(); r.Code != 0 || r.Stdout != "via k1;via k2;" {
				t.Errorf("consume -e -r k1,,k2: %+v", r)
			}

			// No -q: a server-named queue, its name on stderr.
			f := clitest.Exchange(t, "fanout")
			wait = clitest.Async(t, func() clitest.Result {
				return clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-e", f, "-x", "-c", "1")
			})
			clitest.PublishRouted(t, f, "", "fanned")
			r := wait()
			if r.Code != 0 || r.Stdout != "fanned" || !regexp.MustCompile(`server provided queue name: amq\.gen-\S+\n`).MatchString(r.Stderr) {
				t.Errorf("consume -e fanout -x: %+v", r)
			}
		})
	}
}

func TestConsumeCancelled(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			clitest.Publish(t, q, amqp.NewMessage("m"))
			wait := clitest.Async(t, func() clitest.Result {
				return clitest.Run(t, run, "", "-u", url, "--protocol", proto, "-q", q, "-c", "5")
			})
			deadline := time.Now().Add(10 * time.Second)
			for clitest.Count(t, q) > 0 && time.Now().Before(deadline) { // consuming
				time.Sleep(10 * time.Millisecond)
			}
			clitest.DeleteQueue(t, q)
			if r := wait(); r.Code != 1 || r.Stdout != "m" || !strings.Contains(r.Stderr, "cancelled the consumer") {
				t.Errorf("queue deleted under the consumer: %+v, want exit 1", r)
			}
		})
	}
}

func TestBindingKeys(t *testing.T) {
	for in, want := range map[string][]string{"": {""}, "a": {"a"}, "a,,b,": {"a", "b"}, ",": {""}} {
		if got := bindingKeys(in); !slices.Equal(got, want) {
			t.Errorf("bindingKeys(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestConsumeUsage(t *testing.T) {
	for _, args := range [][]string{{"-r", "k", "-q", "x"}, {"-c", "x"}, {"--protocol", "0-10"}} {
		if r := clitest.Run(t, run, "", args...); r.Code != 1 || r.Stdout != "" || r.Stderr == "" {
			t.Errorf("args %q: %+v, want a usage error", args, r)
		}
	}
}
