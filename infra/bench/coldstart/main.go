// Command coldstart measures the real function binaries the way Lambda runs
// them, under AWS's Runtime Interface Emulator as `make invoke` does
// (infra/lambdarun):
//
//   - binary size of each function, stripped, for the host and for the
//     linux/arm64 target the template ships;
//   - init: the emulator's INIT REPORT (bootstrap start until its first
//     request for an event), the median over
//     several fresh processes per function (no network: TOKEN_PEPPER is set,
//     so nothing is fetched at init);
//   - the first invoke of each fresh process (the emulator's Duration, which
//     includes its own overhead);
//   - the authorizer's warm invokes on cache hits (median and p99 over
//     -invokes invocations of one process, every event shape) and its peak
//     RSS (VmHWM) after them.
//
// Two references run beside the functions: the minimal Go Lambda
// (infra/bench/minimal) and a stub that builds only the AWS clients the
// authorizer needs (infra/bench/stub), so what Keygate's own code adds to
// the authorizer is the ratio to the stub.
//
// It prints tables and exits 1 if a target of BENCHMARKS.md is missed:
// init < 20 ms, warm authorizer p50 < 1 ms, peak RSS < 40 MB, each binary
// < 12 MB, and the authorizer at most 1.1× the stub's arm64 size and 1.2×
// its init (medians of the same run).
//
//	go run ./infra/bench/coldstart            # starts DynamoDB Local itself
//	go run ./infra/cmd/ddb run -- go run ./infra/bench/coldstart
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/keygate/keygate/infra/bench"
	"github.com/keygate/keygate/infra/cli"
	"github.com/keygate/keygate/infra/ddblocal"
	"github.com/keygate/keygate/infra/lambdarun"
	"github.com/keygate/keygate/shared/keygate"
	"github.com/keygate/keygate/shared/manage"
	"github.com/keygate/keygate/shared/setup"
	"github.com/keygate/keygate/shared/setup/managesetup"
	"github.com/keygate/keygate/shared/store"
)

// Targets.
const (
	maxSizeOverStub = 1.1
	maxInitOverStub = 1.2
	maxInit         = 20 * time.Millisecond
	maxWarmP50      = time.Millisecond
	maxPeakRSS      = 40_000_000 // bytes
	maxBinarySize   = 12_000_000 // bytes
)

// shapes are the authorizer events of events/authorizer, in the order the
// warm loop cycles through them.
var shapes = []string{"rest-request", "rest-token", "http-v2", "http-v1"}

const placeholder = "kg_live_REPLACE_WITH_A_REAL_TOKEN"

func main() {
	cli.Main("coldstart", func(ctx context.Context) error { return run(ctx, os.Args[1:], os.Stdout) })
}

