// Command cost prices a million authorizations, and a million management
// operations, from the benchmark medians: Lambda arm64 GB-seconds at
// several memory sizes, DynamoDB on-demand read and write units, next to
// API Gateway's own request price and a hosted verifier's. Prices and
// their date: model.go and BENCHMARKS.md ("Cost per million").
//
//	go run ./infra/bench/cost .build/bench/go-bench.txt
//	go run ./infra/bench/cost -ddb-ms 8 -runtime-ms 0.3 -memory 128,256,512
//
// make bench runs it after the Go benchmarks.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/keygate/keygate/infra/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cost", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		memory    = fs.String("memory", "128,256,512", "memory sizes to price, MB")
		deployed  = fs.Float64("template-memory", 256, "the template's MemorySize, MB: the total column's")
		hitUs     = fs.Float64("hit-us", 0, "handler time of a cache hit at one vCPU, µs (default: the slowest shape's Handle/<shape>/hit median)")
		runtimeMs = fs.Float64("runtime-ms", 0.271, "CPU per invocation outside the handler at one vCPU (runtime API exchange, event and response JSON), ms: coldstart's warm invoke p50")
		sdkMs     = fs.Float64("sdk-cpu-ms", 0.2, "CPU of one DynamoDB call in the function (SDK, signing, HTTP), ms at one vCPU")
		ddbMs     = fs.Float64("ddb-ms", 5, "DynamoDB round trip from Lambda in the same region, ms (consistent GetItem p50, assumed)")
		initMs    = fs.Float64("init-ms", 6.2, "billed INIT of a cold start, ms: coldstart's init p50")
		cold      = fs.Float64("cold-per-million", 1000, "cold starts per million invocations")
		touch     = fs.Float64("touch-per-miss", 5.0/60, "share of misses that also write last-used (1 = worst case; AUTH_CACHE_TTL/LAST_USED_INTERVAL for a busy key)")
		meterW    = fs.Float64("metered-writes", 0, "usage writes per allowed metered call (default: BenchmarkMeteredWrites' usage-writes/allowed median, else 0.1, the budget)")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	memories, err := parseMemories(*memory)
	if err != nil {
		fmt.Fprintln(stderr, "cost:", err)
		return 2
	}
	if *hitUs == 0 {
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "cost: give the go test -bench output (or -hit-us)")
			return 2
		}
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, "cost:", err)
			return 1
		}
		series, err := bench.Parse(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "cost:", err)
			return 1
		}
		for _, shape := range bench.Shapes {
			if s := bench.Find(series, bench.Handle(shape, "hit")); s != nil {
				*hitUs = math.Max(*hitUs, s.Median("ns/op")/1000)
			}
		}
		if *hitUs == 0 {
			fmt.Fprintln(stderr, "cost: no Handle/<shape>/hit benchmark in", fs.Arg(0))
			return 1
		}
		if s := bench.Find(series, bench.MeteredWrites); s != nil && *meterW == 0 {
			*meterW = s.Median("usage-writes/allowed")
		}
	}
	if *meterW == 0 {
		*meterW = 0.1
	}
	p := ListPrices
	hit := Invocation{CPUms: *hitUs/1000 + *runtimeMs}
	miss := Invocation{CPUms: hit.CPUms + *sdkMs, WaitMs: *ddbMs}
	a := Authorizer{
		Hit: hit, Miss: miss,
		MissAndTouch:   Invocation{CPUms: miss.CPUms + *sdkMs, WaitMs: 2 * *ddbMs},
		InitMs:         *initMs,
		ColdPerMillion: *cold,
		TouchPerMiss:   *touch,
	}
	fmt.Fprintf(stdout, "Model: hit %.3f ms CPU; miss + %.2f ms CPU + %.1f ms DynamoDB; last-used write on %.3g of misses; %g cold starts (INIT %.1f ms) per 1M invocations.\n",
		hit.CPUms, *sdkMs, *ddbMs, *touch, *cold, *initMs)
	fmt.Fprintln(stdout, "Billed ms per invocation (hit / miss / miss+write):")
	for _, m := range memories {
		fmt.Fprintf(stdout, "  %4g MB: %g / %g / %g\n", m, p.BilledMs(a.Hit, m), p.BilledMs(a.Miss, m), p.BilledMs(a.MissAndTouch, m))
	}
	fmt.Fprintln(stdout)

	header := []string{"gateway cache", "function cache", "invocations", "GetItem (RRU)", "last-used (WRU)"}
	for _, m := range memories {
		header = append(header, fmt.Sprintf("Lambda @%gMB", m))
	}
	header = append(header, "DynamoDB", fmt.Sprintf("Keygate @%gMB", *deployed), "API GW REST", "API GW HTTP", "hosted verifier")
	priced := append(memories[:len(memories):len(memories)], *deployed)
	rows := [][]string{header}
	for _, g := range []float64{0, 0.9} {
		for _, h := range []float64{0, 0.9, 0.99} {
			r := p.PerMillion(a, Scenario{GatewayHit: g, FunctionHit: h}, priced)
			row := []string{pct(g), pct(h), count(r.Invocations), count(r.RRU), count(r.WRU)}
			for _, m := range memories {
				row = append(row, usd(r.LambdaUSD[m]))
			}
			row = append(row, usd(r.DynamoUSD), usd(r.LambdaUSD[*deployed]+r.DynamoUSD), usd(r.RESTUSD), usd(r.HTTPUSD), usd(r.ServiceUSD))
			rows = append(rows, row)
		}
	}
	fmt.Fprintln(stdout, "Cost of 1,000,000 authorizations (USD, us-east-1 list prices):")
	fmt.Fprintln(stdout)
	bench.Table(stdout, rows)

	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Cost of 1,000,000 management operations (USD):")
	fmt.Fprintln(stdout)
	header = []string{"operation", "RRU", "WRU", "events"}
	for _, m := range memories {
		header = append(header, fmt.Sprintf("Lambda @%gMB", m))
	}
	header = append(header, "DynamoDB", "EventBridge", "API GW REST")
	rows = [][]string{header}
	for _, op := range operations(*runtimeMs, *sdkMs, *ddbMs) {
		r := p.PerMillionOps(op, memories)
		row := []string{op.Name, strconv.FormatFloat(op.RRU, 'g', -1, 64), strconv.FormatFloat(op.WRU, 'g', -1, 64), strconv.FormatFloat(op.Events, 'g', -1, 64)}
		for _, m := range memories {
			row = append(row, usd(r.LambdaUSD[m]))
		}
		row = append(row, usd(r.DynamoUSD), usd(r.EventsUSD), usd(r.RESTUSD))
		rows = append(rows, row)
	}
	bench.Table(stdout, rows)

	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "Added by metering 1,000,000 allowed calls of keys with usage limits (%.3g usage writes per call; docs/usage-limits.md), next to the gateway's own price:\n\n", *meterW)
	mr := p.PerMillionMetered(Metered{WritesPerCall: *meterW, Hit: hit, Write: Invocation{CPUms: hit.CPUms + *sdkMs, WaitMs: *ddbMs}}, priced)
	header = []string{"usage writes (WRU)", "DynamoDB"}
	for _, m := range memories {
		header = append(header, fmt.Sprintf("Lambda @%gMB", m))
	}
	header = append(header, "API GW REST", "API GW HTTP")
	row := []string{count(mr.WRU), usd(mr.DynamoUSD)}
	for _, m := range memories {
		row = append(row, usd(mr.LambdaUSD[m]))
	}
	row = append(row, usd(p.RESTPerMillion), usd(p.HTTPPerMillion))
	bench.Table(stdout, [][]string{header, row})
	return 0
}

