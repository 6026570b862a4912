// Command throughput measures the local stack of `make run`: it builds
// infra/cmd/run, starts it on a free loopback port, and drives
// GET /v1/whoami with the admin key it mints (the authorizer's decision is
// a cache hit) from -c concurrent connections for -duration, after a short
// warm-up. The load generator is vegeta's, as a library: -c workers, each
// sending its next request when the last one is answered (no rate limit),
// so the figure is what the stack sustains. It prints requests per second,
// latency percentiles (vegeta's t-digest estimates) and the exact maximum,
// and exits 1 if any request failed or was not a 200.
//
//	go run ./infra/bench/throughput
//
// The stack uses $DYNAMODB_ENDPOINT if set, else starts DynamoDB Local.
// The load generator and the server share this machine's cores.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/infra/bench"
	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func main() {
	cli.Main("throughput", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout) })
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("throughput", flag.ContinueOnError)
	duration := fs.Duration("duration", 10*time.Second, "how long to send load")
	warmup := fs.Duration("warmup", 2*time.Second, "load sent first and not measured")
	conc := fs.Int("c", 16, "concurrent connections")
	out := fs.String("out", filepath.Join(root, ".build", "bench"), "build and log folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	// The stack, as make run serves it.
	bin := filepath.Join(*out, "run")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./infra/cmd/run")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build infra/cmd/run: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	keyFile := filepath.Join(*out, "throughput-admin-key")
	_ = os.Remove(keyFile)
	defer os.Remove(keyFile)
	logPath := filepath.Join(*out, "throughput-run.log")
	logs, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logs.Close()
	stack := exec.Command(bin, "-port", strconv.Itoa(port), "-key-file", keyFile, "-quiet")
	// Its banner (stdout) shows the admin key: not kept.
	stack.Dir, stack.Stdout, stack.Stderr = root, nil, logs
	if err := stack.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- stack.Wait() }()
	defer func() {
		// make run stops DynamoDB Local it started on an interrupt.
		_ = stack.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = stack.Process.Kill()
			<-exited
		}
	}()

	url := fmt.Sprintf("http://127.0.0.1:%d/v1/whoami", port)
	fmt.Fprintf(stdout, "Starting the make run stack on 127.0.0.1:%d ...\n", port)
	key, err := waitReady(ctx, url, keyFile, exited, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("%w (stack log: %s)", err, logPath)
	}

	target := vegeta.Target{Method: http.MethodGet, URL: url, Header: http.Header{"Authorization": {"Bearer " + key}}}
	if *warmup > 0 {
		if _, err := attack(ctx, target, *conc, *warmup); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "load: %d connections for %s, GET %s with 'Authorization: Bearer <admin key>'\n\n", *conc, *duration, url)
	m, err := attack(ctx, target, *conc, *duration)
	if err != nil {
		return err
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	codes := slices.Sorted(maps.Keys(m.StatusCodes))
	ok := m.StatusCodes["200"]
	rows := [][]string{{"figure", "value"},
		{"requests/s", fmt.Sprintf("%.0f", m.Throughput)},
		{"responses", fmt.Sprintf("%d in %.1f s", m.Requests-uint64(m.StatusCodes["0"]), (m.Duration + m.Wait).Seconds())},
		{"latency p50", ms(m.Latencies.P50)},
		{"latency p90", ms(m.Latencies.P90)},
		{"latency p99", ms(m.Latencies.P99)},
		{"latency max", ms(m.Latencies.Max)},
	}
	var list []string
	for _, c := range codes {
		list = append(list, fmt.Sprintf("%s: %d", c, m.StatusCodes[c]))
	}
	rows = append(rows, []string{"status codes (0: no response)", strings.Join(list, ", ")}, []string{"distinct errors", strconv.Itoa(len(m.Errors))})
	fmt.Fprintf(stdout, "GET /v1/whoami through the local gateway (authorizer decision cached), %d connections, %s:\n\n", *conc, *duration)
	bench.Table(stdout, rows)
	fmt.Fprintln(stdout)

	// The full distribution, for a closer look than the table.
	var dist strings.Builder
	fmt.Fprintf(&dist, "p0     %s\n", ms(m.Latencies.Min))
	for _, p := range []float64{10, 25, 50, 75, 90, 95, 99, 99.9} {
		fmt.Fprintf(&dist, "p%-5g %s\n", p, ms(m.Latencies.Quantile(p/100)))
	}
	fmt.Fprintf(&dist, "p100   %s\n", ms(m.Latencies.Max))
	for _, e := range m.Errors {
		fmt.Fprintf(&dist, "error: %s\n", e)
	}
	_ = os.WriteFile(filepath.Join(*out, "throughput-latency.txt"), []byte(dist.String()), 0o644)

	if uint64(ok) != m.Requests {
		return fmt.Errorf("%d of %d requests were not answered 200: %v %v", m.Requests-uint64(ok), m.Requests, m.StatusCodes, m.Errors)
	}
	return nil
}

// attack sends target from conc workers, each waiting for its answer
// before the next request, for d or until ctx is cancelled, and returns
// vegeta's summary. The client goes straight to the target, whatever
// HTTP_PROXY says, and follows no redirect: the target is this machine's
// own stack on a loopback address, and stays the only thing loaded.
func attack(ctx context.Context, target vegeta.Target, conc int, d time.Duration) (*vegeta.Metrics, error) {
	if conc < 1 || conc > maxConc {
		return nil, fmt.Errorf("-c %d: want 1 to %d", conc, maxConc)
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConnsPerHost: conc,
			MaxConnsPerHost:     conc,
			DisableCompression:  true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	atk := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(uint64(conc)), vegeta.MaxWorkers(uint64(conc)),
		vegeta.MaxBody(1<<20))
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	var m vegeta.Metrics
	// A zero rate is no pacing: every worker sends as soon as it is free.
	for res := range atk.Attack(vegeta.NewStaticTargeter(target), vegeta.Rate{}, d, "throughput") {
		m.Add(res)
	}
	m.Close()
	return &m, ctx.Err()
}

// maxConc bounds -c: a load for this machine's own stack.
const maxConc = 1024

// waitReady waits until the stack wrote the admin key and answers
// GET /v1/whoami with it.
func waitReady(ctx context.Context, url, keyFile string, exited <-chan error, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("the stack exited: %v", err)
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", errors.New("the stack did not become ready")
		}
		raw, err := os.ReadFile(keyFile)
		key := strings.TrimSpace(string(raw))
		if err != nil || key == "" {
			continue
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return key, nil
		}
		return "", fmt.Errorf("GET /v1/whoami with the admin key: %s", resp.Status)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
