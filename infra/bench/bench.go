// Package bench is the machinery behind `make bench` (see BENCHMARKS.md):
// it reads `go test -bench` output and checks the performance targets
// against medians, builds the function binaries as the template does, and
// measures processes (peak RSS, percentiles). Its commands are
// infra/bench/ratios, infra/bench/coldstart and infra/bench/throughput.
//
// Timing is checked only here, never in `make test`: figures from a shared
// two-core machine are too noisy for a test that must not flake.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchmath"
)

// Confidence is the level of the intervals Summary gives, benchstat's.
const Confidence = 0.95

// Series is every result of one benchmark (-count runs it several times).
type Series struct {
	Pkg  string // import path, from the "pkg:" line before it
	Name string // e.g. BenchmarkParse/bad-checksum, without the -GOMAXPROCS suffix
	// Values holds the measurements by unit as go test prints them
	// ("ns/op", "B/op", "allocs/op", custom metrics), one per run.
	Values map[string][]float64
}

// ID is pkg.Name, the key checks use, e.g.
// github.com/keygate/keygate/shared/apikey.BenchmarkCRC32Token.
func (s *Series) ID() string { return s.Pkg + "." + s.Name }

// Runs is the number of results read for the benchmark.
func (s *Series) Runs() int { return len(s.Values["ns/op"]) }

// Summary is the median of one unit's values with its confidence
// interval, computed as benchstat does (benchmath.AssumeNothing); the
// center is NaN without values.
func (s *Series) Summary(unit string) benchmath.Summary {
	return summary(s.Values[unit])
}

// Median of one unit's values: "ns/op", "B/op" or "allocs/op"; NaN if
// the benchmark did not report it (allocations without -benchmem).
func (s *Series) Median(unit string) float64 { return s.Summary(unit).Center }

func summary(v []float64) benchmath.Summary {
	if len(v) == 0 {
		nan := math.NaN()
		return benchmath.Summary{Center: nan, Lo: nan, Hi: nan}
	}
	// NewSample sorts in place.
	return benchmath.AssumeNothing.Summary(benchmath.NewSample(slices.Clone(v), &benchmath.DefaultThresholds), Confidence)
}

// Percentile returns the p-th percentile (0-100) of d by the nearest-rank
// method; d need not be sorted. Zero if d is empty.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// MedianDuration is the median of d (benchmath's: the mean of the middle
// two for an even count); zero if d is empty.
func MedianDuration(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	v := make([]float64, len(d))
	for i, x := range d {
		v[i] = float64(x)
	}
	return time.Duration(math.Round(summary(v).Center))
}

// Parse reads `go test -bench` output (several packages, any -count) with
// benchfmt into one Series per benchmark, in order of first appearance.
// Lines that are not results (logs, PASS, ok) are skipped, as are
// malformed result lines, which benchfmt reports and benchstat skips too.
func Parse(r io.Reader) ([]*Series, error) {
	var (
		out  []*Series
		byID = map[string]*Series{}
	)
	br := benchfmt.NewReader(r, "")
	for br.Scan() {
		res, ok := br.Result().(*benchfmt.Result)
		if !ok {
			continue // unit metadata or a syntax error
		}
		s := &Series{Pkg: res.GetConfig("pkg"), Name: "Benchmark" + trimProcs(res.Name)}
		if prev := byID[s.ID()]; prev != nil {
			s = prev
		} else {
			s.Values = map[string][]float64{}
			byID[s.ID()] = s
			out = append(out, s)
		}
		for _, v := range res.Values {
			// benchfmt tidies ns/op into sec/op; keep go test's units.
			unit, value := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, value = v.OrigUnit, v.OrigValue
			}
			s.Values[unit] = append(s.Values[unit], value)
		}
	}
	return out, br.Err()
}

// trimProcs drops the -GOMAXPROCS suffix of a benchmark name.
func trimProcs(n benchfmt.Name) string {
	base, parts := n.Parts()
	var b strings.Builder
	b.Write(base)
	for _, p := range parts {
		if !strings.HasPrefix(string(p), "-") {
			b.Write(p)
		}
	}
	return b.String()
}

// Find returns the series with the given ID, or nil.
func Find(series []*Series, id string) *Series {
	for _, s := range series {
		if s.ID() == id {
			return s
		}
	}
	return nil
}

// FormatNs prints a duration in ns with a unit that keeps 3-4 digits.
func FormatNs(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "-"
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	default:
		return fmt.Sprintf("%.1f ns", ns)
	}
}

// FormatBytes prints a size in MB (10^6 bytes) or kB.
func FormatBytes(n int64) string {
	if n >= 1e6 {
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f kB", float64(n)/1e3)
}

// PeakRSS is a live process's peak resident set size (VmHWM of
// /proc/<pid>/status), in bytes. Read it before the process exits.
func PeakRSS(pid int) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM: %w", err)
			}
			return kb * 1024, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM in /proc status")
}

// Table prints rows as a Markdown table (readable in a terminal, pasteable
// into BENCHMARKS.md). The first row is the header.
func Table(w io.Writer, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(r []string) {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			b.WriteString(" " + c + strings.Repeat(" ", width[i]-len([]rune(c))) + " |")
		}
		fmt.Fprintln(w, b.String())
	}
	line(rows[0])
	sep := make([]string, len(width))
	for i, n := range width {
		sep[i] = strings.Repeat("-", n)
	}
	line(sep)
	for _, r := range rows[1:] {
		line(r)
	}
}
