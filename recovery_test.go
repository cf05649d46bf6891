package amqp_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/amqplib-go/amqp"
)

// The first round starts at once; then each round waits at random up to a
// bound that doubles from MinBackoff and stops at MaxBackoff.
func TestRecoveryBackoff(t *testing.T) {
	r := &amqp.Recovery{MinBackoff: 10 * time.Millisecond, MaxBackoff: 45 * time.Millisecond}
	assert.Zero(t, r.Backoff(0))
	bounds := []time.Duration{0, 10, 20, 40, 45, 45}
	for round := 1; round < len(bounds); round++ {
		bound := bounds[round] * time.Millisecond
		var longest time.Duration
		for range 2000 {
			d := r.Backoff(round)
			assert.Positive(t, d)
			assert.LessOrEqual(t, d, bound, "round %d", round)
			longest = max(longest, d)
		}
		assert.Greater(t, longest, bound/2, "round %d: the draws spread over the range", round)
	}
	def := &amqp.Recovery{}
	assert.LessOrEqual(t, def.Backoff(1), amqp.DefaultMinBackoff)
	assert.LessOrEqual(t, def.Backoff(100), amqp.DefaultMaxBackoff)
}