type options struct {
	inits, invokes         int
	out, envMode, baseline string
	check                  bool
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("coldstart", flag.ContinueOnError)
	fs.IntVar(&o.inits, "inits", 15, "fresh processes per function for the init and first-invoke figures")
	fs.IntVar(&o.invokes, "invokes", 1000, "warm authorizer invocations (cache hits) in one process")
	fs.StringVar(&o.out, "out", "", "build and log folder (default <module>/.build/bench)")
	fs.StringVar(&o.envMode, "env", "lambda", "function environment: lambda (only what Lambda and the template set) or inherit (this shell's environment too, as make invoke)")
	fs.StringVar(&o.baseline, "before", "", "also build the functions of the module in this `dir` (e.g. an older commit, from git archive) and compare their size and init")
	fs.BoolVar(&o.check, "check", true, "exit 1 if a target is missed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.inits < 1 || o.invokes < 1 || (o.envMode != "lambda" && o.envMode != "inherit") {
		return errors.New("-inits and -invokes must be at least 1, -env lambda or inherit")
	}
	root, err := ddblocal.ModuleRoot()
	if err != nil {
		return err
	}
	if o.out == "" {
		o.out = filepath.Join(root, ".build", "bench")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	logs, err := os.Create(filepath.Join(o.out, "coldstart-functions.log"))
	if err != nil {
		return err
	}
	defer logs.Close()

	var missed []string
	miss := func(ok bool, what string) string {
		if ok {
			return "PASS"
		}
		missed = append(missed, what)
		return "FAIL"
	}

	// Binaries: the host build runs here; the arm64 one is what ships.
	fmt.Fprintf(stdout, "Building the functions (CGO_ENABLED=0 go build %s) ...\n\n", strings.Join(lambdarun.BuildFlags, " "))
	var subjects []*subject
	build := func(label, dir, pkg, fn string) (*subject, error) {
		s := &subject{label: label, fn: fn, bin: filepath.Join(o.out, label, "host", fn, "bootstrap")}
		arm := filepath.Join(o.out, label, "linux-arm64", fn, "bootstrap")
		if err := lambdarun.Build(ctx, dir, pkg, runtime.GOOS, runtime.GOARCH, s.bin, os.Stderr); err != nil {
			return nil, err
		}
		if err := lambdarun.Build(ctx, dir, pkg, "linux", "arm64", arm, os.Stderr); err != nil {
			return nil, err
		}
		var err error
		if s.hostSize, err = bench.FileSize(s.bin); err == nil {
			s.armSize, err = bench.FileSize(arm)
		}
		subjects = append(subjects, s)
		return s, err
	}
	rows := [][]string{{"function", runtime.GOOS + "/" + runtime.GOARCH + " (host)", "linux/arm64 (shipped)", "target", "result"}}
	for _, fn := range bench.Functions {
		s, err := build("current", root, "./functions/"+fn, fn)
		if err != nil {
			return err
		}
		rows = append(rows, []string{fn, bench.FormatBytes(s.hostSize), bench.FormatBytes(s.armSize), "< 12 MB",
			miss(s.hostSize < maxBinarySize && s.armSize < maxBinarySize, fn+" binary size")})
	}
	if o.baseline != "" {
		for _, fn := range bench.Functions {
			s, err := build("before", o.baseline, "./functions/"+fn, fn)
			if err != nil {
				return err
			}
			rows = append(rows, []string{fn + " (before)", bench.FormatBytes(s.hostSize), bench.FormatBytes(s.armSize), "", ""})
		}
	}
	s, err := build("reference", root, "./infra/bench/minimal", "minimal")
	if err != nil {
		return err
	}
	rows = append(rows, []string{"minimal Go Lambda (reference)", bench.FormatBytes(s.hostSize), bench.FormatBytes(s.armSize), "", ""})
	stub, err := build("reference", root, "./infra/bench/stub", "stub")
	if err != nil {
		return err
	}
	rows = append(rows, []string{"stub: the authorizer's AWS clients only (reference)", bench.FormatBytes(stub.hostSize), bench.FormatBytes(stub.armSize), "", ""})
	auth := subjects[slices.IndexFunc(subjects, func(s *subject) bool { return s.label == "current" && s.fn == "authorizer" })]
	sizeRatio := float64(auth.armSize) / float64(stub.armSize)
	rows = append(rows, []string{"authorizer / stub (arm64)", "", fmt.Sprintf("%.2f×", sizeRatio), fmt.Sprintf("≤ %.1f×", maxSizeOverStub),
		miss(sizeRatio <= maxSizeOverStub, "authorizer size over the stub's")},
		[]string{"authorizer / minimal (arm64)", "", fmt.Sprintf("%.2f×", float64(auth.armSize)/float64(s.armSize)), "", ""})
	fmt.Fprintln(stdout, "Binary size (stripped):")
	fmt.Fprintln(stdout)
	bench.Table(stdout, rows)
	fmt.Fprintln(stdout)

	// DynamoDB Local, a table and a key for the authorizer to find.
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		fmt.Fprintln(stdout, "Starting DynamoDB Local ...")
		srv, err := ddblocal.Start(ctx, io.Discard)
		if err != nil {
			return err
		}
		defer srv.Stop()
		endpoint = srv.Endpoint
		if srv.Warning != "" {
			fmt.Fprintln(stdout, "WARNING:", srv.Warning)
		}
	}
	fx, err := newFixture(ctx, endpoint)
	if err != nil {
		return err
	}
	defer fx.close()

	env := fx.functionEnv(o.envMode)
	events := map[string][]byte{}
	for _, shape := range shapes {
		raw, err := os.ReadFile(filepath.Join(root, "events", "authorizer", shape+".json"))
		if err != nil {
			return err
		}
		events[shape] = bytes.ReplaceAll(raw, []byte(placeholder), []byte(fx.admin.Token.Reveal()))
	}

	// Init and first invoke: fresh processes, the subjects interleaved so
	// that a burst of noise does not land on one of them.
	fmt.Fprintf(stdout, "Cold starts: %d fresh processes each (-env %s) ...\n\n", o.inits, o.envMode)
	for i := range o.inits {
		for _, s := range subjects {
			ev, check, err := fx.coldEvent(ctx, s.fn, i, events)
			if err != nil {
				return err
			}
			init, first, rss, err := coldStart(ctx, s.bin, s.fn, env, ev, check, logs)
			if err != nil {
				return fmt.Errorf("%s: %w", s.label, err)
			}
			s.inits = append(s.inits, init)
			s.firsts = append(s.firsts, first)
			s.rss = max(s.rss, rss)
		}
	}
	var peakAfterFirst int64
	rows = [][]string{{"function", "init p50", "init min", "init max", "first invoke p50", "peak RSS", "target (init p50)", "result"}}
	for _, s := range subjects {
		p50 := bench.MedianDuration(s.inits)
		target, result := "", ""
		if s.label == "current" {
			target, result = "< 20 ms", miss(p50 < maxInit, s.fn+" init")
			peakAfterFirst = max(peakAfterFirst, s.rss)
		}
		name := s.fn
		switch s.label {
		case "before":
			name += " (before)"
		case "reference":
			name += " (reference)"
		}
		rows = append(rows, []string{name, ms(p50), ms(slices.Min(s.inits)), ms(slices.Max(s.inits)),
			ms(bench.MedianDuration(s.firsts)), bench.FormatBytes(s.rss), target, result})
	}
	initOf := func(fn string) time.Duration {
		return bench.MedianDuration(subjects[slices.IndexFunc(subjects, func(s *subject) bool {
			return s.fn == fn && (s.label == "current" || s.label == "reference")
		})].inits)
	}
	initRatio := float64(initOf("authorizer")) / float64(initOf("stub"))
	rows = append(rows,
		[]string{"authorizer / stub (init p50)", fmt.Sprintf("%.2f×", initRatio), "", "", "", "", fmt.Sprintf("≤ %.1f×", maxInitOverStub),
			miss(initRatio <= maxInitOverStub, "authorizer init over the stub's")},
		[]string{"authorizer / minimal (init p50)", fmt.Sprintf("%.2f×", float64(initOf("authorizer"))/float64(initOf("minimal"))), "", "", "", "", "", ""})
	fmt.Fprintln(stdout, "Cold start (init = the emulator's INIT REPORT; first invoke = the emulator's Duration, against DynamoDB Local; peak RSS after it):")
	fmt.Fprintln(stdout)
	bench.Table(stdout, rows)
	fmt.Fprintln(stdout)

	// Warm authorizer: one process, cache hits, every shape in turn.
	authorizerBin := ""
	for _, s := range subjects {
		if s.label == "current" && s.fn == "authorizer" {
			authorizerBin = s.bin
		}
	}
	warm, perShape, rss, err := warmAuthorizer(ctx, authorizerBin, fx.warmEnv(env), events, o.invokes, logs)
	if err != nil {
		return err
	}
	rows = [][]string{{"figure", "value", "target", "result"}}
	warmP50 := bench.MedianDuration(warm.durations)
	rows = append(rows,
		[]string{"first invoke (cache miss: GetItem + last-used write)", ms(warm.first), "", ""},
		[]string{fmt.Sprintf("warm invoke p50 (%d cache hits, Duration)", o.invokes), ms(warmP50), "< 1 ms", miss(warmP50 < maxWarmP50, "warm authorizer p50")},
		[]string{"warm invoke p99 (Duration)", ms(bench.Percentile(warm.durations, 99)), "", ""},
		[]string{"warm invoke p50, round trip seen by lambdarun", ms(bench.MedianDuration(warm.roundTrips)), "", ""},
	)
	for _, shape := range shapes {
		rows = append(rows, []string{"warm invoke p50, " + shape, ms(bench.MedianDuration(perShape[shape])), "", ""})
	}
	rows = append(rows,
		[]string{fmt.Sprintf("peak RSS (VmHWM) after %d invocations", o.invokes+1), bench.FormatBytes(rss), "< 40 MB", miss(rss < maxPeakRSS, "authorizer peak RSS")},
		[]string{"peak RSS of any function after its first invoke", bench.FormatBytes(peakAfterFirst), "< 40 MB", miss(peakAfterFirst < maxPeakRSS, "peak RSS after first invoke")},
	)
	fmt.Fprintln(stdout, "Authorizer, one warm execution environment (AUTH_CACHE_TTL=1h so every invoke after the first is a cache hit):")
	fmt.Fprintln(stdout)
	bench.Table(stdout, rows)
	fmt.Fprintln(stdout)
	fmt.Fprintf(stdout, "Function logs: %s\n", logs.Name())

	if len(missed) > 0 {
		fmt.Fprintf(stdout, "\ncoldstart: targets missed: %s\n", strings.Join(missed, ", "))
		if o.check {
			return cli.Exit(1) // the line above says why
		}
		return nil
	}
	fmt.Fprintln(stdout, "\ncoldstart: all targets met")
	return nil
}

