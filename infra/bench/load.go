package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds of a load run: the load generator is for our own stack on this
// machine, not a tool to point at anything else.
const (
	MaxWorkers      = 1024
	MaxLoadDuration = 10 * time.Minute
	maxBodyRead     = 1 << 20 // drained so the connection is reused
	maxErrExamples  = 5
)

// Load is one HTTP load run: Workers concurrent connections send Request
// back to back until Duration has passed or Requests were sent, whichever
// comes first (a zero bound does not apply, but at least one must be set).
type Load struct {
	Workers  int
	Duration time.Duration
	Requests int64
	// Timeout bounds each request (default 10 s).
	Timeout time.Duration
	// Request is cloned for every send: GET or HEAD only, to a loopback
	// address.
	Request *http.Request
}

// LoadResult is what a run measured. Latency holds responses only (any
// status): a request that got no response has no latency to report.
type LoadResult struct {
	Elapsed       time.Duration
	Latency       Histogram
	StatusCodes   map[int]int
	Errors        int      // requests that got no response
	ErrorExamples []string // the first few distinct errors
}

// Responses is the number of requests answered, whatever the status.
func (r *LoadResult) Responses() int { return int(r.Latency.Count()) }

// RequestsPerS is requests sent, answered or not, per second of the run.
func (r *LoadResult) RequestsPerS() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Responses()+r.Errors) / r.Elapsed.Seconds()
}

// Codes are the statuses seen, in order.
func (r *LoadResult) Codes() []int {
	codes := make([]int, 0, len(r.StatusCodes))
	for c := range r.StatusCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// checkLoopback refuses a target other than a loopback IP literal: a name
// could resolve anywhere.
func checkLoopback(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("load target %s: http or https only", u.Redacted())
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load target %s: loopback IP addresses only (e.g. 127.0.0.1)", u.Redacted())
	}
	return nil
}

func (l Load) validate() error {
	switch {
	case l.Request == nil || l.Request.URL == nil:
		return errors.New("load: no request")
	case l.Request.Method != http.MethodGet && l.Request.Method != http.MethodHead:
		return fmt.Errorf("load: %s: GET and HEAD only (no body is resent)", l.Request.Method)
	case l.Workers < 1 || l.Workers > MaxWorkers:
		return fmt.Errorf("load: %d workers, want 1 to %d", l.Workers, MaxWorkers)
	case l.Duration < 0 || l.Duration > MaxLoadDuration:
		return fmt.Errorf("load: duration %s, want at most %s", l.Duration, MaxLoadDuration)
	case l.Requests < 0:
		return fmt.Errorf("load: %d requests", l.Requests)
	case l.Duration == 0 && l.Requests == 0:
		return errors.New("load: set a duration or a request count")
	}
	return checkLoopback(l.Request.URL)
}

// Run sends the load. Each worker records into its own histogram, merged
// at the end, so recording adds no contention to what is measured.
// Requests in flight when the duration ends are completed and counted;
// cancelling ctx stops the run early and returns ctx's error.
func (l Load) Run(ctx context.Context) (*LoadResult, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	transport := &http.Transport{
		Proxy:               nil, // straight to loopback, whatever HTTP_PROXY says
		MaxIdleConns:        l.Workers,
		MaxIdleConnsPerHost: l.Workers,
		MaxConnsPerHost:     l.Workers,
		DisableCompression:  true,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   timeout,
		// A redirect could lead off loopback.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	var deadline time.Time
	start := time.Now()
	if l.Duration > 0 {
		deadline = start.Add(l.Duration)
	}
	var sent atomic.Int64
	// next claims the right to send one more request.
	next := func() bool {
		if ctx.Err() != nil || (!deadline.IsZero() && !time.Now().Before(deadline)) {
			return false
		}
		return l.Requests == 0 || sent.Add(1) <= l.Requests
	}

	type workerResult struct {
		lat    Histogram
		codes  map[int]int
		errors int
		errs   []string
	}
	results := make([]*workerResult, l.Workers)
	var wg sync.WaitGroup
	for w := range results {
		r := &workerResult{codes: map[int]int{}}
		results[w] = r
		wg.Go(func() {
			for next() {
				req := l.Request.Clone(ctx)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() != nil {
						return // stopped, not failed
					}
					r.errors++
					if msg := err.Error(); len(r.errs) < maxErrExamples && !slices.Contains(r.errs, msg) {
						r.errs = append(r.errs, msg)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBodyRead))
				resp.Body.Close()
				// Latency to the whole body, as a client sees it.
				r.lat.Record(time.Since(t0))
				r.codes[resp.StatusCode]++
			}
		})
	}
	wg.Wait()
	res := &LoadResult{Elapsed: time.Since(start), StatusCodes: map[int]int{}}
	for _, r := range results {
		res.Latency.Merge(&r.lat)
		for c, n := range r.codes {
			res.StatusCodes[c] += n
		}
		res.Errors += r.errors
		for _, e := range r.errs {
			if len(res.ErrorExamples) < maxErrExamples && !slices.Contains(res.ErrorExamples, e) {
				res.ErrorExamples = append(res.ErrorExamples, e)
			}
		}
	}
	return res, ctx.Err()
}
