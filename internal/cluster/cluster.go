// Package cluster gives chaos and failover tests the local three-node
// RabbitMQ cluster of scripts/cluster.sh: they may kill, stop, freeze and
// restart its nodes. The main broker on 5672 and node2 are never touched.
//
// Start starts the cluster on the first call in a test binary (a minute or
// two when it must be created) and reuses it afterwards; it keeps running
// when the tests end (make test stops it; scripts/cluster.sh stop). Start
// holds a lock file for the rest of the test, so one test binary at a time
// owns the cluster, and the test's end heals it: every node thawed, its
// application started, and a killed node started again.
//
// When the cluster cannot start, the test is skipped, or fails under
// CI=true.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amqplib-go/amqp/internal/testbroker"
)

// Nodes is the number of nodes.
const Nodes = 3

// LockWait bounds how long Start waits for another test binary to release
// the cluster.
const LockWait = 5 * time.Minute

var (
	scriptOnce sync.Once
	script     string
	scriptErr  error

	lockMu   sync.Mutex
	lockRefs int
	lockFile *os.File
)

// Cluster is the running cluster, owned by one test.
type Cluster struct {
	t    testing.TB
	urls []string
}

func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "cluster.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("cluster: %s not found", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cluster: no go.mod above the working directory")
		}
		dir = parent
	}
}

// run runs cluster.sh with args, bounded by d, and returns its stdout.
func run(d time.Duration, args ...string) (string, error) {
	scriptOnce.Do(func() { script, scriptErr = findScript() })
	if scriptErr != nil {
		return "", scriptErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("cluster.sh %s: %w\n%s%s", strings.Join(args, " "), err, out, lastLines(stderr.String(), 20))
	}
	return strings.TrimSpace(string(out)), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Start makes sure the cluster runs, and owns it until the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if err := acquire(t); err != nil {
		unavailable(t, err)
	}
	out, err := run(6*time.Minute, "start")
	if err != nil {
		unavailable(t, err)
	}
	urls := strings.Fields(out)
	if len(urls) != Nodes {
		t.Fatalf("cluster.sh start printed %q, want %d URLs", out, Nodes)
	}
	c := &Cluster{t: t, urls: urls}
	t.Cleanup(c.heal)
	return c
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("cluster: the local RabbitMQ cluster is not available (CI=true, so this is a failure): %v", err)
	}
	t.Skipf("cluster: the local RabbitMQ cluster is not available, skipping: %v", err)
}

// acquire takes the cross-process lock, released when t ends.
func acquire(t testing.TB) error {
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockRefs == 0 {
		dir := filepath.Join(os.TempDir(), "amqplib-go-cluster-lock-"+strconv.Itoa(os.Getuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(dir, "tests.lock"), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return err
		}
		if err := testbroker.Flock(f, LockWait); err != nil {
			f.Close()
			return err
		}
		lockFile = f
	}
	lockRefs++
	t.Cleanup(func() {
		lockMu.Lock()
		defer lockMu.Unlock()
		lockRefs--
		if lockRefs == 0 && lockFile != nil {
			_ = syscall.Flock(int(lockFile.Fd()), syscall.LOCK_UN)
			_ = lockFile.Close()
			lockFile = nil
		}
	})
	return nil
}

// heal leaves every node running, thawed and clustered.
func (c *Cluster) heal() {
	for n := 1; n <= Nodes; n++ {
		_, _ = run(10*time.Second, "thaw", strconv.Itoa(n))
	}
	if _, err := run(6*time.Minute, "start"); err != nil {
		c.t.Errorf("cluster: healing after the test: %v", err)
	}
	for n := 1; n <= Nodes; n++ {
		_, _ = run(2*time.Minute, "start-app", strconv.Itoa(n))
	}
}

// URL returns node n's AMQP URL (n from 1).
func (c *Cluster) URL(n int) string { return c.urls[n-1] }

// Addr returns node n's host:port.
func (c *Cluster) Addr(n int) string { return strings.TrimPrefix(c.urls[n-1], "amqp://guest:guest@") }

// Node returns the number of the node listening at addr (host:port), or 0.
func (c *Cluster) Node(addr string) int {
	for n := 1; n <= Nodes; n++ {
		if c.Addr(n) == addr {
			return n
		}
	}
	return 0
}

// do runs a cluster.sh command on node n, failing the test on error.
func (c *Cluster) do(d time.Duration, cmd string, n int, args ...string) string {
	c.t.Helper()
	out, err := run(d, append([]string{cmd, strconv.Itoa(n)}, args...)...)
	if err != nil {
		c.t.Fatalf("%v", err)
	}
	return out
}

// Kill kills node n's beam.smp with SIGKILL and waits until it is gone.
func (c *Cluster) Kill(n int) {
	c.t.Helper()
	pid, err := strconv.Atoi(c.do(10*time.Second, "pid", n))
	if err != nil {
		c.t.Fatalf("cluster: pid of node %d: %v", n, err)
	}
	c.do(10*time.Second, "kill", n)
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil || bytes.Contains(b, []byte(") Z")) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster: node %d (pid %d) still alive 10 s after SIGKILL", n, pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Restart starts node n again after Kill; it rejoins the cluster.
func (c *Cluster) Restart(n int) { c.t.Helper(); c.do(5*time.Minute, "restart", n) }

// StopApp runs rabbitmqctl stop_app on node n.
func (c *Cluster) StopApp(n int) { c.t.Helper(); c.do(2*time.Minute, "stop-app", n) }

// StartApp runs rabbitmqctl start_app on node n.
func (c *Cluster) StartApp(n int) { c.t.Helper(); c.do(3*time.Minute, "start-app", n) }

// Freeze stops node n with SIGSTOP.
func (c *Cluster) Freeze(n int) { c.t.Helper(); c.do(10*time.Second, "freeze", n) }

// Thaw resumes node n with SIGCONT.
func (c *Cluster) Thaw(n int) { c.t.Helper(); c.do(10*time.Second, "thaw", n) }

// CloseConns closes every client connection on node n (320).
func (c *Cluster) CloseConns(n int) { c.t.Helper(); c.do(time.Minute, "close-conns", n, "chaos test") }

// Ctl runs rabbitmqctl on node n and returns its output.
func (c *Cluster) Ctl(n int, args ...string) string {
	c.t.Helper()
	return c.do(time.Minute, "ctl", n, args...)
}

// Leader returns the number of the node leading a quorum queue (0 when
// unknown).
func (c *Cluster) Leader(queue string) int {
	c.t.Helper()
	for n := 1; n <= Nodes; n++ {
		out, err := run(time.Minute, "ctl", strconv.Itoa(n), "-q", "list_queues", "name", "leader", "--no-table-headers")
		if err != nil {
			continue // a node down: ask another
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) == 2 && f[0] == queue {
				for m := 1; m <= Nodes; m++ {
					if f[1] == "amqplib-c"+strconv.Itoa(m)+"@localhost" {
						return m
					}
				}
			}
		}
		return 0
	}
	return 0
}
