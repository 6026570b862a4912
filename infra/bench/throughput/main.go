// Command throughput measures the local stack of `make run`: it builds
// infra/cmd/run, starts it on a free loopback port, and drives
// GET /v1/whoami with the admin key it mints (the authorizer's decision is
// a cache hit) from -c concurrent connections (bench.Load) for -duration,
// after a short warm-up. It prints requests per second, latency
// percentiles and the maximum from a log-linear histogram (bench.Histogram),
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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/infra/bench"
	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
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

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	load := func(d time.Duration) (*bench.LoadResult, error) {
		return bench.Load{Workers: *conc, Duration: d, Request: req}.Run(ctx)
	}
	if *warmup > 0 {
		if _, err := load(*warmup); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "load: %d connections for %s, GET %s with 'Authorization: Bearer <admin key>'\n\n", *conc, *duration, url)
	res, err := load(*duration)
	if err != nil {
		return err
	}

	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
	rows := [][]string{{"figure", "value"},
		{"requests/s", fmt.Sprintf("%.0f", res.RequestsPerS())},
		{"responses", fmt.Sprintf("%d in %.1f s", res.Responses(), res.Elapsed.Seconds())},
	}
	for _, p := range []float64{50, 90, 99} {
		rows = append(rows, []string{fmt.Sprintf("latency p%g", p), ms(res.Latency.Percentile(p))})
	}
	rows = append(rows, []string{"latency max", ms(res.Latency.Max())})
	codes := []string{}
	for _, code := range res.Codes() {
		codes = append(codes, fmt.Sprintf("%d: %d", code, res.StatusCodes[code]))
	}
	rows = append(rows, []string{"status codes", strings.Join(codes, ", ")}, []string{"errors", strconv.Itoa(res.Errors)})
	fmt.Fprintf(stdout, "GET /v1/whoami through the local gateway (authorizer decision cached), %d connections, %s:\n\n", *conc, *duration)
	bench.Table(stdout, rows)
	fmt.Fprintln(stdout)

	// The full distribution, for a closer look than the table.
	var dist strings.Builder
	for _, p := range []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.9, 100} {
		fmt.Fprintf(&dist, "p%-5g %s\n", p, ms(res.Latency.Percentile(p)))
	}
	for _, e := range res.ErrorExamples {
		fmt.Fprintf(&dist, "error: %s\n", e)
	}
	_ = os.WriteFile(filepath.Join(*out, "throughput-latency.txt"), []byte(dist.String()), 0o644)

	if bad := res.Responses() - res.StatusCodes[http.StatusOK]; bad > 0 || res.Errors > 0 {
		return fmt.Errorf("%d responses were not 200 and %d requests failed: %v", bad, res.Errors, res.ErrorExamples)
	}
	return nil
}

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
