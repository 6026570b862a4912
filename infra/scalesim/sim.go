// Command scalesim is the scale model behind docs/scale.md: a seeded,
// bounded, discrete-time simulation of Keygate's authorizer under load.
// Requests for keys with a Zipf-skewed rate (plus one hot key) arrive at
// API Gateway, whose authorizer cache is modelled as independent nodes
// each caching a key's decision for the result TTL; what the gateway does
// not answer goes to one of N Lambda execution environments, each with its
// own in-function cache (AUTH_CACHE_TTL) and last-used throttle
// (LAST_USED_INTERVAL). Every miss is one strongly consistent GetItem (one
// read unit) on the key's item, every due last-used attempt one
// conditional UpdateItem (one write unit, spent even when the condition
// fails). DynamoDB's limits apply per item, since one item lives on one
// partition and adaptive capacity can isolate but never split it: 3,000
// read units and 1,000 write units per second. Reads beyond that are
// throttled, and a throttled authorizer fails closed (HTTP 500).
//
// Revocation: the hot key is revoked at RevokeAt; the model records the
// last second in which some cache still allowed it, for the revocation
// bound.
//
//	go run ./infra/scalesim            # every scenario of docs/scale.md
//	go run ./infra/scalesim -seed 7    # the same with other random draws
package main

import (
	"math"
	"math/rand/v2"
	"sync"
)

// ticksPerSecond is the model's time step: 100 ms, fine enough for
// cache TTLs of seconds and their jitter.
const ticksPerSecond = 10

// Per-item DynamoDB limits (units per second).
const (
	ItemReadLimit  = 3000
	ItemWriteLimit = 1000
)

// Config is one scenario.
type Config struct {
	Name    string
	Seconds int    // simulated duration
	Seed    uint64 // the only source of randomness

	TotalRPS float64 // requests per second over every key but the hot one
	Keys     int     // keys sharing TotalRPS, Zipf-skewed
	ZipfS    float64 // Zipf exponent (> 1)
	HotRPS   float64 // requests per second of the hot key

	GatewayNodes int     // independent authorizer caches at the gateway
	GatewayTTL   float64 // seconds; 0 = no gateway cache
	Envs         int     // Lambda execution environments
	FunctionTTL  float64 // AUTH_CACHE_TTL, seconds
	LastUsed     float64 // LAST_USED_INTERVAL, seconds

	// Jitter spreads each environment's cache TTL uniformly over
	// [TTL×(1−Jitter), TTL], so environments that started together stop
	// refreshing a key in the same second.
	Jitter float64
	// ColdStart: every environment starts empty at t=0 and in the same
	// second (a scale-out or a deployment), instead of warmed at random
	// times.
	ColdStart bool
	// EventualReads: GetItem without ConsistentRead, half a read unit.
	EventualReads bool
	// LastUsedShards writes last-used to this many separate items per
	// key instead of the key's own (0 or 1 = the key's item).
	LastUsedShards int
	// SkipFresh: a miss reads the key's item, last_used_at included; an
	// environment whose last read showed a last_used_at within the
	// interval does not attempt the write. And a new environment's first
	// attempt is delayed by a random part of the interval, so a scale-out
	// does not write in one second from every environment.
	SkipFresh bool

	RevokeAt int // second at which the hot key is revoked; 0 = never
}

// Result is what a scenario measured, per second unless stated.
type Result struct {
	Invocations     float64 // mean Lambda invocations per second
	HotReadsPeak    float64 // read units on the hot key's item, worst second
	HotWritesPeak   float64 // write units on the hot key's item (last-used), worst second
	TableReads      float64 // mean read units per second, whole table
	TableWrites     float64 // mean write units per second (last-used attempts)
	StreamRecords   float64 // mean successful last-used writes per second: what a stream (or a global table's replication) carries
	ThrottledReads  float64 // reads refused over the run: each is a request answered 500 (fail closed)
	ThrottledWrites float64 // last-used writes refused over the run (logged; the request waits up to 300 ms)
	RevocationLag   float64 // seconds after RevokeAt during which the hot key was still allowed
	HotInvocations  float64 // mean invocations per second for the hot key
	HotGatewayShare float64 // share of hot-key requests the gateway answered
}

// cache is one cache's state for the explicitly simulated keys:
// expiry[k] is when its entry for key k expires, version[k] whether that
// entry was read before the revocation (1) or after (2).
type cache struct {
	expiry  []float64
	version []uint8
}

func newCache(keys int) cache {
	c := cache{expiry: make([]float64, keys), version: make([]uint8, keys)}
	for i := range c.expiry {
		c.expiry[i] = -1
	}
	return c
}

