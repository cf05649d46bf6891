package main

import (
	"testing"

	"github.com/amqplib-go/amqp/internal/testbroker"
)

// TestRun runs the example against the test broker.
func TestRun(t *testing.T) {
	if err := run(testbroker.URL(t)); err != nil {
		t.Fatal(err)
	}
}