// operations are the management calls, by their DynamoDB work (counted in
// shared/manage's tests and described in BENCHMARKS.md): create reads the
// owner's slots item and writes one transaction of three items (slots,
// key, audit), and revoke the same after reading the key; transactional
// writes cost two write units per item-KB. List reads one Query page of
// ten keys (about 6 KB, strongly consistent: 2 read units), get one item.
// Create and revoke publish one lifecycle event each.
func operations(runtimeMs, sdkMs, ddbMs float64) []Operation {
	call := func(n float64) Invocation {
		return Invocation{CPUms: runtimeMs + 0.3 + n*sdkMs, WaitMs: n * ddbMs}
	}
	return []Operation{
		{Name: "create", Invoke: call(2), RRU: 1, WRU: 6, Events: 1},
		{Name: "revoke", Invoke: call(2), RRU: 1, WRU: 6, Events: 1},
		{Name: "list (10 keys)", Invoke: call(1), RRU: 2},
		{Name: "get", Invoke: call(1), RRU: 1},
	}
}

func parseMemories(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		m, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || m < 128 || m > 10240 {
			return nil, fmt.Errorf("memory %q: want MB between 128 and 10240", f)
		}
		out = append(out, m)
	}
	return out, nil
}

func pct(v float64) string   { return strconv.FormatFloat(v*100, 'g', -1, 64) + " %" }
func count(v float64) string { return strconv.FormatFloat(math.Round(v), 'f', 0, 64) }
func usd(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v < 0.01:
		return fmt.Sprintf("$%.4f", v)
	}
	return fmt.Sprintf("$%.3f", v)
}
