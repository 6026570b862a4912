package bench

import (
	"fmt"
	"math"
)

const module = "github.com/keygate/keygate/"

// Benchmark IDs the targets refer to.
const (
	Floor             = module + "shared/authorizer.BenchmarkFloor"
	DecisionHit       = module + "shared/authorizer.BenchmarkDecisionCacheHit"
	DecisionMalformed = module + "shared/authorizer.BenchmarkDecisionMalformed"
	DecisionForged    = module + "shared/authorizer.BenchmarkDecisionForged"
	CRC32Token        = module + "shared/apikey.BenchmarkCRC32Token"
	ParseChecksum     = module + "shared/apikey.BenchmarkParse/bad-checksum"
	ParseLength       = module + "shared/apikey.BenchmarkParse/bad-length"
	ParseValid        = module + "shared/apikey.BenchmarkParse/valid"
	Digest            = module + "shared/apikey.BenchmarkDigest"
)

// Target is one checked budget: a ratio of two benchmarks' median ns/op,
// or a benchmark's median allocations.
type Target struct {
	Name string
	// Bench is the benchmark under test; Baseline, if set, makes the
	// target a ratio Bench/Baseline of median ns/op; otherwise the target
	// is on Bench's median allocs/op.
	Bench, Baseline string
	Max             float64
}

// Targets are the budgets of BENCHMARKS.md that Go benchmarks can check.
var Targets = []Target{
	{Name: "cache-hit decision / floor (HMAC-SHA-256)", Bench: DecisionHit, Baseline: Floor, Max: 5},
	{Name: "cache-hit decision allocs/op", Bench: DecisionHit, Max: 20},
	{Name: "malformed token (bad checksum): Parse / CRC32 of the token", Bench: ParseChecksum, Baseline: CRC32Token, Max: 2},
	{Name: "malformed token (bad length): Parse / CRC32 of the token", Bench: ParseLength, Baseline: CRC32Token, Max: 2},
	{Name: "malformed token (bad checksum): decision / CRC32 of the token", Bench: DecisionMalformed, Baseline: CRC32Token, Max: 2},
	{Name: "forged token (real ID, no pepper): decision / floor (HMAC-SHA-256)", Bench: DecisionForged, Baseline: Floor, Max: 2},
	{Name: "forged token allocs/op", Bench: DecisionForged, Max: 0},
	{Name: "token parse allocs/op", Bench: ParseValid, Max: 0},
	{Name: "digest (HMAC) allocs/op", Bench: Digest, Max: 0},
}

// Outcome is a target evaluated against medians.
type Outcome struct {
	Target
	Value float64 // the ratio or the allocations; NaN if not measured
	Err   error   // a benchmark is missing
}

// Pass reports whether the target is met.
func (o Outcome) Pass() bool { return o.Err == nil && !math.IsNaN(o.Value) && o.Value <= o.Max }

// Detail is the figures behind the value, for the report.
func (o Outcome) Detail(series []*Series) string {
	b := Find(series, o.Bench)
	if b == nil {
		return ""
	}
	if o.Baseline == "" {
		return fmt.Sprintf("%g allocs/op", b.Median("allocs/op"))
	}
	base := Find(series, o.Baseline)
	if base == nil {
		return ""
	}
	return fmt.Sprintf("%s / %s", FormatNs(b.Median("ns/op")), FormatNs(base.Median("ns/op")))
}

// Check evaluates every target. A missing benchmark fails its target, so
// a renamed benchmark cannot pass silently.
func Check(series []*Series, targets []Target) []Outcome {
	var out []Outcome
	for _, t := range targets {
		o := Outcome{Target: t, Value: math.NaN()}
		b := Find(series, t.Bench)
		switch {
		case b == nil:
			o.Err = fmt.Errorf("benchmark %s not found", t.Bench)
		case t.Baseline == "":
			o.Value = b.Median("allocs/op")
			if math.IsNaN(o.Value) {
				o.Err = fmt.Errorf("%s: no allocs/op (run with -benchmem)", t.Bench)
			}
		default:
			base := Find(series, t.Baseline)
			if base == nil {
				o.Err = fmt.Errorf("benchmark %s not found", t.Baseline)
				break
			}
			o.Value = b.Median("ns/op") / base.Median("ns/op")
		}
		out = append(out, o)
	}
	return out
}
