// Package node2 gives destructive tests a throwaway second RabbitMQ node
// (scripts/node2.sh): they may freeze it, raise its memory alarm or close all
// its connections. The main broker on port 5672 is never touched.
//
// Start starts the node on the first call in a test binary (about 10 s) and
// reuses it afterwards (a few milliseconds); the node keeps running when the
// tests end, for the next run (scripts/node2.sh stop stops it). Tests in
// several binaries may use it at once: Start holds a lock file for the rest
// of the test, so one test at a time owns the node, and it leaves the node
// healthy (thawed, no alarm) when the test ends.
//
// When the node cannot start, the test is skipped, or fails under CI=true.
package node2

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
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

// LockWait bounds how long Start waits for another test binary's test to
// release the node.
const LockWait = 3 * time.Minute

var (
	envOnce sync.Once
	envErr  error
	env     map[string]string
	script  string

	startMu sync.Mutex

	lockMu   sync.Mutex
	lockRefs int
	lockFile *os.File
)

// Script returns the path of scripts/node2.sh, found by walking up from the
// working directory to the module root.
func Script() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "node2.sh")
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("node2: %s not found", p)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("node2: no go.mod above the working directory")
		}
		dir = parent
	}
}

// loadEnv reads the node's settings from `node2.sh env`.
func loadEnv() error {
	envOnce.Do(func() {
		script, envErr = Script()
		if envErr != nil {
			return
		}
		var out []byte
		out, envErr = run(30*time.Second, "env")
		if envErr != nil {
			return
		}
		env = map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				env[k] = v
			}
		}
		for _, k := range []string{"URL", "NAME", "PORT", "STATE_DIR", "PID_FILE"} {
			if env[k] == "" {
				envErr = fmt.Errorf("node2: `node2.sh env` did not print %s", k)
			}
		}
	})
	return envErr
}

// run runs node2.sh with args, bounded by d, and returns its stdout (stderr
// is added to the error).
func run(d time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("node2.sh %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out, nil
}

// unavailable skips the test, or fails it under CI.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("node2: the second RabbitMQ node is not available (CI=true, so this is a failure): %v", err)
	}
	t.Skipf("node2: the second RabbitMQ node is not available, skipping: %v", err)
}

// Start makes sure node2 runs and returns its AMQP URL
// ("amqp://guest:guest@127.0.0.1:5682"). The calling test owns the node
// until it ends: then the node is thawed and its memory alarm cleared if the
// test left them so.
func Start(t testing.TB) string {
	t.Helper()
	if err := loadEnv(); err != nil {
		unavailable(t, err)
	}
	if err := acquire(t); err != nil {
		unavailable(t, err)
	}
	if err := ensure(); err != nil {
		unavailable(t, err)
	}
	if err := heal(); err != nil {
		t.Fatalf("node2: %v", err)
	}
	return env["URL"]
}

