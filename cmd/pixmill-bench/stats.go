package main

import (
	"math"
	"slices"
	"time"
)

// Summary describes a set of durations, in milliseconds.
type Summary struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean_ms"`
	P50  float64 `json:"p50_ms"`
	P95  float64 `json:"p95_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 100) of sorted: the
// smallest value that at least p% of the values are less than or equal to. It is
// always one of the values (no interpolation), so with few samples p99 is the
// maximum, which is the honest answer. An empty slice gives NaN.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarize returns the summary of ds; an empty ds gives a zero Summary.
func summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	ms := make([]float64, len(ds))
	var sum float64
	for i, d := range ds {
		ms[i] = float64(d) / float64(time.Millisecond)
		sum += ms[i]
	}
	slices.Sort(ms)
	return Summary{
		N:    len(ms),
		Mean: sum / float64(len(ms)),
		P50:  percentile(ms, 50),
		P95:  percentile(ms, 95),
		P99:  percentile(ms, 99),
		Max:  ms[len(ms)-1],
	}
}

// perSecond is n events in d, or 0 when d is not positive.
func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
