package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli/clitest"
)

func TestPublish(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			base := []string{"-u", url, "--protocol", proto, "-r", q}

			// Standard input is one message, bytes as they are.
			if r := clitest.Run(t, run, "bin\x00ary\nlines\n", base...); r.Code != 0 || r.Stdout != "" || r.Stderr != "" {
				t.Fatalf("publish stdin: %+v", r)
			}
			d := clitest.Get(t, q)
			if d == nil || string(d.Body) != "bin\x00ary\nlines\n" || d.DeliveryMode != amqp.Transient {
				t.Fatalf("got %+v, want the whole of stdin, delivery mode 1", d)
			}

			// -b with properties and headers.
			r := clitest.Run(t, run, "ignored", append(base, "-b", "body", "-p", "-C", "text/plain", "-E", "gzip",
				"-t", "replies", "-H", "k1: v1", "-H", "k2:  spaced ", "-H", "nocolon")...)
			if r.Code != 0 || !strings.Contains(r.Stderr, `missing ':' delimiter in "nocolon"`) {
				t.Fatalf("publish -b: %+v", r)
			}
			d = clitest.Get(t, q)
			want := amqp.Properties{ContentType: "text/plain", ContentEncoding: "gzip", DeliveryMode: amqp.Persistent,
				ReplyTo: "replies", Headers: amqp.Table{"k1": "v1", "k2": "spaced "}}
			if d == nil || string(d.Body) != "body" || !reflect.DeepEqual(d.Properties, want) {
				t.Fatalf("got %+v, want body \"body\" with %+v", d, want)
			}

			// -l: one message per line, newline kept; the last line as it is.
			if r := clitest.Run(t, run, "a\n\nb\nlast", append(base, "-l")...); r.Code != 0 {
				t.Fatalf("publish -l: %+v", r)
			}
			if got := clitest.Bodies(clitest.Drain(t, q)); strings.Join(got, "|") != "a\n|\n|b\n|last" {
				t.Errorf("-l published %q", got)
			}
			// Empty stdin: one empty message; with -l: none.
			clitest.Run(t, run, "", base...)
			clitest.Run(t, run, "", append(base, "-l")...)
			if got := clitest.Bodies(clitest.Drain(t, q)); len(got) != 1 || got[0] != "" {
				t.Errorf("empty stdin published %q, want one empty message", got)
			}
		})
	}
}

func TestPublishMandatoryConfirm(t *testing.T) {
	url := clitest.Broker(t)
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			base := []string{"-u", url, "--protocol", proto}
			missing := "no-such-queue-for-amqp-publish"

			// Unroutable without --mandatory: dropped, exit 0 (as amqp-tools).
			if r := clitest.Run(t, run, "", append(base, "-r", missing, "-b", "x")...); r.Code != 0 {
				t.Errorf("unroutable: %+v", r)
			}
			r := clitest.Run(t, run, "", append(base, "-r", missing, "-b", "x", "--mandatory")...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "312 NO_ROUTE") {
				t.Errorf("unroutable --mandatory: %+v, want exit 1 and 312 NO_ROUTE", r)
			}
			r = clitest.Run(t, run, "1\n2\n3\n", append(base, "-r", q, "-l", "--mandatory")...)
			if r.Code != 0 || clitest.Count(t, q) != 3 {
				t.Errorf("routable --mandatory -l: %+v, %d messages", r, clitest.Count(t, q))
			}
			// A publish to a missing exchange is refused when the channel closes.
			r = clitest.Run(t, run, "", append(base, "-e", "no-such-exchange-for-amqp-publish", "-b", "x")...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "404 NOT_FOUND - no exchange") {
				t.Errorf("missing exchange: %+v, want exit 1 and the 404", r)
			}

			r = clitest.Run(t, run, "", append(base, "-r", q, "-b", "x", "--confirm")...)
			if proto == "0-8" {
				if r.Code != 1 || !strings.Contains(r.Stderr, "--confirm needs --protocol 0-9-1") {
					t.Errorf("--confirm on 0-8: %+v, want a usage error", r)
				}
				return
			}
			if r.Code != 0 || clitest.Count(t, q) != 4 {
				t.Errorf("--confirm: %+v", r)
			}
			r = clitest.Run(t, run, "", append(base, "-r", missing, "-b", "x", "--confirm", "--mandatory")...)
			if r.Code != 1 || !strings.Contains(r.Stderr, "312 NO_ROUTE") {
				t.Errorf("unroutable --confirm --mandatory: %+v", r)
			}
		})
	}
}

func TestPublishUsage(t *testing.T) {
	for _, args := range [][]string{{"-b", "x"}, {"-r", "q", "operand"}, {"-r", "q", "--protocol", "1"}} {
		if r := clitest.Run(t, run, "", args...); r.Code != 1 || r.Stdout != "" || r.Stderr == "" {
			t.Errorf("args %q: %+v, want a usage error", args, r)
		}
	}
}
