// Command scalesim is the scale model behind docs/scale.md: a seeded,
// bounded, discrete-time simulation of Keygate's authorizer under load.
// Requests for keys with a Zipf-skewed rate (plus one hot key) arrive at
// API Gateway, whose authorizer cache is modelled as independent nodes
// each caching a key's decision for the result TTL; what the gateway does
// not answer goes to one of N Lambda execution environments, each with its
// own in-function cache and last-used throttle, run by the authorizer's
// own policy (authorizer.CachePolicy: AUTH_CACHE_TTL with its jitter,
// LAST_USED_INTERVAL, the stored last_used_at trusted on first sight), so
// the model cannot drift from the code. Every miss is one strongly consistent GetItem (one
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
	"time"

	"github.com/keygate/keygate/shared/authorizer"
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
	// Policy is each environment's cache and last-used policy:
	// authorizer.Config.CachePolicy() as shipped, or a what-if.
	Policy authorizer.CachePolicy

	// ColdStart: every environment starts empty at t=0 and in the same
	// second (a scale-out or a deployment), instead of warmed at random
	// times.
	ColdStart bool
	// EventualReads: GetItem without ConsistentRead, half a read unit.
	EventualReads bool
	// LastUsedShards writes last-used to this many separate items per
	// key instead of the key's own (0 or 1 = the key's item).
	LastUsedShards int

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

// cache is one gateway node's state for the explicitly simulated keys:
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

// epoch is the model's t = 0 as a time, for the authorizer's policy.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(t float64) time.Time { return epoch.Add(seconds(t)) }

func seconds(t float64) time.Duration { return time.Duration(math.Round(t * float64(time.Second))) }

// envCache is one execution environment's cache and last-used memory for
// the simulated keys, decided by the authorizer's CachePolicy.
type envCache struct {
	policy  authorizer.CachePolicy
	rng     *rand.Rand
	fetched []time.Time
	ttl     []time.Duration // 0: no entry
	version []uint8         // as for cache
	stored  []float64       // last_used_at read with the entry; -Inf: never used
	last    []time.Time     // last last-used attempt
	seen    []bool          // whether last is set
}

func newEnvCache(p authorizer.CachePolicy, rng *rand.Rand, keys int) *envCache {
	return &envCache{
		policy: p, rng: rng,
		fetched: make([]time.Time, keys), ttl: make([]time.Duration, keys), version: make([]uint8, keys),
		stored: make([]float64, keys), last: make([]time.Time, keys), seen: make([]bool, keys),
	}
}

// invoke is one invocation for key k at t: it reads the item on a miss
// (lastWrite is the item's last_used_at, revoked whether the key is now
// revoked) and, if the entry allows, attempts last-used when the policy
// says it is due. It returns whether it read and whether it attempted, and
// the version of the entry that decided.
func (ec *envCache) invoke(k int, t, lastWrite float64, revoked bool) (read, attempt bool, version uint8) {
	now := at(t)
	if !ec.policy.Fresh(ec.fetched[k], ec.ttl[k], now) {
		read = true
		ec.fetched[k], ec.ttl[k], ec.stored[k] = now, ec.policy.EntryTTL(ec.rng.Int64N), lastWrite
		ec.version[k] = 1
		if revoked {
			ec.version[k] = 2
		}
	}
	if ec.version[k] != 1 {
		return read, false, ec.version[k]
	}
	var stored *time.Time
	if !math.IsInf(ec.stored[k], -1) {
		s := at(ec.stored[k])
		stored = &s
	}
	attempt, ec.last[k] = ec.policy.TouchDue(ec.last[k], ec.seen[k], stored, now)
	ec.seen[k] = true
	return read, attempt, 1
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
	fnTTL := c.Policy.TTL.Seconds()
	interval := c.Policy.LastUsedInterval.Seconds()
	env := make([]*envCache, c.Envs)
	for i := range env {
		env[i] = newEnvCache(c.Policy, rng, n)
		if c.ColdStart {
			continue
		}
		for k := range n {
			// Warm: each environment read each key at some time in the
			// last TTL, and attempted last-used in the last interval,
			// independently.
			if fnTTL > 0 {
				ttl := c.Policy.EntryTTL(rng.Int64N)
				env[i].fetched[k], env[i].ttl[k], env[i].version[k] = at(-ttl.Seconds()*rng.Float64()), ttl, 1
			}
			env[i].last[k], env[i].seen[k] = at(-interval*rng.Float64()), true
		}
	}
	readUnit := 1.0
	if c.EventualReads {
		readUnit = 0.5
	}
	shards := max(1, c.LastUsedShards)
	// The last successful last-used write per key (any shard): every
	// simulated key was in use before the run, so within the interval.
	lastWrite := make([]float64, n)
	for k := range lastWrite {
		lastWrite[k] = -interval * rng.Float64()
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
					// m invocations in this tick: the first decides for
					// all of them, as the cache and the interval are
					// seconds long; without a cache each one reads.
					read, attempt, version := env[e].invoke(k, t, lastWrite[k], revoked)
					decided = version
					if read {
						units := readUnit
						if fnTTL <= 0 {
							units *= m
						}
						if k == 0 {
							hotReads += units
						}
						res.TableReads += units
					}
					if version == 1 {
						allowed = true
					}
					if attempt {
						// The conditional write succeeds once per
						// interval across environments.
						if k == 0 {
							hotWrites += 1.0 / float64(shards)
						}
						res.TableWrites++
						if t-lastWrite[k] >= interval {
							lastWrite[k] = t
							res.StreamRecords++
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
// reads at most once per entry lifetime (the TTL less half its jitter, on
// average) and attempts last-used at most once per interval, and one
// write per interval succeeds; never more than the requests themselves.
// Trusting the stored last_used_at changes nothing here: it applies to an
// environment's first sight of a key, and in the steady state this
// expresses, every environment has seen it.
type tailLoad struct{ invocations, reads, attempts, writes float64 }

func (t *tailLoad) add(c Config, r float64) {
	inv := r
	if c.GatewayTTL > 0 {
		inv = math.Min(r, float64(c.GatewayNodes)/c.GatewayTTL)
	}
	reads := inv
	if ttl := c.Policy.TTL.Seconds() * (1 - c.Policy.Jitter/2); ttl > 0 {
		reads = math.Min(inv, float64(c.Envs)/ttl)
	}
	interval := c.Policy.LastUsedInterval.Seconds()
	t.invocations += inv
	t.reads += reads
	t.writes += math.Min(inv, 1/interval)
	t.attempts += math.Min(inv, float64(c.Envs)/interval)
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
