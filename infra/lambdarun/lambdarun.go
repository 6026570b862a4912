// Package lambdarun runs a Lambda custom-runtime bootstrap (the binary a
// provided.al2023 function ships) on the local machine without Docker,
// under AWS's own Runtime Interface Emulator.
//
// The emulator (aws-lambda-rie, the program `sam local invoke` runs inside
// its containers) serves the Lambda Runtime API the bootstrap talks to,
// starts the bootstrap on the first invocation, enforces the timeout and
// restarts the bootstrap after a timeout or a crash, as Lambda does. It is
// pinned as a tool in go.mod and run through `go tool`, so nothing outside
// the module cache is installed. This package starts one emulator per
// Runtime, both its ports on loopback, and invokes it over its documented
// endpoint. It backs `make invoke` (infra/cmd/invoke), the events check,
// the real-binary tests and the cold-start benchmark, which is why it also
// reports the emulator's init and invoke durations and the bootstrap's PID.
//
// The emulator answers a function error with the error document alone (no
// X-Amz-Function-Error header), so a response that is exactly an error
// document is taken for one.
package lambdarun

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Payload limits of synchronous invocations, as enforced by Lambda.
const (
	MaxRequestPayload  = 6291456 // 6 MiB
	MaxResponsePayload = 6291556 // 6 MiB + 100 bytes, Lambda's own figure
)

// Defaults match a function deployed with no explicit configuration.
const (
	DefaultTimeout = 3 * time.Second
	DefaultRegion  = "us-east-1"
	// MemorySizeMB is what the function is told it has: template.yaml's
	// Globals MemorySize (a test checks they agree).
	MemorySizeMB = 256
)

// Errors returned (wrapped) by Invoke when the execution environment, not
// the handler, failed. Handler errors are reported in Result.FunctionError.
var (
	ErrExited     = errors.New("runtime exited")
	ErrTimedOut   = errors.New("task timed out")
	ErrInitFailed = errors.New("init failed")
	ErrClosed     = errors.New("runtime closed")
)

// Options configures the execution environment.
type Options struct {
	// Binary is the bootstrap executable. Its directory becomes the working
	// directory and LAMBDA_TASK_ROOT, as /var/task is on Lambda.
	Binary string
	// Env is the function's environment (e.g. os.Environ() or a template's
	// Environment.Variables). The Lambda-defined variables are added on top,
	// and override any value given here except AWS_REGION/AWS_DEFAULT_REGION.
	Env []string
	// FunctionName defaults to "function".
	FunctionName string
	// Timeout is the function timeout, DefaultTimeout if zero. The emulator
	// counts whole seconds, so it is rounded up to one.
	Timeout time.Duration
	// Stdout receives the function's logs and the emulator's START, END and
	// REPORT lines; Stderr the emulator's own log, but for its info lines.
	// Both are os.Stderr if nil, so logs never mix with payloads a caller
	// prints on stdout.
	Stdout, Stderr io.Writer
}

// FunctionError is the error document a runtime reports for a failed
// invocation or init.
type FunctionError struct {
	Message    string          `json:"errorMessage"`
	Type       string          `json:"errorType"`
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Result is the outcome of one invocation, as the Lambda Invoke API would
// return it: on a function error Payload holds the error document.
type Result struct {
	RequestID     string
	Payload       []byte
	FunctionError *FunctionError
	// Duration is the emulator's, from its REPORT line.
	Duration time.Duration
}

// Runtime is one emulator process and the bootstrap it runs.
type Runtime struct {
	cmd     *exec.Cmd
	addr    string // host:port of the emulator's invocations endpoint
	apiAddr string // host:port of the Runtime API the bootstrap is given
	cancel  context.CancelFunc

	invokes chan struct{} // one-slot semaphore: the emulator takes one event at a time
	closing chan struct{} // closed by Close
	exited  chan struct{} // closed when the emulator has been reaped
	exitErr error         // result of cmd.Wait, readable once exited is closed
	once    sync.Once

	reports      chan report            // REPORT lines, in order; see watchStdout
	lastExit     atomic.Pointer[string] // the emulator's last "Runtime exited ..." error
	initOK       atomic.Bool            // the last init succeeded (its INIT RTDONE)
	initDuration atomic.Int64           // nanoseconds, of the last successful init
}

type report struct {
	id       string
	duration time.Duration
}

// emulator is the aws-lambda-rie pinned in go.mod, built for this machine
// once and cached by the go command.
var emulator = sync.OnceValues(func() (string, error) {
	out, err := exec.Command(goCommand(), "tool", "-n", "aws-lambda-rie").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
		}
		return "", fmt.Errorf("lambdarun: go tool -n aws-lambda-rie: %w", err)
	}
	return string(bytes.TrimSpace(out)), nil
})

