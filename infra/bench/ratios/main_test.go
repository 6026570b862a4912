package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var in strings.Builder
	in.WriteString("pkg: github.com/keygate/keygate/shared/apikey\n")
	for i := range 6 {
		fmt.Fprintf(&in, "BenchmarkCRC32Token-2   1000   %d ns/op   0 B/op   0 allocs/op\n", 30+i)
	}
	in.WriteString("BenchmarkDigest-2   1000   300 ns/op   0 B/op   0 allocs/op\n")
	tests := []struct {
		name  string
		input string
		code  int
		out   []string
	}{
		// The targets' other benchmarks are missing: every such target fails.
		{"medians, interval, missing targets", in.String(), 1, []string{
			// Six runs of 30-35 ns: the interval is the extremes, 35/32.5 = +8 %.
			"| shared/apikey.BenchmarkCRC32Token | 6    | 32.5 ns  | 8% |", "| shared/apikey.BenchmarkDigest     | 1    | 300.0 ns | ∞  |",
			"digest (HMAC) allocs/op", "PASS", "FAIL", "targets missed",
		}},
		{"no results", "PASS\nok  \tx\t1s\n", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(nil, strings.NewReader(tt.input), &stdout, &stderr); code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, stderr.String())
			}
			for _, want := range tt.out {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}
