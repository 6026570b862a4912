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
	// MeteredWrites reports usage-writes/allowed: the lease writes per
	// allowed call of a key limited to 1,000 calls a minute over 10
	// execution environments.
	DecisionHitMetered = module + "shared/authorizer.BenchmarkDecisionCacheHitMetered/rate-limited"
	MeteredWrites      = module + "shared/authorizer.BenchmarkMeteredWrites"
	// MiddlewareHit is shared/middleware's Direct mode on a cache hit: a
	// full ServeHTTP to a no-op handler (docs/middleware.md).
	MiddlewareHit = module + "shared/middleware.BenchmarkDirectCacheHit"
)

// Handle is the ID of the handler benchmark for an event shape and a kind
// of request: "hit", "miss", "forged" or "malformed".
func Handle(shape, kind string) string {
	return module + "shared/authorizer.BenchmarkHandle/" + shape + "/" + kind
}

// Shapes are the event shapes the handler benchmarks run.
var Shapes = []string{"rest-token", "rest-request", "http-v1", "http-v2"}

// Target is one checked budget: a ratio of two benchmarks' median ns/op,
// a benchmark's median ns/op, or its median allocations.
type Target struct {
	Name string
	// Bench is the benchmark under test; Baseline, if set, makes the
	// target a ratio Bench/Baseline of median ns/op; otherwise, with Ns
	// set, the target is Bench's median ns/op, and without it, Bench's
	// median allocs/op.
	Bench, Baseline string
	Ns              bool
	// Unit, if set, makes the target Bench's median of that reported
	// metric (b.ReportMetric), such as usage-writes/allowed.
	Unit string
	Max  float64
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
	{Name: "cache-hit decision of a metered key on a held lease, allocs/op", Bench: DecisionHitMetered, Max: 0},
	{Name: "usage writes per allowed call, 1,000/min over 10 environments", Bench: MeteredWrites, Unit: "usage-writes/allowed", Max: 0.1},
	{Name: "middleware Direct cache hit (ServeHTTP) / cache-hit decision", Bench: MiddlewareHit, Baseline: DecisionHit, Max: 2},
	{Name: "middleware Direct cache hit allocs/op", Bench: MiddlewareHit, Max: 4},
}

// The handler's budget per event shape (Performance round 2): a cache hit,
// event JSON to response, in at most 5 µs and 10 allocations, and a forged
// or malformed token refused through the whole handler in at most twice a
// hit. The time is absolute, unlike the ratios above, because it is the
// figure the cost per million authorizations rests on; on a loaded machine
// it is the first target to miss, so read it with the machine's load.
func init() {
	for _, shape := range Shapes {
		hit := Handle(shape, "hit")
		Targets = append(Targets,
			Target{Name: "handler " + shape + " cache hit, ns/op", Bench: hit, Ns: true, Max: 5000},
			Target{Name: "handler " + shape + " cache hit, allocs/op", Bench: hit, Max: 10},
			Target{Name: "handler " + shape + " forged token / cache hit", Bench: Handle(shape, "forged"), Baseline: hit, Max: 2},
			Target{Name: "handler " + shape + " malformed token / cache hit", Bench: Handle(shape, "malformed"), Baseline: hit, Max: 2},
		)
	}
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
	switch {
	case o.Unit != "":
		return fmt.Sprintf("%.3g %s", b.Median(o.Unit), o.Unit)
	case o.Baseline == "" && o.Ns:
		return FormatNs(b.Median("ns/op"))
	case o.Baseline == "":
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
		case t.Unit != "":
			o.Value = b.Median(t.Unit)
			if math.IsNaN(o.Value) {
				o.Err = fmt.Errorf("%s: no %s", t.Bench, t.Unit)
			}
		case t.Baseline == "" && t.Ns:
			o.Value = b.Median("ns/op")
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
