package main

import "math"

// Prices are public list prices, us-east-1, USD, as BENCHMARKS.md states
// them with their date and source. Per-million prices are per 1e6 units.
type Prices struct {
	LambdaGBSecond     float64 // arm64, first 7.5 billion GB-s per month
	LambdaPerMillion   float64 // requests
	ReadPerMillion     float64 // DynamoDB on-demand read request units
	WritePerMillion    float64 // DynamoDB on-demand write request units
	EventsPerMillion   float64 // EventBridge custom events (lifecycle events)
	RESTPerMillion     float64 // API Gateway REST API, first 333 million
	HTTPPerMillion     float64 // API Gateway HTTP API, first 300 million
	ServicePerMillion  float64 // a hosted key-verification service, per verification (assumed)
	VCPUMemoryMB       float64 // memory at which a function has one vCPU
	BillingGranularity float64 // ms
}

// ListPrices are the prices of 2026-11-24 (BENCHMARKS.md, "Cost").
var ListPrices = Prices{
	LambdaGBSecond:     0.0000133334,
	LambdaPerMillion:   0.20,
	ReadPerMillion:     0.125,
	WritePerMillion:    0.625,
	EventsPerMillion:   1.00,
	RESTPerMillion:     3.50,
	HTTPPerMillion:     1.00,
	ServicePerMillion:  10.00,
	VCPUMemoryMB:       1769,
	BillingGranularity: 1,
}

// Invocation is one kind of Lambda invocation: CPU time at one full vCPU
// (the function's own work and the runtime API exchange) and time spent
// waiting on the network, which memory does not speed up.
type Invocation struct {
	CPUms, WaitMs float64
}

// BilledMs is the billed duration at memory MB: CPU time stretched by the
// function's share of a vCPU (memory / 1,769 MB, capped at one), plus the
// wait, rounded up to Lambda's 1 ms granularity. The stretch is the
// conservative reading: a short burst may run at full speed until the
// environment's CPU quota for the period is spent, so real durations lie
// between CPUms+WaitMs and this.
func (p Prices) BilledMs(inv Invocation, memoryMB float64) float64 {
	share := math.Min(1, memoryMB/p.VCPUMemoryMB)
	wall := inv.CPUms/share + inv.WaitMs
	g := p.BillingGranularity
	return math.Max(g, math.Ceil(wall/g-1e-9)*g)
}

// GBSeconds of n invocations of inv at memory MB.
func (p Prices) GBSeconds(inv Invocation, n, memoryMB float64) float64 {
	return n * p.BilledMs(inv, memoryMB) / 1000 * memoryMB / 1024
}

// Authorizer is the authorizer's cost model per invocation kind.
type Authorizer struct {
	Hit, Miss, MissAndTouch Invocation
	// InitMs is the billed INIT duration of a cold start (custom runtimes
	// have always been billed for it; INIT gets a boosted CPU, so it is
	// taken as measured, not stretched by memory).
	InitMs float64
	// ColdPerMillion is cold starts per million invocations.
	ColdPerMillion float64
	// TouchPerMiss is the share of cache misses that also write last-used:
	// at most 1 (an attempt is never more than one per miss, see
	// docs/scale.md); AUTH_CACHE_TTL / LAST_USED_INTERVAL for a busy key.
	TouchPerMiss float64
}

// Scenario is where a million authorizations are answered.
type Scenario struct {
	GatewayHit  float64 // share answered by API Gateway's authorizer cache
	FunctionHit float64 // share of invocations answered by the in-function cache
}

// Row is the cost of one million authorizations in a scenario.
type Row struct {
	Scenario
	Invocations, Misses, Touches, Cold float64
	GBs                                map[float64]float64 // by memory MB
	LambdaUSD                          map[float64]float64 // GB-s and requests
	RRU, WRU, DynamoUSD                float64
	RESTUSD, HTTPUSD, ServiceUSD       float64
}