// subject is one binary under measurement.
type subject struct {
	label, fn, bin    string // label: current, before or reference
	hostSize, armSize int64
	inits, firsts     []time.Duration
	rss               int64 // the highest peak RSS after a first invoke
}

func ms(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Nanoseconds())/1e6) }

// fixture is the table, pepper and admin key the functions run against.
type fixture struct {
	endpoint, table, pepper string
	db                      *dynamodb.Client
	svc                     *manage.Service
	admin                   *manage.Created
}

func newFixture(ctx context.Context, endpoint string) (*fixture, error) {
	fx := &fixture{endpoint: endpoint, table: "keygate-bench-" + bench.RandomHex(6)}
	fx.pepper = base64.RawStdEncoding.EncodeToString([]byte(bench.RandomHex(24))) // 64 bytes
	vars := map[string]string{"TABLE_NAME": fx.table, "DYNAMODB_ENDPOINT": endpoint, "TOKEN_PEPPER": fx.pepper}
	env, err := setup.Load(ctx, func(k string) string { return vars[k] }, io.Discard)
	if err != nil {
		return nil, err
	}
	fx.db = env.DynamoDB
	if err := store.EnsureTable(ctx, fx.db, fx.table); err != nil {
		return nil, err
	}
	fx.svc = managesetup.Service(env)
	fx.admin, err = fx.svc.Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "bench",
		Owner: "admin", Name: "coldstart", Role: keygate.Admin,
	})
	if err != nil {
		fx.close()
		return nil, fmt.Errorf("mint a key: %w", err)
	}
	return fx, nil
}

