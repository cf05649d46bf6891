package main

import (
	"math/bits"
	"time"
)

// histogram records durations in log-linear buckets: exact below 256 ns,
// then 128 buckets per power of two (under 1% error), in a fixed 7.4k-slot
// array, so recording never allocates and a long run needs no more memory.
type histogram struct {
	counts [256 + 56*128]uint64
	n      uint64
	min    time.Duration // exact, like max
	max    time.Duration
}

func bucket(v uint64) int {
	if v < 256 {
		return int(v)
	}
	shift := bits.Len64(v) - 8 // v>>shift is in [128, 255]
	return 256 + (shift-1)*128 + int(v>>shift) - 128
}

// bucketValue is the middle of a bucket.
func bucketValue(i int) uint64 {
	if i < 256 {
		return uint64(i)
	}
	shift := (i-256)/128 + 1
	m := uint64((i-256)%128 + 128)
	return m<<shift + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.n++
	if d > h.max {
		h.max = d
	}
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the duration below which a fraction q of the samples
// fall (0 with no samples); quantile(1) is the exact maximum, and no
// quantile is below the exact minimum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	if q <= 0 {
		return h.min
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return max(min(time.Duration(bucketValue(i)), h.max), h.min)
		}
	}
	return h.max
}
