package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/keygate/keygate/shared/authorizer"
	"github.com/keygate/keygate/shared/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Scenarios are docs/scale.md's, in its order: each changes one thing
// from the one before it, or from the baseline. Environments run the
// authorizer's cache policy as shipped unless a scenario says "what-if".
func Scenarios(seed uint64) []Config {
	shipped := shippedPolicy()
	base := Config{
		Seconds: 60, Seed: seed,
		TotalRPS: 20000, Keys: 100000, ZipfS: 1.1, HotRPS: 10000,
		GatewayNodes: 50, GatewayTTL: 5, Envs: 200, Policy: shipped,
		RevokeAt: 30,
	}
	with := func(name string, f func(*Config)) Config {
		c := base
		c.Name = name
		f(&c)
		return c
	}
	// inPhase is 4,000 environments starting together, no gateway cache.
	inPhase := func(c *Config) { c.HotRPS, c.Envs, c.GatewayTTL, c.ColdStart = 100000, 4000, 0, true }
	return []Config{
		with("baseline: hot key 10k/s, gateway cache 5 s, 200 envs", func(*Config) {}),
		with("hot key 100k/s", func(c *Config) { c.HotRPS = 100000; c.Envs = 500 }),
		with("hot key 100k/s, no gateway cache", func(c *Config) { c.HotRPS = 100000; c.Envs = 1000; c.GatewayTTL = 0 }),
		with("... and 4,000 envs starting in phase, no jitter, stored last_used_at ignored (what-if)", func(c *Config) {
			inPhase(c)
			c.Policy.Jitter, c.Policy.TrustStored = 0, false
		}),
		with("... the same with the shipped policy (jitter a fifth, stored last_used_at trusted)", inPhase),
		with("... shipped, hot key not revoked: the write storm one interval later", func(c *Config) { inPhase(c); c.RevokeAt = 0 }),
		with("... shipped, with TTL jitter 50 % (what-if)", func(c *Config) { inPhase(c); c.Policy.Jitter = 0.5 }),
		with("... shipped, and eventually consistent reads (what-if)", func(c *Config) { inPhase(c); c.EventualReads = true }),
		with("... shipped, not revoked, last-used sharded over 4 items (what-if)", func(c *Config) {
			inPhase(c)
			c.RevokeAt, c.LastUsedShards = 0, 4
		}),
		with("long tail: 2M keys, 50k/s", func(c *Config) { c.Keys, c.TotalRPS = 2000000, 50000 }),
		with("long tail, LAST_USED_INTERVAL 1h", func(c *Config) {
			c.Keys, c.TotalRPS, c.Policy.LastUsedInterval = 2000000, 50000, time.Hour
		}),
	}
}

// shippedPolicy is the authorizer's cache policy with the defaults.
func shippedPolicy() authorizer.CachePolicy {
	return authorizer.Config{CacheTTL: config.DefaultAuthCacheTTL, LastUsedInterval: config.DefaultLastUsedInterval}.CachePolicy()
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scalesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same figures")
	seconds := fs.Int("seconds", 60, "simulated seconds per scenario (the revocation is at 30 s)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	rows := [][]string{{"scenario", "invocations/s", "hot item RU/s (peak)", "hot item WU/s (peak)",
		"table RU/s", "table WU/s", "last-used writes/s (stream)", "throttled reads", "throttled writes", "revocation lag"}}
	for _, c := range Scenarios(*seed) {
		c.Seconds = *seconds
		r := Run(c)
		rows = append(rows, []string{c.Name, num(r.Invocations), num(r.HotReadsPeak), num(r.HotWritesPeak),
			num(r.TableReads), num(r.TableWrites), num(r.StreamRecords), num(r.ThrottledReads), num(r.ThrottledWrites), lag(c, r)})
	}
	fmt.Fprintf(stdout, "Per-item limits: %d read units/s, %d write units/s. Seed %d.\n\n", ItemReadLimit, ItemWriteLimit, *seed)
	table(stdout, rows)
	printRegions(stdout, twoRegions(*seed, shippedPolicy()))
	return 0
}

// lag is the revocation lag, "-" for a scenario without a revocation.
func lag(c Config, r Result) string {
	if c.RevokeAt == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f s", r.RevocationLag)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

// table prints rows as a Markdown table.
func table(w io.Writer, rows [][]string) {
	for i, r := range rows {
		fmt.Fprint(w, "|")
		for _, c := range r {
			fmt.Fprintf(w, " %s |", c)
		}
		fmt.Fprintln(w)
		if i == 0 {
			fmt.Fprint(w, "|")
			for range r {
				fmt.Fprint(w, " --- |")
			}
			fmt.Fprintln(w)
		}
	}
}
