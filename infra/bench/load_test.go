package bench

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	ms := time.Millisecond
	seq := func(from, to int, unit time.Duration) []time.Duration {
		var d []time.Duration
		for i := from; i <= to; i++ {
			d = append(d, time.Duration(i)*unit)
		}
		return d
	}
	cases := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample, p50", []time.Duration{3 * ms}, 50, 3 * ms},
		{"one sample, p0 is the min", []time.Duration{3 * ms}, 0, 3 * ms},
		{"small values are exact, p50", seq(1, 100, 1), 50, 50},
		{"small values are exact, p99", seq(1, 100, 1), 99, 99},
		{"small values are exact, p100", seq(1, 100, 1), 100, 100},
		{"1-100 ms, p50", seq(1, 100, ms), 50, 50 * ms},
		{"1-100 ms, p90", seq(1, 100, ms), 90, 90 * ms},
		{"1-100 ms, p99", seq(1, 100, ms), 99, 99 * ms},
		{"1-100 ms, p100 is the exact max", seq(1, 100, ms), 100, 100 * ms},
		{"1-100 ms, p0 is the exact min", seq(1, 100, ms), 0, ms},
		{"p above 100 is the max", seq(1, 100, ms), 150, 100 * ms},
		{"negative counts as zero", []time.Duration{-5, -5, 7}, 50, 0},
		{"a slow tail moves p99 only, p50", append(seq(1, 990, time.Microsecond), slices.Repeat([]time.Duration{2 * time.Second}, 10)...), 50, 500 * time.Microsecond},
		{"a slow tail moves p99 only, p99", append(seq(1, 990, time.Microsecond), slices.Repeat([]time.Duration{2 * time.Second}, 10)...), 99, 990 * time.Microsecond},
		{"a slow tail moves p99 only, p99.1", append(seq(1, 990, time.Microsecond), slices.Repeat([]time.Duration{2 * time.Second}, 10)...), 99.1, 2 * time.Second},
		{"hours", []time.Duration{time.Hour, 2 * time.Hour}, 50, time.Hour},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h Histogram
			// Order must not matter.
			for _, i := range rand.Perm(len(c.samples)) {
				h.Record(c.samples[i])
			}
			got := h.Percentile(c.p)
			// A bucket is at most 1/128 of its values wide, and the
			// reported value is its top: never below, at most 1/128 above.
			if got < c.want || float64(got-c.want) > float64(c.want)/128 {
				t.Fatalf("p%g = %v, want %v (+0.8%%)", c.p, got, c.want)
			}
			if want := Percentile(c.samples, c.p); c.p <= 100 && c.p > 0 && len(c.samples) > 0 && c.samples[0] >= 0 &&
				(got < want || float64(got-want) > float64(want)/128) {
				t.Fatalf("p%g = %v, exact nearest rank %v", c.p, got, want)
			}
		})
	}
}

// TestHistogramBuckets checks the layout on every scale: a value is in
// the bucket whose top is at or above it, within 1/128, and buckets are in
// value order.
func TestHistogramBuckets(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<20 + 1, 123456789, 1<<40 + 12345, 1<<63 - 1} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("index(%d) = %d, out of range", v, i)
		}
		top := histHighest(i)
		if top < v || float64(top-v) > float64(v)/128 {
			t.Errorf("value %d: bucket %d tops at %d", v, i, top)
		}
		if i > 0 && histHighest(i-1) >= v {
			t.Errorf("value %d: the previous bucket already reaches %d", v, histHighest(i-1))
		}
		if histIndex(top) != i {
			t.Errorf("top of bucket %d (%d) is in bucket %d", i, top, histIndex(top))
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 1000; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	m.Merge(&Histogram{})
	for _, p := range []float64{0, 1, 50, 90, 99, 100} {
		if m.Percentile(p) != all.Percentile(p) {
			t.Errorf("p%g: merged %v, recorded together %v", p, m.Percentile(p), all.Percentile(p))
		}
	}
	if m.Count() != 1000 || m.Min() != time.Microsecond || m.Max() != time.Millisecond || m.Mean() != 500500*time.Nanosecond {
		t.Fatalf("count %d min %v max %v mean %v", m.Count(), m.Min(), m.Max(), m.Mean())
	}
}

func TestLoadRun(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") != "Bearer k" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	get := func(url, auth string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	cases := []struct {
		name    string
		load    Load
		codes   map[int]int // nil: any count of 200s
		errors  bool
		wantErr string
	}{
		{"request count", Load{Workers: 4, Requests: 50, Request: get(srv.URL, "Bearer k")}, map[int]int{200: 50}, false, ""},
		{"statuses are counted", Load{Workers: 2, Requests: 7, Request: get(srv.URL, "")}, map[int]int{401: 7}, false, ""},
		{"duration", Load{Workers: 3, Duration: 200 * time.Millisecond, Request: get(srv.URL, "Bearer k")}, nil, false, ""},
		{"no response is an error", Load{Workers: 2, Requests: 5, Request: get("http://127.0.0.1:1/", "")}, map[int]int{}, true, ""},
		{"not loopback", Load{Workers: 1, Requests: 1, Request: get("http://192.0.2.1/", "")}, nil, false, "loopback"},
		{"a name could resolve anywhere", Load{Workers: 1, Requests: 1, Request: get("http://localhost/", "")}, nil, false, "loopback"},
		{"too many workers", Load{Workers: MaxWorkers + 1, Requests: 1, Request: get(srv.URL, "")}, nil, false, "workers"},
		{"unbounded", Load{Workers: 1, Request: get(srv.URL, "")}, nil, false, "duration or a request count"},
		{"too long", Load{Workers: 1, Duration: time.Hour, Request: get(srv.URL, "")}, nil, false, "duration"},
		{"no body is resent", Load{Workers: 1, Requests: 1, Request: func() *http.Request {
			r, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("x"))
			return r
		}()}, nil, false, "GET and HEAD only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := served.Load()
			res, err := c.load.Run(context.Background())
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				if served.Load() != before {
					t.Fatal("a refused load sent requests")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.codes != nil && !maps.Equal(res.StatusCodes, c.codes) {
				t.Fatalf("codes %v, want %v", res.StatusCodes, c.codes)
			}
			if c.codes == nil && (res.StatusCodes[200] == 0 || res.Responses() != res.StatusCodes[200]) {
				t.Fatalf("codes %v", res.StatusCodes)
			}
			if (res.Errors > 0) != c.errors || (c.errors && len(res.ErrorExamples) != 1) {
				t.Fatalf("errors %d %v", res.Errors, res.ErrorExamples)
			}
			if int64(res.Responses()) != served.Load()-before || res.RequestsPerS() <= 0 {
				t.Fatalf("%d responses, %d served, %.0f/s", res.Responses(), served.Load()-before, res.RequestsPerS())
			}
			if res.Responses() > 0 && (res.Latency.Percentile(50) <= 0 || res.Latency.Percentile(100) != res.Latency.Max()) {
				t.Fatalf("latency p50 %v max %v", res.Latency.Percentile(50), res.Latency.Max())
			}
		})
	}
}

func TestLoadCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	start := time.Now()
	res, err := Load{Workers: 2, Duration: time.Minute, Request: req}.Run(ctx)
	if err == nil || time.Since(start) > 10*time.Second || res.Errors != 0 {
		t.Fatalf("err %v after %v, %d errors", err, time.Since(start), res.Errors)
	}
}
