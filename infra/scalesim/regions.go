package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/keygate/keygate/shared/authorizer"
)

// TwoRegions is docs/scale.md's two-region scenario (docs/regions.md): the
// table is a global table with a replica in a second region, management
// (and so every revocation) writes in the home region, and an authorizer
// runs in both regions against its own replica. A revocation reaches the
// remote replica after the replication lag, and a remote allow may then
// outlive it by the remote caches' TTLs.
type TwoRegions struct {
	Seed   uint64
	Trials int // revocations simulated

	// Replication lag home → remote: log-normal with this median and
	// shape (sigma of its logarithm). AWS documents only that changes are
	// "typically" replicated within one second, with no bound; the figures
	// are an assumption to replace with the table's ReplicationLatency
	// metric (CloudWatch, per region pair).
	ReplicationMedian time.Duration
	ReplicationSigma  float64

	Policy       authorizer.CachePolicy // each environment's, as shipped
	GatewayTTL   time.Duration          // the API's authorizer result TTL
	GatewayNodes int                    // independent gateway caches per region
	Envs         int                    // execution environments per region serving the key
}

// RegionResult is what TwoRegions measured, over its trials.
type RegionResult struct {
	Replication [3]time.Duration // p50, p99, max of the replication lag
	Home        [3]time.Duration // revocation lag in the home region (p50, p99, max)
	Remote      [3]time.Duration // revocation lag in the remote region
	Bound       time.Duration    // the documented remote bound at the p99 lag: AUTH_CACHE_TTL + gateway TTL + replication lag
}

// Run simulates Trials revocations of a busy key (every gateway node
// refreshes it as soon as its entry expires), each with its own random
// cache phases, in the home region (lag 0) and the remote one.
func (c TwoRegions) Run() RegionResult {
	rng := rand.New(rand.NewPCG(c.Seed, 0x2e61))
	var repl, home, remote []time.Duration
	for range c.Trials {
		l := time.Duration(float64(c.ReplicationMedian) * math.Exp(c.ReplicationSigma*rng.NormFloat64()))
		repl = append(repl, l)
		home = append(home, c.lastAllowed(rng, 0))
		remote = append(remote, c.lastAllowed(rng, l))
	}
	p := func(d []time.Duration) [3]time.Duration {
		slices.Sort(d)
		q := func(f float64) time.Duration { return d[min(len(d)-1, int(f*float64(len(d))))] }
		return [3]time.Duration{q(0.5), q(0.99), d[len(d)-1]}
	}
	r := RegionResult{Replication: p(repl), Home: p(home), Remote: p(remote)}
	r.Bound = c.Policy.TTL + c.GatewayTTL + r.Replication[1]
	return r
}

// lastAllowed is how long after the revocation (written at 0 in the home
// region; visible in this region's replica from visible on) the key was
// still allowed by some gateway node of a region. Each environment reads
// the key when its entry expires (its TTL drawn by the authorizer's own
// jitter) and keeps what it read; each gateway node, when its entry
// expires, asks a random environment and caches the answer for its TTL.
func (c TwoRegions) lastAllowed(rng *rand.Rand, visible time.Duration) time.Duration {
	// Every cache is mid-cycle at the revocation: its last refresh was a
	// uniformly random time within one TTL before 0.
	envRead := make([]time.Duration, c.Envs)   // when each environment last read the key
	envExpiry := make([]time.Duration, c.Envs) // when that read expires
	for i := range envRead {
		ttl := c.envTTL(rng)
		envRead[i] = -time.Duration(rng.Int64N(int64(ttl)))
		envExpiry[i] = envRead[i] + ttl
	}
	var last time.Duration
	for range c.GatewayNodes {
		g := -time.Duration(rng.Int64N(int64(max(c.GatewayTTL, time.Millisecond))))
		for {
			// The gateway refreshes at g: a random environment answers,
			// reading the key again first if its entry has expired.
			e := rng.IntN(c.Envs)
			for envExpiry[e] <= g {
				envRead[e] = envExpiry[e]
				envExpiry[e] += c.envTTL(rng)
			}
			if envRead[e] >= visible {
				break // it read the revocation: this node denies from g on
			}
			end := g + c.GatewayTTL
			if c.GatewayTTL == 0 {
				end = envExpiry[e] // every request invokes: allowed until the environment rereads
				g = end
			} else {
				g = end
			}
			last = max(last, end)
		}
	}
	return last
}

// envTTL is one cache entry's lifetime, as the authorizer draws it.
func (c TwoRegions) envTTL(rng *rand.Rand) time.Duration {
	return max(time.Millisecond, c.Policy.EntryTTL(rng.Int64N))
}

// twoRegions is the scenario docs/scale.md prints: the shipped cache
// policy, the template's default gateway TTL (5 s), two regions.
func twoRegions(seed uint64, policy authorizer.CachePolicy) TwoRegions {
	return TwoRegions{
		Seed: seed, Trials: 2000,
		ReplicationMedian: 400 * time.Millisecond, ReplicationSigma: 0.5,
		Policy: policy, GatewayTTL: 5 * time.Second, GatewayNodes: 20, Envs: 50,
	}
}

// printRegions writes the two-region table.
func printRegions(w io.Writer, c TwoRegions) {
	r := c.Run()
	s := func(d [3]time.Duration) []string {
		return []string{secs(d[0]), secs(d[1]), secs(d[2])}
	}
	fmt.Fprintf(w, "\nTwo regions (docs/regions.md): management and revocations in the home region, an authorizer in each; "+
		"%d revocations of a busy key, replication lag log-normal (median %s, sigma %.1f; an assumption: AWS gives no bound), "+
		"AUTH_CACHE_TTL %s, gateway result TTL %s.\n\n", c.Trials, c.ReplicationMedian, c.ReplicationSigma, c.Policy.TTL, c.GatewayTTL)
	table(w, [][]string{
		{"what", "p50", "p99", "max"},
		append([]string{"replication lag"}, s(r.Replication)...),
		append([]string{"revocation lag, home region"}, s(r.Home)...),
		append([]string{"revocation lag, remote region"}, s(r.Remote)...),
	})
	fmt.Fprintf(w, "\nRemote bound at the p99 replication lag: AUTH_CACHE_TTL + gateway TTL + lag = %s. "+
		"While a region is isolated, replication (and so the remote revocation) waits for it to heal: no bound.\n", secs(r.Bound))
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