// Start starts an emulator for the bootstrap, listening on two free
// loopback ports (by default it would take 0.0.0.0:8080 and 127.0.0.1:9001,
// open to the network and shared by every instance), and waits until it
// accepts invocations. The bootstrap itself starts on the first Invoke.
// Everything is stopped when ctx is done; Close must be called to release it.
func Start(ctx context.Context, opts Options) (*Runtime, error) {
	bin, err := filepath.Abs(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("lambdarun: %w", err)
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		return nil, fmt.Errorf("lambdarun: no bootstrap at %s", bin)
	}
	rie, err := emulator()
	if err != nil {
		return nil, err
	}
	opts.FunctionName = cmp.Or(opts.FunctionName, "function")
	opts.Timeout = cmp.Or(max(opts.Timeout, 0), DefaultTimeout)
	if opts.Stdout == nil {
		opts.Stdout = os.Stderr
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	invokeAddr, apiAddr := "127.0.0.1:"+ports[0], "127.0.0.1:"+ports[1]

	ctx, cancel := context.WithCancel(ctx)
	r := &Runtime{
		addr:    invokeAddr,
		apiAddr: apiAddr,
		cancel:  cancel,
		invokes: make(chan struct{}, 1),
		closing: make(chan struct{}),
		exited:  make(chan struct{}),
		reports: make(chan report, 64),
	}
	r.cmd = exec.CommandContext(ctx, rie, "--log-level", "info",
		"--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bin)
	r.cmd.Dir = filepath.Dir(bin)
	r.cmd.SysProcAttr = procAttr()
	r.cmd.Env = lambdaEnv(opts, filepath.Dir(bin))
	r.cmd.Stdout = &lineTap{w: opts.Stdout, see: r.watchStdout}
	r.cmd.Stderr = &lineTap{w: opts.Stderr, see: r.watchStderr, quiet: true}
	// SIGTERM, not SIGKILL: the emulator then kills the bootstrap, which
	// it runs in a process group of its own, instead of orphaning it.
	r.cmd.Cancel = func() error { return r.cmd.Process.Signal(syscall.SIGTERM) }
	r.cmd.WaitDelay = 5 * time.Second
	if err := r.cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("lambdarun: start %s: %w", rie, err)
	}
	go func() {
		r.exitErr = r.cmd.Wait()
		close(r.exited)
	}()
	if err := r.awaitListening(invokeAddr); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// freePorts reserves n loopback ports from the kernel and releases them for
// the emulator, which takes addresses, not listeners. Another process may
// take one in between; Start then fails with the emulator's bind error.
func freePorts(n int) ([]string, error) {
	var ports []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("lambdarun: listen: %w", err)
		}
		defer ln.Close()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ports = append(ports, port)
	}
	return ports, nil
}

func (r *Runtime) awaitListening(addr string) error {
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-r.exited:
			return fmt.Errorf("lambdarun: the emulator exited on start: %v", r.exitErr)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lambdarun: the emulator is not listening on %s after 30s", addr)
		}
	}
}

