package bench

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

const goBench = `goos: linux
goarch: amd64
pkg: github.com/keygate/keygate/shared/authorizer
cpu: AMD EPYC
BenchmarkFloor-2              	 1611824	       700 ns/op	     512 B/op	       6 allocs/op
BenchmarkFloor-2              	 1611824	       800 ns/op	     512 B/op	       6 allocs/op
BenchmarkFloor-2              	 1611824	       900 ns/op	     512 B/op	       6 allocs/op
BenchmarkDecisionCacheHit-2   	 1804162	       600 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecisionCacheHit-2   	 1804162	      9000 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecisionCacheHit-2   	 1804162	       650 ns/op	       0 B/op	       0 allocs/op
BenchmarkDecisionMalformed-2  	29376153	        40 ns/op	       0 B/op	       0 allocs/op
BenchmarkHandle/rest-token/hit-2         	  123499	      9223 ns/op	    1735 B/op	      22 allocs/op
BenchmarkHandle/rest-token/forged-2      	  123499	      4000 ns/op	     735 B/op	       3 allocs/op
BenchmarkHandle/rest-token/malformed-2   	  123499	      20000 ns/op	     735 B/op	       3 allocs/op
BenchmarkHandle/http-v2/hit-2            	  123499	      3000 ns/op	     735 B/op	       4 allocs/op
some log line
PASS
ok  	github.com/keygate/keygate/shared/authorizer	12.967s
pkg: github.com/keygate/keygate/shared/apikey
BenchmarkCRC32Token-2   	31741498	        30 ns/op	       0 B/op	       0 allocs/op
BenchmarkParse/valid-2  	 9595980	       90 ns/op	       0 B/op	       0 allocs/op
BenchmarkParse/bad-checksum-2         	11869545	       100 ns/op	       0 B/op	       0 allocs/op
BenchmarkParse/bad-length-2           	287955450	         3.5 ns/op	       0 B/op	       0 allocs/op
BenchmarkDigest-2                     	 3585740	       333.4 ns/op	       0 B/op	       0 allocs/op
BenchmarkNoMem                        	 3585740	       12 ns/op
`

func TestParse(t *testing.T) {
	series, err := Parse(strings.NewReader(goBench))
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 13 {
		t.Fatalf("%d series", len(series))
	}
	floor := Find(series, Floor)
	if floor == nil || floor.Runs() != 3 || floor.Median("ns/op") != 800 || floor.Median("allocs/op") != 6 || floor.Median("B/op") != 512 {
		t.Fatalf("floor = %+v", floor)
	}
	if hit := Find(series, DecisionHit); hit.Median("ns/op") != 650 {
		t.Fatalf("median of 600, 9000, 650 = %v", hit.Median("ns/op"))
	}
	if s := Find(series, module+"shared/authorizer.BenchmarkHandle/rest-token/hit"); s == nil || s.Median("allocs/op") != 22 {
		t.Fatalf("sub-benchmark: %+v", s)
	}
	if s := Find(series, module+"shared/apikey.BenchmarkParse/bad-length"); s == nil || s.Median("ns/op") != 3.5 {
		t.Fatalf("bad-length: %+v", s)
	}
	if s := Find(series, module+"shared/apikey.BenchmarkNoMem"); s == nil || !math.IsNaN(s.Median("allocs/op")) {
		t.Fatalf("without -benchmem: %+v", s)
	}
}

