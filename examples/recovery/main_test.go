package main

import (
	"testing"

	"github.com/amqplib-go/amqp"
	"github.com/amqplib-go/amqp/internal/faultproxy"
	"github.com/amqplib-go/amqp/internal/testbroker"
)

// TestRun runs the example through a fault proxy that resets both
// connections twice while it publishes: it still publishes and consumes
// every message.
func TestRun(t *testing.T) {
	url := testbroker.URL(t)
	uri, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	p := faultproxy.New(t, uri.Addr())
	const n = 200
	err = run(p.URL(url), nil, n, func(i int) {
		if i == n/2 || i == 3*n/4 {
			p.Reset()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Accepted(); got < 6 {
		t.Fatalf("%d connections accepted, want at least 6 (2 + 2 recoveries of each)", got)
	}
}
