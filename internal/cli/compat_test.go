package cli_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/cli/clitest"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// The tests in this file run Debian's amqp-tools (rabbitmq-c) and ours on
// the same inputs and compare what they publish, print and return. The
// reference tools ignore $AMQP_URL, so both get -u.

// TestCompat builds our commands once and compares them with amqp-tools.
func TestCompat(t *testing.T) {
	p := newPair(t)
	t.Run("publish", func(t *testing.T) { compatPublish(t, p) })
	t.Run("get", func(t *testing.T) { compatGet(t, p) })
	t.Run("declare and delete", func(t *testing.T) { compatDeclareDelete(t, p) })
	t.Run("consume", func(t *testing.T) { compatConsume(t, p) })
	t.Run("errors", func(t *testing.T) { compatErrors(t, p) })
}

type pair struct {
	url          string
	ours, theirs string // directories
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{url: clitest.Broker(t), theirs: clitest.AmqpTools(t)}
	p.ours = clitest.Build(t, t.TempDir())
	return p
}

// run runs a tool from dir with -u and the arguments; extra are appended to
// ours only (such as --protocol).
func (p *pair) run(t *testing.T, dir, stdin, name string, args []string, extra ...string) clitest.Result {
	t.Helper()
	all := append([]string{"-u", p.url}, args...)
	if dir == p.ours {
		all = append(all, extra...)
	}
	return clitest.Exec(t, stdin, nil, filepath.Join(dir, name), all...)
}

func compatPublish(t *testing.T, p *pair) {
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"body flag", "", []string{"-b", "hello"}},
		{"stdin", "binary\x00\xff\nand lines\n", nil},
		{"empty stdin", "", nil},
		{"lines", "a\n\nb\r\nlast", []string{"-l"}},
		// (amqp-tools fails on a header without a colon: see docs/cli.md.)
		{"properties", "x", []string{"-p", "-C", "text/plain", "-E", "UTF-8", "-t", "replies", "-H", "k1: v1", "-H", "k2:v2  "}},
		{"long options", "y", []string{"--persistent", "--content-type=a/b", "--header=h: w", "--body", "z"}},
	} {
		for _, proto := range clitest.Protocols {
			t.Run(tc.name+"/"+proto, func(t *testing.T) {
				q1, q2 := clitest.Queue(t), clitest.Queue(t)
				r1 := p.run(t, p.theirs, tc.stdin, "amqp-publish", append([]string{"-r", q1}, tc.args...))
				r2 := p.run(t, p.ours, tc.stdin, "amqp-publish", append([]string{"-r", q2}, tc.args...), "--protocol", proto)
				if r1.Code != r2.Code || r1.Stdout != r2.Stdout {
					t.Fatalf("theirs %+v, ours %+v", r1, r2)
				}
				theirs, ours := clitest.Drain(t, q1), clitest.Drain(t, q2)
				if len(theirs) != len(ours) || len(ours) == 0 {
					t.Fatalf("theirs published %q, ours %q", clitest.Bodies(theirs), clitest.Bodies(ours))
				}
				for i := range ours {
					if !reflect.DeepEqual(theirs[i].Message, ours[i].Message) {
						t.Errorf("message %d: theirs %+v, ours %+v", i, theirs[i].Message, ours[i].Message)
					}
				}
			})
		}
	}
}

func compatGet(t *testing.T, p *pair) {
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q := clitest.Queue(t)
			get := []string{"-q", q}
			body := "payload\x00with\nbytes\xfe"
			// Publish with ours, get with theirs, and the other way round.
			if r := p.run(t, p.ours, body, "amqp-publish", []string{"-r", q}, "--protocol", proto); r.Code != 0 {
				t.Fatalf("our publish: %+v", r)
			}
			r1 := p.run(t, p.theirs, "", "amqp-get", get)
			if r := p.run(t, p.theirs, body, "amqp-publish", []string{"-r", q}); r.Code != 0 {
				t.Fatalf("their publish: %+v", r)
			}
			r2 := p.run(t, p.ours, "", "amqp-get", get, "--protocol", proto)
			if r1.Code != 0 || r2.Code != 0 || r1.Stdout != body || r2.Stdout != body {
				t.Errorf("theirs %+v, ours %+v, want %q and exit 0 from both", r1, r2, body)
			}
			// Empty queue: exit 2, nothing printed.
			r1 = p.run(t, p.theirs, "", "amqp-get", get)
			r2 = p.run(t, p.ours, "", "amqp-get", get, "--protocol", proto)
			if r1.Code != 2 || r2.Code != 2 || r1.Stdout != "" || r2.Stdout != "" {
				t.Errorf("empty queue: theirs %+v, ours %+v", r1, r2)
			}
			// Missing queue: exit 1, nothing printed, the 404 on stderr.
			missing := []string{"-q", testbroker.Name(t, "missing")}
			r1 = p.run(t, p.theirs, "", "amqp-get", missing)
			r2 = p.run(t, p.ours, "", "amqp-get", missing, "--protocol", proto)
			if r1.Code != 1 || r2.Code != 1 || r1.Stdout != "" || r2.Stdout != "" || !strings.Contains(r2.Stderr, "404 NOT_FOUND") {
				t.Errorf("missing queue: theirs %+v, ours %+v", r1, r2)
			}
		})
	}
}

