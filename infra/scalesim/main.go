package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Scenarios are docs/scale.md's, in its order: each changes one thing
// from the one before it, or from the baseline.
func Scenarios(seed uint64) []Config {
	base := Config{
		Seconds: 60, Seed: seed,
		TotalRPS: 20000, Keys: 100000, ZipfS: 1.1, HotRPS: 10000,
		GatewayNodes: 50, GatewayTTL: 5, Envs: 200, FunctionTTL: 5, LastUsed: 60,
		RevokeAt: 30,
	}
	with := func(name string, f func(*Config)) Config {
		c := base
		c.Name = name
		f(&c)
		return c
	}
	return []Config{
		with("baseline: hot key 10k/s, gateway cache 5 s, 200 envs", func(*Config) {}),
		with("hot key 100k/s", func(c *Config) { c.HotRPS = 100000; c.Envs = 500 }),
		with("hot key 100k/s, no gateway cache", func(c *Config) { c.HotRPS = 100000; c.Envs = 1000; c.GatewayTTL = 0 }),
		with("... and 4,000 envs refreshing in phase", func(c *Config) {
			c.HotRPS, c.Envs, c.GatewayTTL, c.ColdStart = 100000, 4000, 0, true
		}),
		with("... with TTL jitter 50 %", func(c *Config) {
			c.HotRPS, c.Envs, c.GatewayTTL, c.ColdStart, c.Jitter = 100000, 4000, 0, true, 0.5
		}),
		with("... and eventually consistent reads", func(c *Config) {
			c.HotRPS, c.Envs, c.GatewayTTL, c.ColdStart, c.Jitter, c.EventualReads = 100000, 4000, 0, true, 0.5, true
		}),
		with("... and last-used skipped when fresh, first attempt jittered", func(c *Config) {
			c.HotRPS, c.Envs, c.GatewayTTL, c.ColdStart, c.Jitter, c.EventualReads, c.SkipFresh = 100000, 4000, 0, true, 0.5, true, true
		}),
		with("... or last-used sharded over 4 items", func(c *Config) {
			c.HotRPS, c.Envs, c.GatewayTTL, c.ColdStart, c.Jitter, c.EventualReads, c.LastUsedShards = 100000, 4000, 0, true, 0.5, true, 4
		}),
		with("long tail: 2M keys, 50k/s", func(c *Config) { c.Keys, c.TotalRPS = 2000000, 50000 }),
		with("long tail, LAST_USED_INTERVAL 1h", func(c *Config) { c.Keys, c.TotalRPS, c.LastUsed = 2000000, 50000, 3600 }),
		with("long tail, 1h, last-used skipped when fresh", func(c *Config) {
			c.Keys, c.TotalRPS, c.LastUsed, c.SkipFresh = 2000000, 50000, 3600, true
		}),
	}
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
			num(r.TableReads), num(r.TableWrites), num(r.StreamRecords), num(r.ThrottledReads), num(r.ThrottledWrites), fmt.Sprintf("%.1f s", r.RevocationLag)})
	}
	fmt.Fprintf(stdout, "Per-item limits: %d read units/s, %d write units/s. Seed %d.\n\n", ItemReadLimit, ItemWriteLimit, *seed)
	table(stdout, rows)
	return 0
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