func TestCheck(t *testing.T) {
	series, err := Parse(strings.NewReader(goBench))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Outcome{}
	for _, o := range Check(series, Targets) {
		got[o.Name] = o
	}
	for name, want := range map[string]struct {
		pass  bool
		value float64
	}{
		"cache-hit decision / floor (HMAC-SHA-256)":                     {true, 650.0 / 800},
		"cache-hit decision allocs/op":                                  {true, 0},
		"malformed token (bad checksum): Parse / CRC32 of the token":    {false, 100.0 / 30},
		"malformed token (bad length): Parse / CRC32 of the token":      {true, 3.5 / 30},
		"malformed token (bad checksum): decision / CRC32 of the token": {true, 40.0 / 30},
		"token parse allocs/op":                                         {true, 0},
		"digest (HMAC) allocs/op":                                       {true, 0},
		"handler rest-token cache hit, ns/op":                           {false, 9223},
		"handler rest-token cache hit, allocs/op":                       {false, 22},
		"handler rest-token forged token / cache hit":                   {true, 4000.0 / 9223},
		"handler rest-token malformed token / cache hit":                {false, 20000.0 / 9223},
		"handler http-v2 cache hit, ns/op":                              {true, 3000},
		"handler http-v2 cache hit, allocs/op":                          {true, 4},
	} {
		o, ok := got[name]
		if !ok {
			t.Errorf("no target %q", name)
			continue
		}
		if o.Pass() != want.pass || math.Abs(o.Value-want.value) > 1e-9 {
			t.Errorf("%s: pass %v value %v, want %v %v", name, o.Pass(), o.Value, want.pass, want.value)
		}
	}
	if len(got) != len(Targets) {
		t.Errorf("%d outcomes for %d targets", len(got), len(Targets))
	}

	// A missing benchmark fails its target instead of passing silently.
	out := Check(series[:1], Targets[:1])
	if out[0].Pass() || out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "BenchmarkDecisionCacheHit") {
		t.Fatalf("missing benchmark: %+v", out[0])
	}
	if out := Check(nil, []Target{{Name: "allocs", Bench: Floor, Max: 1}}); out[0].Pass() {
		t.Fatal("passed without data")
	}
}

func TestSummary(t *testing.T) {
	six := &Series{Values: map[string][]float64{"ns/op": {9000, 600, 650, 700, 610, 640}}}
	tests := []struct {
		name         string
		s            *Series
		unit         string
		center       float64
		finiteBounds bool
	}{
		{"even count: mean of the middle two", six, "ns/op", 645, true},
		{"odd count", &Series{Values: map[string][]float64{"ns/op": {3, 1, 2}}}, "ns/op", 2, false}, // 3 runs: no 95 % interval
		{"unit not reported", six, "allocs/op", math.NaN(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sum := tt.s.Summary(tt.unit)
			if sum.Center != tt.center && !(math.IsNaN(tt.center) && math.IsNaN(sum.Center)) {
				t.Fatalf("center %v, want %v", sum.Center, tt.center)
			}
			finite := !math.IsInf(sum.Lo, 0) && !math.IsInf(sum.Hi, 0) && !math.IsNaN(sum.Lo)
			if finite != tt.finiteBounds || (finite && (sum.Lo > sum.Center || sum.Hi < sum.Center)) {
				t.Fatalf("interval [%v, %v] around %v", sum.Lo, sum.Hi, sum.Center)
			}
		})
	}
	if six.Values["ns/op"][0] != 9000 {
		t.Fatal("Summary sorted the series' values")
	}
}

func TestMedianPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if MedianDuration(d) != 50500*time.Microsecond || MedianDuration(d[:99]) != 51*time.Millisecond || MedianDuration(nil) != 0 {
		t.Fatalf("MedianDuration: %v %v", MedianDuration(d), MedianDuration(d[:99]))
	}
	if Percentile(d, 50) != 50*time.Millisecond || Percentile(d, 99) != 99*time.Millisecond ||
		Percentile(d, 100) != 100*time.Millisecond || Percentile(d, 0) != time.Millisecond || Percentile(nil, 50) != 0 {
		t.Fatalf("Percentile: %v %v", Percentile(d, 50), Percentile(d, 99))
	}
	if d[0] != 100*time.Millisecond {
		t.Fatal("Percentile sorted its input")
	}
}

func TestPeakRSS(t *testing.T) {
	n, err := parseVmHWM(strings.NewReader("Name:\tbootstrap\nVmPeak:\t 1000 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n"))
	if err != nil || n != 12345*1024 {
		t.Fatalf("VmHWM = %d, %v", n, err)
	}
	if _, err := parseVmHWM(strings.NewReader("Name:\tx\n")); err == nil {
		t.Fatal("no error without VmHWM")
	}
	if _, err := os.Stat("/proc/self/status"); err == nil {
		if n, err := PeakRSS(os.Getpid()); err != nil || n <= 0 {
			t.Fatalf("PeakRSS(self) = %d, %v", n, err)
		}
	}
}

func TestTable(t *testing.T) {
	var b strings.Builder
	Table(&b, [][]string{{"a", "bb"}, {"µs", "x"}})
	want := "| a  | bb |\n| -- | -- |\n| µs | x  |\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