func compatDeclareDelete(t *testing.T, p *pair) {
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			for _, args := range [][]string{nil, {"-d"}} {
				name := testbroker.Name(t, "decl")
				t.Cleanup(func() { clitest.DeleteQueue(t, name) })
				a := append([]string{"-q", name}, args...)
				r1 := p.run(t, p.theirs, "", "amqp-declare-queue", a)
				r2 := p.run(t, p.ours, "", "amqp-declare-queue", a, "--protocol", proto)
				if r1 != r2 || r1.Code != 0 || r1.Stdout != name+"\n" {
					t.Errorf("declare %q: theirs %+v, ours %+v", a, r1, r2)
				}
			}
			gen := regexp.MustCompile(`^amq\.gen-[A-Za-z0-9_-]{22}\n$`)
			r1 := p.run(t, p.theirs, "", "amqp-declare-queue", []string{"-q", ""})
			r2 := p.run(t, p.ours, "", "amqp-declare-queue", []string{"-q", ""}, "--protocol", proto)
			if r1.Code != 0 || r2.Code != 0 || !gen.MatchString(r1.Stdout) || !gen.MatchString(r2.Stdout) {
				t.Errorf("server-named: theirs %+v, ours %+v", r1, r2)
			}
			for _, r := range []clitest.Result{r1, r2} {
				if q := strings.TrimSpace(r.Stdout); q != "" {
					clitest.DeleteQueue(t, q)
				}
			}

			// Delete: the message count; --if-empty refuses; a missing queue is 0.
			q1, q2 := clitest.Queue(t), clitest.Queue(t)
			msgs := []amqp.Message{amqp.NewMessage("1"), amqp.NewMessage("2"), amqp.NewMessage("3")}
			clitest.Publish(t, q1, msgs...)
			clitest.Publish(t, q2, msgs...)
			for _, args := range [][]string{{"-e"}, {"--if-empty"}, {"--if-unused"}, nil} {
				r1 := p.run(t, p.theirs, "", "amqp-delete-queue", append([]string{"-q", q1}, args...))
				r2 := p.run(t, p.ours, "", "amqp-delete-queue", append([]string{"-q", q2}, args...), "--protocol", proto)
				if r1.Code != r2.Code || r1.Stdout != r2.Stdout {
					t.Errorf("delete %q: theirs %+v, ours %+v", args, r1, r2)
				}
			}
		})
	}
}

func compatConsume(t *testing.T, p *pair) {
	for _, proto := range clitest.Protocols {
		t.Run(proto, func(t *testing.T) {
			q1, q2 := clitest.Queue(t), clitest.Queue(t)
			var msgs []amqp.Message
			for _, b := range []string{"one\n", "two\n", "three\n", "four\n", "five\n", "six\n"} {
				msgs = append(msgs, amqp.NewMessage(b))
			}
			clitest.Publish(t, q1, msgs...)
			clitest.Publish(t, q2, msgs...)
			for _, args := range [][]string{
				{"-c", "2", "cat"},
				{"-c", "1", "-p", "1", "--", "sh", "-c", "tr a-z A-Z"},
				// Not acked: the message stays. (The failing command reads its
				// input: amqp-tools may die of SIGPIPE otherwise.)
				{"-c", "1", "--", "sh", "-c", "cat >/dev/null; exit 1"},
				{"--count=1", "--prefetch-count=10", "cat"},
				// No-ack: gone whatever the command does. (RabbitMQ ignores the
				// prefetch then, so how many more it pushes before the close
				// races; the counts are not compared.)
				{"-c", "1", "-A", "--", "sh", "-c", "cat >/dev/null; exit 1"},
			} {
				r1 := p.run(t, p.theirs, "", "amqp-consume", append([]string{"-q", q1}, args...))
				r2 := p.run(t, p.ours, "", "amqp-consume", append([]string{"-q", q2}, args...), "--protocol", proto)
				if r1.Code != r2.Code || r1.Stdout != r2.Stdout {
					t.Errorf("consume %q: theirs %+v, ours %+v", args, r1, r2)
				}
				if slices.Contains(args, "-A") {
					continue
				}
				if n1, n2 := clitest.Count(t, q1), clitest.Count(t, q2); n1 != n2 {
					t.Errorf("consume %q: %d messages left by theirs, %d by ours", args, n1, n2)
				}
			}
			missing := []string{"-q", testbroker.Name(t, "missing"), "-c", "1", "cat"}
			r1 := p.run(t, p.theirs, "", "amqp-consume", missing)
			r2 := p.run(t, p.ours, "", "amqp-consume", missing, "--protocol", proto)
			if r1.Code != 1 || r2.Code != 1 {
				t.Errorf("consume from a missing queue: theirs %+v, ours %+v", r1, r2)
			}
		})
	}
}

