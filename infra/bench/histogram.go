package bench

import (
	"math"
	"math/bits"
	"time"
)

// histSubBits sets the histogram's precision: each power-of-two range of
// values is split into 2^histSubBits buckets, so a bucket is never wider
// than 1/128 of the values in it (under 0.8 % error on any percentile),
// whatever the magnitude. Values below 2^(histSubBits+1) ns are exact.
const histSubBits = 7

// histBuckets covers every non-negative int64.
const histBuckets = (64 - histSubBits) << histSubBits

// Histogram records durations in log-linear buckets, the layout of
// HdrHistogram: constant relative precision over nanoseconds to hours in
// a fixed 58 kB, with no sorting or per-sample memory, so a long load run
// costs the same to summarise as a short one. The zero value is ready to
// use; it is not safe for concurrent use (give each worker its own, then
// Merge).
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max time.Duration
	sum      float64 // ns; float, so hours of samples cannot overflow it
}

// histIndex is the bucket of v ≥ 0. Below 2^(histSubBits+1) the bucket is
// the value; above, a value with its top bit at position m keeps its top
// histSubBits+1 bits, shifted down by m-histSubBits.
func histIndex(v uint64) int {
	if v < 1<<(histSubBits+1) {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - histSubBits
	return shift<<histSubBits + int(v>>shift)
}

// histHighest is the largest value that falls in bucket i.
func histHighest(i int) uint64 {
	if i < 1<<(histSubBits+1) {
		return uint64(i)
	}
	shift := i>>histSubBits - 1
	low := uint64(i-shift<<histSubBits) << shift
	return low + 1<<shift - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[histIndex(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
	h.sum += float64(d)
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the exact smallest sample; zero if empty.
func (h *Histogram) Min() time.Duration { return h.min }

// Max is the exact largest sample; zero if empty.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the exact mean; zero if empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Percentile is the p-th percentile (0-100) by the nearest-rank method,
// as the largest value of the bucket holding that rank, so it never
// understates a latency by more than a bucket's width and never exceeds
// Max. 0 gives Min; zero if empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if p <= 0 {
		return h.min
	}
	rank := uint64(math.Ceil(min(p, 100) / 100 * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(histHighest(i)), h.max)
		}
	}
	return h.max
}
