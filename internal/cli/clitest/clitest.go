// Package clitest helps test the amqp-* commands: running a command's run
// function in-process, building the binaries, finding Debian's amqp-tools,
// and preparing queues on the test broker with client091.
package clitest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/client091"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// Protocols are the --protocol values every command is tested with.
var Protocols = []string{"0-9-1", "0-8"}

// Tools are the commands, by name.
var Tools = []string{"amqp-publish", "amqp-get", "amqp-consume", "amqp-declare-queue", "amqp-delete-queue"}

// Result is what a command wrote and returned.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// RunFunc is the signature of each command's run function.
type RunFunc func(args []string, stdin io.Reader, stdout, stderr io.Writer) int

// Run runs a command in-process with stdin as its standard input.
func Run(t testing.TB, run RunFunc, stdin string, args ...string) Result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Exec runs a program with stdin and returns what it wrote and its exit
// code; it fails the test if the program could not run or ran past 30 s.
func Exec(t testing.TB, stdin string, env []string, prog string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", prog, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %q ran for more than 30s; stderr: %s", prog, args, errOut.String())
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", prog, err)
	}
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// Build compiles the commands into dir (go build -o dir/ ./cmd/...) and
// returns dir.
func Build(t testing.TB, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	pkgs := make([]string, len(Tools))
	for i, name := range Tools {
		pkgs[i] = "github.com/amqplib-go/amqp/cmd/" + name
	}
	cmd := exec.Command(goBin, append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// AmqpTools returns the directory holding Debian's amqp-tools. When they
// are missing the test is skipped, or fails under CI=true (make test runs
// scripts/broker.sh deps, which installs them).
func AmqpTools(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("amqp-get")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("amqp-tools (Debian's rabbitmq-c tools) are not installed (CI=true, so this is a failure): run scripts/broker.sh deps as root")
		}
		t.Skip("amqp-tools are not installed (apt-get install amqp-tools, or scripts/broker.sh deps as root)")
	}
	return filepath.Dir(p)
}

// Broker returns the test broker's URL (see testbroker.URL).
func Broker(t testing.TB) string { return testbroker.URL(t) }

var (
	connMu sync.Mutex
	conns  = map[string]*client091.Conn{}
)

// channel opens a channel on a shared 0-9-1 connection for test set-up.
func channel(t testing.TB) *client091.Channel {
	t.Helper()
	url := Broker(t)
	connMu.Lock()
	defer connMu.Unlock()
	c := conns[url]
	if c == nil || c.IsClosed() {
		var err error
		if c, err = client091.DialConfig(url, amqp.Config{ConnectionName: "clitest", Timeout: 10 * time.Second}); err != nil {
			t.Fatalf("clitest: dial: %v", err)
		}
		conns[url] = c
	}
	ch, err := c.Channel()
	if err != nil {
		t.Fatalf("clitest: channel: %v", err)
	}
	return ch
}

// with runs fn on a fresh set-up channel.
func with(t testing.TB, fn func(ch *client091.Channel) error) {
	t.Helper()
	ch := channel(t)
	defer ch.Close()
	if err := fn(ch); err != nil {
		t.Fatalf("clitest: %v", err)
	}
}

// Queue declares a fresh queue named for the test and deletes it when the
// test ends.
func Queue(t testing.TB) string {
	t.Helper()
	name := testbroker.Name(t, "cli")
	with(t, func(ch *client091.Channel) error { _, err := ch.QueueDeclare(name); return err })
	t.Cleanup(func() { DeleteQueue(t, name) })
	return name
}

// DeleteQueue deletes a queue if it exists.
func DeleteQueue(t testing.TB, name string) {
	t.Helper()
	with(t, func(ch *client091.Channel) error { _, err := ch.QueueDelete(name); return err })
}

// Publish publishes messages to a queue through the default exchange and
// waits for the broker's confirms.
func Publish(t testing.TB, queue string, msgs ...amqp.Message) {
	t.Helper()
	with(t, func(ch *client091.Channel) error {
		if err := ch.ConfirmSelect(); err != nil {
			return err
		}
		for _, m := range msgs {
			if err := ch.Publish("", queue, m); err != nil {
				return err
			}
		}
		return ch.WaitConfirms()
	})
}

// Get fetches one message (acknowledged on delivery); nil when the queue is
// empty.
func Get(t testing.TB, queue string) *amqp.Delivery {
	t.Helper()
	var d *amqp.Delivery
	with(t, func(ch *client091.Channel) error {
		var err error
		d, _, err = ch.Get(queue, amqp.GetOptions{NoAck: true})
		return err
	})
	return d
}

// Drain fetches every message left in a queue.
func Drain(t testing.TB, queue string) []*amqp.Delivery {
	t.Helper()
	var all []*amqp.Delivery
	for d := Get(t, queue); d != nil; d = Get(t, queue) {
		all = append(all, d)
	}
	return all
}

// Bodies returns the bodies of deliveries as strings.
func Bodies(ds []*amqp.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Body)
	}
	return out
}

// Count returns how many messages are ready in a queue.
func Count(t testing.TB, queue string) int {
	t.Helper()
	var n int
	with(t, func(ch *client091.Channel) error {
		q, err := ch.QueueDeclare(queue, amqp.QueueOptions{Passive: true})
		n = q.Messages
		return err
	})
	return n
}

// PublishRouted publishes a message to an exchange, retrying for up to 10 s
// until the broker routes it to a queue: for exchanges that a command under
// test is about to bind.
func PublishRouted(t testing.TB, exchange, key, body string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		returned := false
		with(t, func(ch *client091.Channel) error {
			ch.OnReturn(func(*amqp.Return) { returned = true })
			if err := ch.ConfirmSelect(); err != nil {
				return err
			}
			if err := ch.PublishConfirmed(exchange, key, amqp.NewMessage(body), amqp.PublishOptions{Mandatory: true}); err != nil {
				return err
			}
			for ch.Pending() > 0 { // a return comes before its confirm
				if err := ch.Wait(); err != nil {
					return err
				}
			}
			return nil
		})
		if !returned {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clitest: nothing bound to exchange %q with key %q after 10s", exchange, key)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Exchange declares an auto-delete exchange named for the test.
func Exchange(t testing.TB, kind string) string {
	t.Helper()
	name := testbroker.Name(t, "cli-x")
	with(t, func(ch *client091.Channel) error { return ch.ExchangeDeclare(name, kind) })
	t.Cleanup(func() { with(t, func(ch *client091.Channel) error { return ch.ExchangeDelete(name) }) })
	return name
}

// Async runs fn on another goroutine; the returned function waits up to 20 s
// for its result.
func Async(t testing.TB, fn func() Result) func() Result {
	done := make(chan Result, 1)
	go func() { done <- fn() }()
	return func() Result {
		t.Helper()
		select {
		case r := <-done:
			return r
		case <-time.After(20 * time.Second):
			t.Fatalf("the command did not finish within 20s")
			return Result{}
		}
	}
}