func (fx *fixture) close() {
	_, _ = fx.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &fx.table})
}

// functionEnv is what a deployed function sees, minus the secret ARN:
// the template's variables (TOKEN_PEPPER standing in for the secret, so
// init needs no network) and the credentials and locale Lambda sets.
// lambdarun and the emulator add the AWS_LAMBDA_* variables, AWS_REGION
// and TZ. With mode "inherit" this shell's environment comes first, as with
// make invoke.
func (fx *fixture) functionEnv(mode string) []string {
	var env []string
	if mode == "inherit" {
		env = os.Environ()
	}
	return append(env,
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"LANG=en_US.UTF-8",
		"AWS_ACCESS_KEY_ID=ASIABENCHMARKLOCAL00",
		"AWS_SECRET_ACCESS_KEY=bench-secret-access-key-not-a-secret",
		"AWS_SESSION_TOKEN=bench-session-token-not-a-secret",
		"TABLE_NAME="+fx.table,
		"DYNAMODB_ENDPOINT="+fx.endpoint,
		"TOKEN_PEPPER="+fx.pepper,
		"TOKEN_PREFIX=kg_live_",
		"TOKEN_HASH=hmac-sha256",
		"DEFAULT_KEY_TTL=2160h",
		"KEY_RETENTION=720h",
		"MAX_USER_KEYS=10",
		"MAX_SERVICE_KEYS=5",
		"AUTH_CACHE_TTL=5s",
		"LAST_USED_INTERVAL=60s",
		"ALLOW_QUERY_TOKEN=false",
	)
}

// warmEnv keeps every warm invoke a cache hit, however slow the machine.
func (fx *fixture) warmEnv(env []string) []string {
	return append(slices.Clone(env), "AUTH_CACHE_TTL=1h")
}

