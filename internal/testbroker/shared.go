package testbroker

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// Flock takes an exclusive lock on f, polling for up to wait while another
// process holds it (test binaries share throwaway nodes this way).
func Flock(f *os.File, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return fmt.Errorf("another test binary has held %s for %s: %w", f.Name(), wait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// OpenFDs counts this process's open file descriptors.
func OpenFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting file descriptors: %v", err)
	}
	return len(ents)
}

// Settles waits (bounded by limit) until the goroutine and descriptor counts
// are back at or below the baseline, and fails with a goroutine dump
// otherwise.
func Settles(t testing.TB, goroutines, fds int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		g, f := runtime.NumGoroutine(), OpenFDs(t)
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after %s: %d goroutines (was %d), %d file descriptors (was %d)\n%s",
				limit, g, goroutines, f, fds, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
