package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestBilledMs(t *testing.T) {
	p := ListPrices
	tests := []struct {
		name   string
		inv    Invocation
		memory float64
		want   float64
	}{
		{"rounds up to 1 ms", Invocation{CPUms: 0.1}, 1769, 1},
		{"never below 1 ms", Invocation{}, 256, 1},
		{"CPU stretched by the vCPU share", Invocation{CPUms: 0.29}, 256, 3},     // 0.29 / (256/1769) = 2.004
		{"half the memory, twice the CPU time", Invocation{CPUms: 0.29}, 128, 5}, // 4.008
		{"waiting is not stretched", Invocation{CPUms: 0.0, WaitMs: 5}, 128, 5},  // 5
		{"no more than one vCPU", Invocation{CPUms: 2, WaitMs: 0.5}, 3538, 3},    // 2.5
		{"exact milliseconds do not round up", Invocation{CPUms: 1, WaitMs: 1}, 1769, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.BilledMs(tt.inv, tt.memory); got != tt.want {
				t.Fatalf("BilledMs = %v, want %v", got, tt.want)
			}
		})
	}
	// 1,000 invocations of 2 ms at 512 MB: 2 s × 0.5 GB = 1 GB-s.
	if got := p.GBSeconds(Invocation{CPUms: 2}, 1000, 1769*4); !near(got, 1000*0.002*1769*4/1024) {
		t.Fatalf("GBSeconds = %v", got)
	}
}

func TestPerMillion(t *testing.T) {
	p := ListPrices
	a := Authorizer{
		Hit:            Invocation{CPUms: 0.1},            // 1 ms at 1769 MB
		Miss:           Invocation{CPUms: 0.1, WaitMs: 4}, // 5 ms
		MissAndTouch:   Invocation{CPUms: 0.1, WaitMs: 8}, // 9 ms
		InitMs:         10,
		ColdPerMillion: 100,
		TouchPerMiss:   0.5,
	}
	const mem = 1769.0
	gb := mem / 1024
	tests := []struct {
		s                           Scenario
		inv, misses, touches, coldN float64
	}{
		{Scenario{0, 0}, 1e6, 1e6, 5e5, 100},
		{Scenario{0, 0.9}, 1e6, 1e5, 5e4, 100},
		{Scenario{0.9, 0.99}, 1e5, 1e3, 500, 10},
	}
	for _, tt := range tests {
		r := p.PerMillion(a, tt.s, []float64{mem})
		if !near(r.Invocations, tt.inv) || !near(r.Misses, tt.misses) || !near(r.Touches, tt.touches) || !near(r.Cold, tt.coldN) {
			t.Fatalf("%+v: %+v", tt.s, r)
		}
		hits := tt.inv - tt.misses
		ms := hits*1 + (tt.misses-tt.touches)*5 + tt.touches*9 + tt.coldN*10
		if wantGBs := ms / 1000 * gb; !near(r.GBs[mem], wantGBs) {
			t.Errorf("%+v: GB-s %v, want %v", tt.s, r.GBs[mem], wantGBs)
		}
		if want := r.GBs[mem]*0.0000133334 + tt.inv*0.20/1e6; !near(r.LambdaUSD[mem], want) {
			t.Errorf("%+v: Lambda $%v, want $%v", tt.s, r.LambdaUSD[mem], want)
		}
		if want := tt.misses*0.125/1e6 + tt.touches*0.625/1e6; !near(r.DynamoUSD, want) {
			t.Errorf("%+v: DynamoDB $%v, want $%v", tt.s, r.DynamoUSD, want)
		}
		if !near(r.ServiceUSD, tt.inv*10/1e6) || r.RESTUSD != 3.5 || r.HTTPUSD != 1 {
			t.Errorf("%+v: comparisons %v %v %v", tt.s, r.ServiceUSD, r.RESTUSD, r.HTTPUSD)
		}
	}
}

func TestPerMillionOps(t *testing.T) {
	p := ListPrices
	r := p.PerMillionOps(Operation{Name: "create", Invoke: Invocation{CPUms: 1, WaitMs: 9}, RRU: 1, WRU: 6, Events: 1}, []float64{1024})
	// 1 ms of CPU at 1024/1769 of a vCPU is 1.73 ms, + 9 ms waiting:
	// billed 11 ms; 1e6 × 11 ms × 1 GB = 11,000 GB-s.
	if want := 11000*0.0000133334 + 0.20; !near(r.LambdaUSD[1024], want) {
		t.Fatalf("Lambda $%v", r.LambdaUSD[1024])
	}
	if !near(r.DynamoUSD, 0.125+6*0.625) || r.EventsUSD != 1 || r.RESTUSD != 3.5 {
		t.Fatalf("%+v", r)
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "bench.txt")
	os.WriteFile(in, []byte("pkg: github.com/keygate/keygate/shared/authorizer\n"+
		"BenchmarkHandle/rest-token/hit-2   1000   3000 ns/op   280 B/op   4 allocs/op\n"+
		"BenchmarkHandle/http-v2/hit-2      1000   4000 ns/op   280 B/op   4 allocs/op\n"), 0o600)
	var out, errs bytes.Buffer
	if code := run([]string{"-memory", "128,256", in}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	for _, want := range []string{"hit 0.275 ms CPU", "Lambda @128MB", "Keygate @256MB", "| 90 %", "create", "$3.500"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if code := run([]string{"-memory", "64"}, &out, &errs); code != 2 {
		t.Fatalf("bad memory: exit %d", code)
	}
}

func TestPerMillionMetered(t *testing.T) {
	p := ListPrices
	// 0.05 writes per call: 50,000 write units, $0.03125; each leasing
	// call at 1,769 MB is billed 6 ms instead of 1.
	r := p.PerMillionMetered(Metered{WritesPerCall: 0.05, Hit: Invocation{CPUms: 0.5}, Write: Invocation{CPUms: 0.7, WaitMs: 5}}, []float64{1769})
	if !near(r.WRU, 50000) || !near(r.DynamoUSD, 0.03125) {
		t.Fatalf("WRU %v, DynamoDB $%v", r.WRU, r.DynamoUSD)
	}
	if want := 50000 * 0.005 * 1769 / 1024 * p.LambdaGBSecond; !near(r.LambdaUSD[1769], want) {
		t.Fatalf("Lambda $%v, want $%v", r.LambdaUSD[1769], want)
	}
}
