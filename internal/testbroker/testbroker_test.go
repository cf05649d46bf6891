package testbroker

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestName(t *testing.T) {
	a, b := Name(t, "q"), Name(t, "q")
	if a == b {
		t.Errorf("Name returned %q twice", a)
	}
	if !regexp.MustCompile(`^q-TestName-[0-9a-f]{8}$`).MatchString(a) {
		t.Errorf("Name(t, \"q\") = %q", a)
	}
	t.Run("sub test/with spaces & symbols", func(t *testing.T) {
		n := Name(t, "")
		if !regexp.MustCompile(`^[A-Za-z0-9._-]+$`).MatchString(n) || !strings.HasPrefix(n, "TestName-sub_test-with_spaces") {
			t.Errorf("Name(t, \"\") = %q", n)
		}
	})
}

func TestProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := probe("amqp://u:p@"+addr+"/", time.Second); err != nil {
		t.Errorf("probe of a listening port: %v", err)
	}
	ln.Close()
	err = probe("amqp://user:Sentinel99@"+addr+"/", 300*time.Millisecond)
	if err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "Sentinel99") {
		t.Errorf("probe error shows the password: %v", err)
	}
	if err := probe("amqp://u:Sentinel99@%zz", 0); err == nil || strings.Contains(err.Error(), "Sentinel99") {
		t.Errorf("probe of a bad URL: %v", err)
	}
}

func TestURL(t *testing.T) {
	u := URL(t) // skips (or fails under CI) without a broker
	if u == "" {
		t.Fatal("URL returned an empty string")
	}
}