// acquire takes the cross-process test lock (reference-counted inside this
// process) and releases it when t ends.
func acquire(t testing.TB) error {
	lockMu.Lock()
	defer lockMu.Unlock()
	if lockRefs == 0 {
		dir := env["STATE_DIR"]
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
	t.Cleanup(release)
	return nil
}

func release() {
	_ = heal() // leave the node healthy for whoever is next
	lockMu.Lock()
	defer lockMu.Unlock()
	lockRefs--
	if lockRefs == 0 && lockFile != nil {
		_ = syscall.Flock(int(lockFile.Fd()), syscall.LOCK_UN)
		_ = lockFile.Close()
		lockFile = nil
	}
}

// ensure starts the node unless it is up (the fast path: its pid file names
// a live beam.smp and its AMQP port accepts connections).
func ensure() error {
	startMu.Lock()
	defer startMu.Unlock()
	if up() {
		return nil
	}
	_, err := run(4*time.Minute, "start")
	return err
}

// up reports whether the node's process lives and its AMQP port accepts
// connections.
func up() bool {
	if _, err := pid(); err != nil {
		return false
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+env["PORT"], time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// heal thaws a frozen node and clears a memory alarm left by an earlier test
// (also one from a test binary that crashed).
func heal() error {
	if p, err := pid(); err == nil && stopped(p) {
		if err := thaw(p); err != nil {
			return err
		}
	}
	if _, err := os.Stat(alarmMarker()); err == nil {
		if _, err := run(90*time.Second, "ctl", "set_vm_memory_high_watermark", "0.4"); err != nil {
			return err
		}
		_ = os.Remove(alarmMarker())
	}
	return nil
}

func alarmMarker() string { return filepath.Join(env["STATE_DIR"], "memory-alarm-on") }

// URL returns node2's AMQP URL without starting it.
func URL(t testing.TB) string {
	t.Helper()
	if err := loadEnv(); err != nil {
		unavailable(t, err)
	}
	return env["URL"]
}

// Name returns the node's Erlang node name.
func Name(t testing.TB) string {
	t.Helper()
	if err := loadEnv(); err != nil {
		unavailable(t, err)
	}
	return env["NAME"]
}

// Ctl runs rabbitmqctl -n node2 with args and returns its output; a failure
// fails the test.
func Ctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := CtlErr(args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// CtlErr is Ctl returning the error.
func CtlErr(args ...string) (string, error) {
	if err := loadEnv(); err != nil {
		return "", err
	}
	out, err := run(90*time.Second, append([]string{"ctl"}, args...)...)
	return string(out), err
}

// Pid returns the process id of the node's beam.smp, read from its pid file.
func Pid(t testing.TB) int {
	t.Helper()
	p, err := pid()
	if err != nil {
		t.Fatalf("node2: %v", err)
	}
	return p
}

func pid() (int, error) {
	b, err := os.ReadFile(env["PID_FILE"])
	if err != nil {
		return 0, err
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || p <= 0 {
		return 0, fmt.Errorf("bad pid file %s: %q", env["PID_FILE"], b)
	}
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm")
	if err != nil {
		return 0, fmt.Errorf("pid %d from %s is not running", p, env["PID_FILE"])
	}
	if c := strings.TrimSpace(string(comm)); !strings.HasPrefix(c, "beam") {
		return 0, fmt.Errorf("pid %d from %s is %q, not beam.smp", p, env["PID_FILE"], c)
	}
	// Never the main broker: node2's beam runs with -home STATE_DIR.
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
	if err != nil || !bytes.Contains(cmdline, []byte(env["STATE_DIR"])) {
		return 0, fmt.Errorf("pid %d from %s is not node2's beam.smp (its command line does not name %s)", p, env["PID_FILE"], env["STATE_DIR"])
	}
	return p, nil
}

// stopped reports whether the process is stopped by a signal (state T).
func stopped(p int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'T'
}

// waitState polls until the process is (or is no longer) stopped.
func waitState(p int, want bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for stopped(p) != want {
		if time.Now().After(deadline) {
			return fmt.Errorf("node2: pid %d: stopped=%v after 5s, want %v", p, !want, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// Freeze stops the node's beam.smp with SIGSTOP: it keeps its sockets but
// answers nothing, like a hung host. It is thawed when the test ends at the
// latest.
func Freeze(t testing.TB) {
	t.Helper()
	p := Pid(t)
	t.Cleanup(func() { _ = thaw(p) })
	if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
		t.Fatalf("node2: SIGSTOP %d: %v", p, err)
	}
	if err := waitState(p, true); err != nil {
		t.Fatalf("%v", err)
	}
}

// Thaw resumes a frozen node with SIGCONT.
func Thaw(t testing.TB) {
	t.Helper()
	if err := thaw(Pid(t)); err != nil {
		t.Fatalf("%v", err)
	}
}

func thaw(p int) error {
	if err := syscall.Kill(p, syscall.SIGCONT); err != nil {
		return fmt.Errorf("node2: SIGCONT %d: %w", p, err)
	}
	return waitState(p, false)
}

// CloseAllConnections makes the node close every client connection with
// 320 CONNECTION_FORCED and the given reason.
func CloseAllConnections(t testing.TB, reason string) {
	t.Helper()
	Ctl(t, "close_all_connections", reason)
}

// SetMemoryAlarm raises (on) or clears the node's memory alarm by setting
// its memory high watermark to 0.0001 or back to 0.4. An alarm still on
// when the test ends is cleared.
func SetMemoryAlarm(t testing.TB, on bool) {
	t.Helper()
	if on {
		// The marker lets a later Start clear an alarm left by a crash.
		if err := os.WriteFile(alarmMarker(), nil, 0o600); err != nil {
			t.Fatalf("node2: %v", err)
		}
		Ctl(t, "set_vm_memory_high_watermark", "0.0001")
		return
	}
	Ctl(t, "set_vm_memory_high_watermark", "0.4")
	_ = os.Remove(alarmMarker())
}

// Alarms returns the node's active alarms as rabbitmqctl prints them
// ("[]" when none).
func Alarms(t testing.TB) string {
	t.Helper()
	return strings.TrimSpace(Ctl(t, "eval", "rabbit_alarm:get_alarms()."))
}

// StopApp stops the RabbitMQ application on the node (rabbitmqctl
// stop_app): it closes every client connection with 320 and stops
// listening, while the Erlang node lives on. StartApp, or the test's end,
// starts it again.
func StopApp(t testing.TB) {
	t.Helper()
	t.Cleanup(func() { _, _ = CtlErr("start_app") })
	Ctl(t, "stop_app")
}

// StartApp starts the RabbitMQ application again after StopApp.
func StartApp(t testing.TB) {
	t.Helper()
	Ctl(t, "start_app")
}

// Kill kills the node's beam.smp with SIGKILL and waits until it is gone:
// its sockets are reset by the kernel, and nothing is flushed. Restart, or
// the test's end, starts the node again (its durable state is kept).
func Kill(t testing.TB) {
	t.Helper()
	p := Pid(t)
	t.Cleanup(func() { _ = ensure() })
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		t.Fatalf("node2: SIGKILL %d: %v", p, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(p)); err != nil {
			return
		}
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/stat"); bytes.Contains(b, []byte(") Z")) {
			return // a zombie: dead, not yet reaped by its parent
		}
		if time.Now().After(deadline) {
			t.Fatalf("node2: pid %d still alive 10 s after SIGKILL", p)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Restart starts the node again after Kill (about 10 s).
func Restart(t testing.TB) {
	t.Helper()
	if err := ensure(); err != nil {
		t.Fatalf("node2: restart: %v", err)
	}
}