// lambdaEnv is the emulator's environment, which it hands on to the
// bootstrap with the Runtime API address added. exec.Cmd keeps the last of
// duplicate keys, so appending overrides opts.Env.
func lambdaEnv(opts Options, taskRoot string) []string {
	lookup := func(key string) string {
		for i := len(opts.Env) - 1; i >= 0; i-- {
			if k, v, ok := strings.Cut(opts.Env[i], "="); ok && k == key {
				return v
			}
		}
		return ""
	}
	env := append([]string(nil), opts.Env...)
	region := cmp.Or(lookup("AWS_REGION"), lookup("AWS_DEFAULT_REGION"), DefaultRegion)
	for _, kv := range [][2]string{{"AWS_REGION", region}, {"AWS_DEFAULT_REGION", region}, {"TZ", ":UTC"}} {
		if lookup(kv[0]) == "" {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return append(env,
		"AWS_LAMBDA_FUNCTION_NAME="+opts.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(MemorySizeMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(int(math.Ceil(opts.Timeout.Seconds()))),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+opts.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME="+time.Now().UTC().Format("2006/01/02")+"/[$LATEST]"+randomHex(16),
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT="+taskRoot,
		"LOG_LEVEL=info", // the init report is an info line
	)
}

var (
	reportLine = regexp.MustCompile(`^REPORT RequestId: (\S+)\t(?:Init Duration: [0-9.]+ ms\t)?Duration: ([0-9.]+) ms`)
	initDone   = regexp.MustCompile(`\(rapid\) INIT RTDONE\(status: (\w+)\)`)
	initReport = regexp.MustCompile(`\(rapid\) INIT REPORT\(durationMs: ([0-9.]+)\)`)
	exitError  = regexp.MustCompile(`\(rapid\) .*error=(Runtime exited.*?)(?: InvokeID=|$)`)
)

// watchStdout collects the REPORT line the emulator prints for each
// invocation, before it answers, so Invoke can wait for it.
func (r *Runtime) watchStdout(line string) bool {
	m := reportLine.FindStringSubmatch(line)
	if m == nil {
		return true
	}
	ms, _ := strconv.ParseFloat(m[2], 64)
	select {
	case r.reports <- report{m[1], time.Duration(ms * float64(time.Millisecond))}:
	default: // nobody is waiting for these: invocations abandoned by their ctx
	}
	return true
}

// watchStderr keeps the init duration from the emulator's log: its REPORT
// line's own Init Duration times only the hand-over of the init request,
// while INIT REPORT, logged once the bootstrap has asked for its first
// event, is Lambda's measure. A failed init leaves the last figure.
func (r *Runtime) watchStderr(line string) bool {
	if m := exitError.FindStringSubmatch(line); m != nil {
		r.lastExit.Store(&m[1])
	}
	if m := initDone.FindStringSubmatch(line); m != nil {
		r.initOK.Store(m[1] == "success")
	} else if m := initReport.FindStringSubmatch(line); m != nil && r.initOK.Load() {
		ms, _ := strconv.ParseFloat(m[1], 64)
		r.initDuration.Store(max(int64(ms*float64(time.Millisecond)), 1))
	}
	return !strings.Contains(line, " [INFO] (rapid) ")
}

// InitDuration is Lambda's "Init Duration" of the bootstrap's last start
// that succeeded, as the emulator measured it, or zero if none has yet.
func (r *Runtime) InitDuration() time.Duration {
	return time.Duration(r.initDuration.Load())
}

// PID is the bootstrap's process ID, e.g. for reading VmHWM from
// /proc/<pid>/status before Close, or 0 if it is not running (it starts on
// the first Invoke) or /proc is missing.
func (r *Runtime) PID() int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", r.cmd.Process.Pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			return pid // the emulator's only child
		}
	}
	return 0
}

