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
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sample is one result line of `go test -bench -benchmem`.
type Sample struct {
	NsPerOp     float64
	BytesPerOp  float64 // NaN without -benchmem
	AllocsPerOp float64 // NaN without -benchmem
}

// Series is every sample of one benchmark (-count runs it several times).
type Series struct {
	Pkg     string // import path, from the "pkg:" line before it
	Name    string // e.g. BenchmarkParse/bad-checksum, without the -GOMAXPROCS suffix
	Samples []Sample
}

// ID is pkg.Name, the key checks use, e.g.
// github.com/keygate/keygate/shared/apikey.BenchmarkCRC32Token.
func (s *Series) ID() string { return s.Pkg + "." + s.Name }

// Median of one metric over the samples: "ns/op", "B/op" or "allocs/op".
func (s *Series) Median(metric string) float64 {
	var v []float64
	for _, x := range s.Samples {
		switch metric {
		case "ns/op":
			v = append(v, x.NsPerOp)
		case "B/op":
			v = append(v, x.BytesPerOp)
		case "allocs/op":
			v = append(v, x.AllocsPerOp)
		}
	}
	return Median(v)
}

// Median returns the median of v, NaN if v is empty or holds a NaN.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if math.IsNaN(s[0]) { // slices.Sort puts NaNs first
		return math.NaN()
	}
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
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

// MedianDuration is the median of d (the lower middle for an even count).
func MedianDuration(d []time.Duration) time.Duration { return Percentile(d, 50) }

// benchLine matches "BenchmarkX/sub-2   1234   56.7 ns/op   8 B/op   1 allocs/op".
var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// Parse reads `go test -bench` output (several packages, any -count) into
// one Series per benchmark, in order of first appearance. Lines that are
// not results (logs, PASS, ok) are skipped.
func Parse(r io.Reader) ([]*Series, error) {
	var (
		out  []*Series
		byID = map[string]*Series{}
		pkg  string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		smp, ok := parseMetrics(m[2])
		if !ok {
			continue
		}
		s := byID[pkg+"."+m[1]]
		if s == nil {
			s = &Series{Pkg: pkg, Name: m[1]}
			byID[s.ID()] = s
			out = append(out, s)
		}
		s.Samples = append(s.Samples, smp)
	}
	return out, sc.Err()
}

// parseMetrics reads "56.7 ns/op  8 B/op  1 allocs/op" (and ignores other
// units); ok is false without ns/op.
func parseMetrics(s string) (Sample, bool) {
	smp := Sample{NsPerOp: math.NaN(), BytesPerOp: math.NaN(), AllocsPerOp: math.NaN()}
	f := strings.Fields(s)
	for i := 0; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return smp, false
		}
		switch f[i+1] {
		case "ns/op":
			smp.NsPerOp = v
		case "B/op":
			smp.BytesPerOp = v
		case "allocs/op":
			smp.AllocsPerOp = v
		}
	}
	return smp, !math.IsNaN(smp.NsPerOp)
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

// FormatDuration is FormatNs for a time.Duration.
func FormatDuration(d time.Duration) string { return FormatNs(float64(d.Nanoseconds())) }

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