// coldEvent is the first event of a fresh process of fn, and how to tell
// its answer is right: an allow; a created key; a listing; a revocation
// of a key minted for the purpose.
func (fx *fixture) coldEvent(ctx context.Context, fn string, i int, events map[string][]byte) ([]byte, func([]byte) error, error) {
	want := func(s ...string) func([]byte) error {
		return func(p []byte) error {
			for _, w := range s {
				if bytes.Contains(p, []byte(w)) {
					return nil
				}
			}
			return fmt.Errorf("%s: unexpected response %.300s", fn, p)
		}
	}
	switch fn {
	case "minimal", "stub":
		return []byte(`{"ping":true}`), want(`"ping":true`), nil
	case "authorizer":
		return events["rest-request"], want(`"Effect":"Allow"`), nil
	case "create":
		return fmt.Appendf(nil, `{"tenant":"bench","owner":"cold-%d","name":"coldstart","apis":["*"],"scopes":["GET /v1/whoami"]}`, i), want(`"token":"kg_live_`), nil
	case "list":
		return []byte(`{"tenant":"bench","limit":10}`), want(`"keys":[`), nil
	case "revoke":
		k, err := fx.svc.Create(ctx, keygate.Caller{Operator: true}, manage.CreateRequest{Tenant: "bench",
			Owner: fmt.Sprintf("revoke-%d", i), Name: "coldstart", APIs: []string{"*"}, Scopes: []string{"GET /v1/whoami"},
		})
		if err != nil {
			return nil, nil, err
		}
		return fmt.Appendf(nil, `{"tenant":"bench","id":%q}`, k.ID), want(`"status":"revoked"`), nil
	}
	return nil, nil, fmt.Errorf("unknown function %s", fn)
}

// coldStart starts a fresh execution environment, invokes it once and
// reports its init, the invoke's Duration and its peak RSS.
func coldStart(ctx context.Context, bin, fn string, env []string, event []byte, check func([]byte) error, logs *os.File) (init, first time.Duration, rss int64, err error) {
	rt, err := lambdarun.Start(ctx, lambdarun.Options{
		Binary: bin, Env: env, FunctionName: fn, Timeout: 30 * time.Second, Stdout: logs, Stderr: logs,
	})
	if err != nil {
		return 0, 0, 0, err
	}
	defer rt.Close()
	res, err := rt.Invoke(ctx, event)
	if err == nil && res.FunctionError != nil {
		err = res.FunctionError
	}
	if err == nil {
		err = check(res.Payload)
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w (logs: %s)", fn, err, logs.Name())
	}
	rss, err = bench.PeakRSS(rt.PID())
	return rt.InitDuration(), res.Duration, rss, err
}

type warmFigures struct {
	first                 time.Duration
	durations, roundTrips []time.Duration
}

// warmAuthorizer invokes one authorizer process n+1 times: a cache miss,
// then n hits cycling through the event shapes.
func warmAuthorizer(ctx context.Context, bin string, env []string, events map[string][]byte, n int, logs *os.File) (warmFigures, map[string][]time.Duration, int64, error) {
	var w warmFigures
	perShape := map[string][]time.Duration{}
	rt, err := lambdarun.Start(ctx, lambdarun.Options{
		Binary: bin, Env: env, FunctionName: "authorizer", Timeout: 30 * time.Second, Stdout: logs, Stderr: logs,
	})
	if err != nil {
		return w, nil, 0, err
	}
	defer rt.Close()
	for i := -1; i < n; i++ {
		shape := shapes[max(i, 0)%len(shapes)]
		start := time.Now()
		res, err := rt.Invoke(ctx, events[shape])
		rtt := time.Since(start)
		if err == nil && res.FunctionError != nil {
			err = res.FunctionError
		}
		if err == nil && !allowed(res.Payload) {
			err = fmt.Errorf("not allowed: %.300s", res.Payload)
		}
		if err != nil {
			return w, nil, 0, fmt.Errorf("authorizer, %s, invoke %d: %w (logs: %s)", shape, i+2, err, logs.Name())
		}
		if i < 0 {
			w.first = res.Duration
			continue
		}
		w.durations = append(w.durations, res.Duration)
		w.roundTrips = append(w.roundTrips, rtt)
		perShape[shape] = append(perShape[shape], res.Duration)
	}
	rss, err := bench.PeakRSS(rt.PID())
	return w, perShape, rss, err
}

func allowed(p []byte) bool {
	return bytes.Contains(p, []byte(`"Effect":"Allow"`)) || bytes.Contains(p, []byte(`"isAuthorized":true`))
}