// compatErrors checks that both exit 1 on the same usage and
// connection errors, and 0 for --help.
func compatErrors(t *testing.T, p *pair) {
	authOK := filepath.Join(t.TempDir(), "auth-ok")
	authBad := filepath.Join(t.TempDir(), "auth-bad")
	os.WriteFile(authOK, []byte("username:guest\npassword:guest\n"), 0o600)
	os.WriteFile(authBad, []byte("guest:guest\n"), 0o600)
	cases := []struct {
		tool string
		args []string
		code int
	}{
		{"amqp-get", []string{"--help"}, 0},
		{"amqp-get", nil, 1},                          // no queue
		{"amqp-get", []string{"-q", "x", "extra"}, 1}, // operand
		{"amqp-get", []string{"--bogus", "-q", "x"}, 1},
		{"amqp-get", []string{"-q"}, 1},
		{"amqp-publish", []string{"-b", "x"}, 1}, // neither exchange nor routing key
		{"amqp-declare-queue", nil, 1},
		{"amqp-delete-queue", nil, 1},
		{"amqp-delete-queue", []string{"-q", ""}, 1},
		{"amqp-consume", []string{"-q", "x", "-r", "k", "cat"}, 1}, // -r needs -e
		{"amqp-consume", []string{"-q", "x", "-c", "many", "cat"}, 1},
	}
	for _, tc := range cases {
		for _, dir := range []string{p.theirs, p.ours} {
			r := clitest.Exec(t, "", nil, filepath.Join(dir, tc.tool), tc.args...)
			if r.Code != tc.code {
				t.Errorf("%s %s %q: exit %d, want %d (%+v)", dir, tc.tool, tc.args, r.Code, tc.code, r)
			}
		}
	}
	// Connection options, without -u (amqp-tools refuses to mix them), so
	// the broker must take amqp-tools' defaults: guest/guest on vhost "/".
	u, err := amqp.ParseURI(p.url)
	if err != nil || u.Username != "guest" || u.Password != "guest" || u.Vhost != "/" || u.TLS {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the test broker does not take guest/guest on vhost \"/\", which the amqp-tools comparison needs")
		}
		t.Skipf("the test broker does not take guest/guest on vhost \"/\"")
	}
	host := u.Addr()
	q := clitest.Queue(t)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-s", host, "-q", q}, 2},
		{[]string{"-s", host, "--authfile", authOK, "-q", q}, 2},
		{[]string{"-s", host, "--authfile", authBad, "-q", q}, 1},
		{[]string{"-s", host, "--authfile", filepath.Join(t.TempDir(), "none"), "-q", q}, 1},
		{[]string{"-s", host, "--username", "guest", "--password", "wrong", "-q", q}, 1},
		{[]string{"-s", host, "--vhost", "no-such-vhost", "-q", q}, 1},
		{[]string{"-s", "127.0.0.1:1", "-q", q}, 1},
		{[]string{"-s", host, "--heartbeat", "-1", "-q", q}, 1},
	} {
		for _, dir := range []string{p.theirs, p.ours} {
			r := clitest.Exec(t, "", nil, filepath.Join(dir, "amqp-get"), tc.args...)
			if r.Code != tc.code {
				t.Errorf("%s amqp-get %q: exit %d, want %d (%+v)", dir, tc.args, r.Code, tc.code, r)
			}
		}
	}
}
