// Command ratios reads `go test -bench -benchmem -count N` output, prints
// the median of every benchmark with its 95 % confidence interval (both
// from golang.org/x/perf/benchmath, as benchstat computes them) and checks
// the targets of BENCHMARKS.md (bench.Targets) against those medians. It
// exits 1 if a target is missed or a benchmark it needs is missing.
//
//	go test -run '^$' -bench . -benchmem -count 5 ./shared/... > bench.txt
//	go run ./infra/bench/ratios bench.txt
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/keygate/keygate/infra/bench"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var series []*bench.Series
	read := func(r io.Reader, name string) bool {
		s, err := bench.Parse(r)
		if err != nil {
			fmt.Fprintf(stderr, "ratios: %s: %v\n", name, err)
			return false
		}
		series = append(series, s...)
		return true
	}
	if len(args) == 0 {
		if !read(stdin, "stdin") {
			return 1
		}
	}
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(stderr, "ratios:", err)
			return 1
		}
		ok := read(f, name)
		f.Close()
		if !ok {
			return 1
		}
	}
	if len(series) == 0 {
		fmt.Fprintln(stderr, "ratios: no benchmark results in the input")
		return 1
	}

	fmt.Fprintf(stdout, "Medians (± the %g %% confidence interval, ∞ below 6 runs):\n", 100*bench.Confidence)
	fmt.Fprintln(stdout)
	rows := [][]string{{"benchmark", "runs", "time/op", "±", "B/op", "allocs/op"}}
	for _, s := range series {
		t := s.Summary("ns/op")
		rows = append(rows, []string{
			shortName(s), strconv.Itoa(s.Runs()), bench.FormatNs(t.Center), t.PctRangeString(),
			bytesPerOp(s.Median("B/op")), number(s.Median("allocs/op")),
		})
	}
	bench.Table(stdout, rows)

	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "Targets (medians):")
	fmt.Fprintln(stdout)
	failed := 0
	rows = [][]string{{"target", "figures", "value", "limit", "result"}}
	for _, o := range bench.Check(series, bench.Targets) {
		result := "PASS"
		if !o.Pass() {
			result = "FAIL"
			failed++
		}
		value, limit := number(o.Value), number(o.Max)
		switch {
		case o.Baseline != "":
			value, limit = fmt.Sprintf("%.2fx", o.Value), fmt.Sprintf("%gx", o.Max)
		case o.Ns:
			value, limit = bench.FormatNs(o.Value), bench.FormatNs(o.Max)
		}
		detail := o.Detail(series)
		if o.Err != nil {
			detail, value = o.Err.Error(), "-"
		}
		rows = append(rows, []string{o.Name, detail, value, "≤ " + limit, result})
	}
	bench.Table(stdout, rows)
	if failed > 0 {
		fmt.Fprintf(stdout, "\nratios: %d of %d targets missed\n", failed, len(bench.Targets))
		return 1
	}
	fmt.Fprintf(stdout, "\nratios: all %d targets met\n", len(bench.Targets))
	return 0
}

// shortName drops the module path: shared/apikey.BenchmarkParse/valid.
func shortName(s *bench.Series) string {
	return strings.TrimPrefix(s.ID(), "github.com/keygate/keygate/")
}

// bytesPerOp rounds: the median of an even count can end in .5.
func bytesPerOp(v float64) string {
	if v != v {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func number(v float64) string {
	if v != v { // NaN: not measured
		return "-"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
