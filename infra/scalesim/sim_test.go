package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestScenarios runs docs/scale.md's scenarios (shortened to 42 s: the
// revocation at 30 s has its full 10 s bound to show; those without a
// revocation keep their 60 s, the interval after the hot key's last write)
// and checks the findings the document states.
func TestScenarios(t *testing.T) {
	scenarios := Scenarios(1)
	runs := make([]Result, len(scenarios))
	var wg sync.WaitGroup
	for i, c := range scenarios {
		if c.RevokeAt > 0 {
			c.Seconds = 42
		}
		wg.Go(func() { runs[i] = Run(c) }) // independent: each has its own generator
	}
	wg.Wait()
	results := map[string]Result{}
	var names []string
	for i, c := range scenarios {
		results[c.Name] = runs[i]
		names = append(names, c.Name)
	}
	tests := []struct {
		scenario string
		check    func(r Result) bool
		want     string
	}{
		{names[0], func(r Result) bool { return r.ThrottledReads == 0 && r.HotReadsPeak < 100 }, "the gateway cache shields the hot item"},
		{names[0], func(r Result) bool { return r.RevocationLag > 0 && r.RevocationLag <= 10 }, "revocation within gateway TTL + function TTL"},
		{names[1], func(r Result) bool { return r.Invocations < 10000 && r.HotInvocations <= 11 }, "10x the hot key, same invocations: at most nodes/TTL for it"},
		{names[2], func(r Result) bool { return r.ThrottledReads == 0 && r.HotInvocations > 99000 }, "no gateway cache: every request invokes, reads stay envs/TTL"},
		{names[2], func(r Result) bool { return r.RevocationLag <= 5 }, "no gateway cache: revocation within the function TTL"},
		{names[3], func(r Result) bool { return r.ThrottledReads > 0 && r.ThrottledWrites > 0 }, "in-phase refresh breaks the hot item: reads and last-used writes throttled"},
		{names[4], func(r Result) bool {
			return r.ThrottledReads > 0 && r.ThrottledReads < results[names[3]].ThrottledReads/4 && r.ThrottledWrites == 0
		}, "shipped policy: only the first wave of reads is throttled, no write before the revocation"},
		{names[5], func(r Result) bool { return r.HotWritesPeak > ItemWriteLimit && r.ThrottledWrites > 0 }, "trusting the same last_used_at aligns the next attempts"},
		{names[6], func(r Result) bool {
			return r.ThrottledReads > 0 && r.ThrottledReads <= results[names[4]].ThrottledReads
		}, "50 % jitter: still the first wave"},
		{names[7], func(r Result) bool { return r.ThrottledReads == 0 }, "eventually consistent reads absorb the first wave"},
		{names[8], func(r Result) bool { return r.ThrottledWrites == 0 && r.HotWritesPeak <= ItemWriteLimit }, "sharding last-used spreads the aligned attempts under the item limit"},
		{names[9], func(r Result) bool { return r.TableWrites > 2*r.StreamRecords }, "long tail: most write units are refused conditional writes"},
		{names[10], func(r Result) bool { return r.StreamRecords < results[names[9]].StreamRecords/10 }, "an hour's interval cuts successful writes 10x"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if r := results[tt.scenario]; !tt.check(r) {
				t.Fatalf("%s: %+v", tt.scenario, r)
			}
		})
	}
}

// TestDeterministic: the seed is the only source of randomness.
func TestDeterministic(t *testing.T) {
	c := Scenarios(7)[2]
	c.Seconds = 8
	a := Run(c)
	if b := Run(c); a != b {
		t.Fatalf("same seed, different results:\n%+v\n%+v", a, b)
	}
	c.Seed = 8
	if b := Run(c); a == b {
		t.Fatal("different seeds, identical results")
	}
}

func TestRun(t *testing.T) {
	var out, errs bytes.Buffer
	if code := run([]string{"-seed", "3", "-seconds", "3"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	// Two tables: the scenarios' (a header, its rule and a row each) and
	// the two-region one (a header, its rule and three rows).
	if n := strings.Count(out.String(), "\n| "); n != len(Scenarios(3))+2+5 {
		t.Fatalf("%d table rows:\n%s", n, out.String())
	}
}

// TestTwoRegions checks what docs/regions.md and docs/scale.md state of
// the two-region scenario: the home region keeps the single-region bound,
// the remote one adds the replication lag and stays within
// AUTH_CACHE_TTL + gateway TTL + that lag.
func TestTwoRegions(t *testing.T) {
	c := twoRegions(1, shippedPolicy())
	c.Trials = 500
	r := c.Run()
	single := c.Policy.TTL + c.GatewayTTL
	tests := []struct {
		name string
		ok   bool
	}{
		{"the replication lag is mostly under a second", r.Replication[0] < time.Second},
		{"home region: within AUTH_CACHE_TTL + gateway TTL", r.Home[2] > 0 && r.Home[2] <= single},
		{"remote region: later than home", r.Remote[0] > r.Home[0]},
		{"remote region: within AUTH_CACHE_TTL + gateway TTL + the largest lag", r.Remote[2] <= single+r.Replication[2]},
		{"the bound at the p99 lag", r.Bound == single+r.Replication[1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok {
				t.Fatalf("%+v", r)
			}
		})
	}
	if again := c.Run(); again != r {
		t.Fatalf("same seed, different results:\n%+v\n%+v", r, again)
	}
}