// Run simulates c. The hot key is key 0; keys 1..Keys are the Zipf tail,
// of which the heaviest 200 are simulated one by one and the rest by their
// expected load (tailLoad). Memory and time are bounded by Seconds, Envs
// and GatewayNodes: O(Seconds × 10 × (201 × (GatewayNodes + Envs))) at
// worst.
func Run(c Config) Result {
	rng := rand.New(rand.NewPCG(c.Seed, 0x5ca1e))
	const explicit = 200 // tail keys simulated one by one
	n := min(c.Keys, explicit) + 1
	rates := make([]float64, n)
	rates[0] = c.HotRPS
	w, norm := zipf(c.Keys, c.ZipfS)
	var tail tailLoad
	for k := 1; k <= c.Keys; k++ {
		r := c.TotalRPS * w[k-1] / norm
		if k < n {
			rates[k] = r
		} else {
			tail.add(c, r)
		}
	}
	gw := make([]cache, c.GatewayNodes)
	for i := range gw {
		gw[i] = newCache(n)
		if !c.ColdStart && c.GatewayTTL > 0 {
			// Warm, at independent phases, like the environments below.
			for k := range n {
				gw[i].expiry[k], gw[i].version[k] = c.GatewayTTL*rng.Float64(), 1
			}
		}
	}
	env := make([]cache, c.Envs)
	lastTouch := make([][]float64, c.Envs)
	sawFresh := make([][]bool, c.Envs) // SkipFresh: the last read showed a recent last_used_at
	ttl := make([]float64, c.Envs)
	for i := range env {
		env[i] = newCache(n)
		lastTouch[i] = make([]float64, n)
		sawFresh[i] = make([]bool, n)
		ttl[i] = c.FunctionTTL * (1 - c.Jitter*rng.Float64())
		for k := range n {
			lastTouch[i][k] = -math.Inf(1)
			if c.SkipFresh {
				lastTouch[i][k] = -c.LastUsed * rng.Float64()
			}
			if !c.ColdStart && c.FunctionTTL > 0 {
				// Warm: each environment read each key at some time in
				// the last TTL, independently.
				env[i].expiry[k] = ttl[i] * rng.Float64()
				env[i].version[k] = 1
				lastTouch[i][k] = -c.LastUsed * rng.Float64()
			}
		}
	}
	readUnit := 1.0
	if c.EventualReads {
		readUnit = 0.5
	}
	shards := max(1, c.LastUsedShards)
	lastWrite := make([]float64, n) // last successful last-used write per key (any shard)
	for k := range lastWrite {
		lastWrite[k] = -math.Inf(1)
	}

	var res Result
	var hotReqs, hotGateway float64
	lastAllowed := -1.0
	hotReads, hotWrites := 0.0, 0.0 // in the current second
	for tick := 0; tick < c.Seconds*ticksPerSecond; tick++ {
		t := float64(tick) / ticksPerSecond
		revoked := c.RevokeAt > 0 && t >= float64(c.RevokeAt)
		if tick%ticksPerSecond == 0 {
			hotReads, hotWrites = 0, 0
		}
		for k := range n {
			reqs := poisson(rng, rates[k]/ticksPerSecond)
			if k == 0 {
				hotReqs += reqs
			}
			// Requests per gateway node, then invocations per environment.
			invocations := 0.0
			allowed := false
			spread(rng, reqs, c.GatewayNodes, func(node int, m float64) {
				g := &gw[node]
				if c.GatewayTTL > 0 && g.expiry[k] > t {
					if g.version[k] == 1 {
						allowed = true
					}
					if k == 0 {
						hotGateway += m
					}
					return
				}
				// A miss at this node: one invocation decides, and its
				// answer is cached for the TTL; without a cache, every
				// request is an invocation.
				inv := m
				if c.GatewayTTL > 0 {
					inv = 1
				}
				invocations += inv
				var decided uint8 // what the deciding environment knew
				spread(rng, inv, c.Envs, func(e int, m float64) {
					ec := &env[e]
					if c.FunctionTTL <= 0 || ec.expiry[k] <= t {
						read := readUnit * m
						if c.FunctionTTL > 0 {
							read = readUnit
						}
						if k == 0 {
							hotReads += read
						}
						res.TableReads += read
						ec.expiry[k] = t + ttl[e]
						sawFresh[e][k] = t-lastWrite[k] < c.LastUsed
						ec.version[k] = 1
						if revoked {
							ec.version[k] = 2
						}
					}
					decided = ec.version[k]
					if ec.version[k] == 1 {
						allowed = true
						// Last-used: at most one attempt per interval per
						// environment; the conditional write succeeds once
						// per interval across environments.
						if t-lastTouch[e][k] >= c.LastUsed && !(c.SkipFresh && sawFresh[e][k]) {
							lastTouch[e][k] = t
							if k == 0 {
								hotWrites += 1.0 / float64(shards)
							}
							res.TableWrites++
							if t-lastWrite[k] >= c.LastUsed {
								lastWrite[k] = t
								res.StreamRecords++
							}
						}
					}
				})
				if c.GatewayTTL > 0 {
					g.expiry[k] = t + c.GatewayTTL
					g.version[k] = decided
				}
			})
			if k == 0 {
				res.HotInvocations += invocations
				if allowed && revoked {
					lastAllowed = t
				}
			}
			res.Invocations += invocations
		}

		if tick%ticksPerSecond == ticksPerSecond-1 {
			// The second is over: reads beyond the item's limit were
			// throttled, and their requests failed closed.
			if hotReads > ItemReadLimit {
				res.ThrottledReads += (hotReads - ItemReadLimit) / readUnit
			}
			if hotWrites > ItemWriteLimit {
				res.ThrottledWrites += hotWrites - ItemWriteLimit
			}
			res.HotReadsPeak = math.Max(res.HotReadsPeak, hotReads)
			res.HotWritesPeak = math.Max(res.HotWritesPeak, hotWrites)
		}
	}
	secs := float64(c.Seconds)
	res.Invocations = res.Invocations/secs + tail.invocations
	res.TableReads = res.TableReads/secs + tail.reads*readUnit
	res.TableWrites = res.TableWrites/secs + tail.attempts
	res.StreamRecords = res.StreamRecords/secs + tail.writes
	res.HotInvocations /= secs
	if hotReqs > 0 {
		res.HotGatewayShare = hotGateway / hotReqs
	}
	if c.RevokeAt > 0 && lastAllowed >= 0 {
		res.RevocationLag = lastAllowed - float64(c.RevokeAt) + 1.0/ticksPerSecond
	}
	return res
}