// PerMillion prices one million authorizations of a scenario.
func (p Prices) PerMillion(a Authorizer, s Scenario, memories []float64) Row {
	const million = 1e6
	r := Row{Scenario: s, GBs: map[float64]float64{}, LambdaUSD: map[float64]float64{}}
	r.Invocations = million * (1 - s.GatewayHit)
	r.Misses = r.Invocations * (1 - s.FunctionHit)
	r.Touches = r.Misses * a.TouchPerMiss
	r.Cold = r.Invocations * a.ColdPerMillion / million
	hits := r.Invocations - r.Misses
	for _, m := range memories {
		gbs := p.GBSeconds(a.Hit, hits, m) + p.GBSeconds(a.Miss, r.Misses-r.Touches, m) +
			p.GBSeconds(a.MissAndTouch, r.Touches, m) + r.Cold*a.InitMs/1000*m/1024
		r.GBs[m] = gbs
		r.LambdaUSD[m] = gbs*p.LambdaGBSecond + r.Invocations*p.LambdaPerMillion/million
	}
	// One strongly consistent GetItem of an item under 4 KB is one read
	// unit; the conditional last-used update of an item under 1 KB is one
	// write unit, consumed even when its condition fails.
	r.RRU, r.WRU = r.Misses, r.Touches
	r.DynamoUSD = (r.RRU*p.ReadPerMillion + r.WRU*p.WritePerMillion) / million
	r.RESTUSD, r.HTTPUSD = p.RESTPerMillion, p.HTTPPerMillion
	// A hosted verifier is asked once per request that reaches the
	// authorizer; the gateway's cache spares it as it spares Lambda.
	r.ServiceUSD = r.Invocations * p.ServicePerMillion / million
	return r
}

// Operation is a management operation's cost model.
type Operation struct {
	Name   string
	Invoke Invocation
	RRU    float64 // read units per operation
	WRU    float64 // write units per operation (transactions count twice)
	Events float64 // EventBridge events published
}

// OpRow is the cost of one million management operations.
type OpRow struct {
	Operation
	LambdaUSD map[float64]float64
	DynamoUSD float64
	EventsUSD float64
	RESTUSD   float64
}

// PerMillionOps prices one million operations behind the REST API.
func (p Prices) PerMillionOps(op Operation, memories []float64) OpRow {
	const million = 1e6
	r := OpRow{Operation: op, LambdaUSD: map[float64]float64{}}
	for _, m := range memories {
		r.LambdaUSD[m] = p.GBSeconds(op.Invoke, million, m)*p.LambdaGBSecond + p.LambdaPerMillion
	}
	r.DynamoUSD = op.RRU*p.ReadPerMillion + op.WRU*p.WritePerMillion
	r.EventsUSD = op.Events * p.EventsPerMillion
	r.RESTUSD = p.RESTPerMillion
	return r
}

// Metered is what metering adds to a million allowed calls of keys with
// usage limits: WritesPerCall lease writes per call (one write unit each,
// refused conditional writes included: BenchmarkMeteredWrites' figure),
// each keeping its invocation waiting one DynamoDB round trip (Write).
type Metered struct {
	WritesPerCall float64
	Hit, Write    Invocation // a cache hit, and a cache hit that leases
}

// MeteredRow is the added cost of a million metered calls.
type MeteredRow struct {
	WRU, DynamoUSD float64
	LambdaUSD      map[float64]float64 // the longer invocations, by memory
}

// PerMillionMetered prices what metering adds to a million calls.
func (p Prices) PerMillionMetered(m Metered, memories []float64) MeteredRow {
	const million = 1e6
	r := MeteredRow{LambdaUSD: map[float64]float64{}}
	r.WRU = m.WritesPerCall * million
	r.DynamoUSD = r.WRU * p.WritePerMillion / million
	for _, mem := range memories {
		r.LambdaUSD[mem] = (p.GBSeconds(m.Write, r.WRU, mem) - p.GBSeconds(m.Hit, r.WRU, mem)) * p.LambdaGBSecond
	}
	return r
}