// Invoke runs one event through the function and waits for its result. A
// handler error is not an error here: it comes back in Result.FunctionError.
// The error is non-nil when the environment failed: the bootstrap exited
// (ErrExited), failed to initialise (ErrInitFailed) or exceeded its timeout
// (ErrTimedOut); in each case the emulator starts a fresh bootstrap on the
// next Invoke, as Lambda does. It is also non-nil if the Runtime was closed
// (ErrClosed) or ctx ended first.
//
// Like one Lambda execution environment, a Runtime handles one event at a
// time: concurrent calls are safe but run one after another.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) (Result, error) {
	if len(payload) > MaxRequestPayload {
		return Result{}, fmt.Errorf("lambdarun: request payload of %d bytes exceeds %d", len(payload), MaxRequestPayload)
	}
	if !json.Valid(payload) {
		return Result{}, errors.New("lambdarun: request payload is not valid JSON")
	}
	select {
	case r.invokes <- struct{}{}:
		defer func() { <-r.invokes }()
	case <-r.closing:
		return Result{}, fmt.Errorf("lambdarun: %w", ErrClosed)
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	select {
	case <-r.closing:
		return Result{}, fmt.Errorf("lambdarun: %w", ErrClosed)
	default:
	}

	res := Result{RequestID: newRequestID()}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return res, err
	}
	req.Header.Set("X-Amzn-RequestId", res.RequestID) // the emulator's request ID then
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return res, r.failed(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponsePayload+1))
	if err != nil {
		return res, r.failed(err)
	}
	res.Payload = body

	switch {
	case resp.StatusCode == http.StatusBadGateway:
		// The bootstrap died or reported a failed init; no REPORT line.
		fe := parseFunctionError(body)
		if fe == nil {
			// A crash during init: the reason is only in the emulator's log,
			// which says it before answering, so it is on its way.
			return res, fmt.Errorf("lambdarun: %w: %s", ErrExited, cmp.Or(string(body), r.exitReason()))
		}
		if fe.Type == "Runtime.ExitError" {
			return res, fmt.Errorf("lambdarun: %w: %s", ErrExited, fe.Message)
		}
		return res, fmt.Errorf("lambdarun: %w: %v", ErrInitFailed, fe)
	case resp.StatusCode != http.StatusOK:
		return res, fmt.Errorf("lambdarun: the emulator answered %s: %.300s", resp.Status, body)
	}
	if res.Duration, err = r.awaitReport(ctx, res.RequestID); err != nil {
		return res, err
	}
	switch {
	case len(body) > MaxResponsePayload:
		res.FunctionError = &FunctionError{Type: "Function.ResponseSizeTooLarge",
			Message: "Response payload size exceeded maximum allowed payload size (" + strconv.Itoa(MaxResponsePayload) + " bytes)."}
		res.Payload, _ = json.Marshal(res.FunctionError)
	case bytes.HasPrefix(body, []byte("Task timed out after ")):
		return res, fmt.Errorf("lambdarun: %w: %s", ErrTimedOut, body)
	default:
		res.FunctionError = parseFunctionError(body)
	}
	return res, nil
}

// awaitReport waits for the REPORT line of invocation id, which the
// emulator prints before answering, so it is already on its way.
func (r *Runtime) awaitReport(ctx context.Context, id string) (time.Duration, error) {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case rep := <-r.reports:
			if rep.id == id {
				return rep.duration, nil
			}
		case <-r.exited:
			return 0, r.failed(errors.New("no REPORT line"))
		case <-timeout:
			return 0, fmt.Errorf("lambdarun: the emulator printed no REPORT line for %s", id)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// exitReason is the emulator's last "Runtime exited" error, waiting a
// little for its log line to be read.
func (r *Runtime) exitReason() string {
	for range 100 {
		if last := r.lastExit.Swap(nil); last != nil {
			return *last
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "the emulator gave no reason"
}

// failed explains a failed exchange with the emulator: it was closed, or
// it died.
func (r *Runtime) failed(err error) error {
	select {
	case <-r.closing:
		return fmt.Errorf("lambdarun: %w", ErrClosed)
	case <-r.exited:
		return fmt.Errorf("lambdarun: the emulator exited (%v): %w", r.exitErr, err)
	default:
		return fmt.Errorf("lambdarun: %w", err)
	}
}

// parseFunctionError returns the error document body is, or nil: a JSON
// object with an errorType and no field an error document lacks.
func parseFunctionError(body []byte) *FunctionError {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	for k := range fields {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return nil
		}
	}
	var fe FunctionError
	if json.Unmarshal(body, &fe) != nil || fe.Type == "" {
		return nil
	}
	return &fe
}

// Close stops the emulator, which kills the bootstrap, and waits for it.
// It is safe to call more than once.
func (r *Runtime) Close() error {
	r.once.Do(func() {
		close(r.closing)
		r.cancel()
		<-r.exited
	})
	return nil
}

// newRequestID returns a random version 4 UUID, the shape of Lambda's IDs.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// lineTap hands each complete line written to see and passes the output
// on to w: all of it, or with quiet set only the lines see keeps, so that
// the emulator's info lines do not bury the function's logs. exec.Cmd
// calls Write from one goroutine per stream.
type lineTap struct {
	w     io.Writer
	see   func(line string) (keep bool)
	quiet bool
	buf   []byte
}

func (t *lineTap) Write(p []byte) (int, error) {
	if !t.quiet {
		if _, err := t.w.Write(p); err != nil {
			return 0, err
		}
	}
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		if t.see(string(t.buf[:i])) && t.quiet {
			if _, err := t.w.Write(t.buf[:i+1]); err != nil {
				return 0, err
			}
		}
		t.buf = t.buf[i+1:]
	}
	if len(t.buf) > 64<<10 {
		t.buf = t.buf[:0] // a line this long is a function's, not a report
	}
	return len(p), nil
}