// zipf returns the weights k^-s of keys 1..n and their sum, computed once
// per (n, s): scenarios share their key population, and two million
// math.Pow calls dominate a run otherwise.
func zipf(n int, s float64) ([]float64, float64) {
	type key struct {
		n int
		s float64
	}
	zipfMu.Lock()
	defer zipfMu.Unlock()
	if z, ok := zipfCache[key{n, s}]; ok {
		return z.w, z.sum
	}
	w := make([]float64, n)
	var sum float64
	for k := range w {
		w[k] = math.Pow(float64(k+1), -s)
		sum += w[k]
	}
	zipfCache[key{n, s}] = struct {
		w   []float64
		sum float64
	}{w, sum}
	return w, sum
}

var (
	zipfMu    sync.Mutex
	zipfCache = map[any]struct {
		w   []float64
		sum float64
	}{}
)

// tailLoad is the expected load of the keys too many and too light to
// simulate one by one, per second: for a key of rate r, each of the
// gateway's nodes asks at most once per result TTL, each environment
// reads at most once per cache TTL and attempts last-used at most once
// per interval, and one write per interval succeeds; never more than the
// requests themselves.
type tailLoad struct{ invocations, reads, attempts, writes float64 }

func (t *tailLoad) add(c Config, r float64) {
	inv := r
	if c.GatewayTTL > 0 {
		inv = math.Min(r, float64(c.GatewayNodes)/c.GatewayTTL)
	}
	reads := inv
	if c.FunctionTTL > 0 {
		reads = math.Min(inv, float64(c.Envs)/c.FunctionTTL)
	}
	t.invocations += inv
	t.reads += reads
	writes := math.Min(inv, 1/c.LastUsed)
	t.writes += writes
	if c.SkipFresh {
		// Every attempt follows a read that showed a stale last_used_at:
		// about one per interval per key, like the successful writes.
		t.attempts += writes
		return
	}
	t.attempts += math.Min(inv, float64(c.Envs)/c.LastUsed)
}

// spread hands n requests to `into` caches uniformly at random, calling
// f for each cache that got any. n of at least one per cache are split
// evenly (every cache gets n/into: at these rates each gets some in every
// 100 ms tick), fewer one by one.
func spread(rng *rand.Rand, n float64, into int, f func(i int, m float64)) {
	if n <= 0 {
		return
	}
	if n >= float64(into) {
		for i := range into {
			f(i, n/float64(into))
		}
		return
	}
	for range int(n) {
		f(rng.IntN(into), 1)
	}
}

// poisson draws a Poisson count with mean lambda (normal approximation
// above 50, which is plenty for rates).
func poisson(rng *rand.Rand, lambda float64) float64 {
	if lambda <= 0 {
		return 0
	}
	if lambda > 50 {
		return math.Max(0, math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-lambda), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
