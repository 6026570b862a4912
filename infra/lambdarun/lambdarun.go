// Package lambdarun runs a Lambda custom-runtime bootstrap (the binary a
// provided.al2023 function ships) on the local machine without Docker.
//
// `sam local invoke` needs Docker to emulate the Lambda execution
// environment. The only part of that environment a Go function actually
// talks to is the Lambda Runtime API: the small HTTP protocol under
// $AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/ through which the bootstrap
// asks for events and reports results. This package serves that protocol on
// loopback and starts the bootstrap as a child process pointed at it, so the
// unmodified deployment binary runs exactly as Lambda would run it. It backs
// `make invoke` (infra/cmd/invoke), the function tests and the cold-start
// benchmarks, which is why it also reports init time and the child's PID.
//
// A Runtime models one execution environment: one process, handling one
// invocation at a time, torn down (not restarted) when it times out, fails
// to initialise or exits.
package lambdarun

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Payload limits of synchronous invocations, as enforced by Lambda.
const (
	MaxRequestPayload  = 6291456 // 6 MiB
	MaxResponsePayload = 6291556 // 6 MiB + 100 bytes, Lambda's own figure
)

// Defaults match a function deployed with no explicit configuration.
const (
	DefaultTimeout     = 3 * time.Second
	DefaultInitTimeout = 10 * time.Second
	DefaultRegion      = "us-east-1"
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
	// Timeout is the function timeout, DefaultTimeout if zero.
	Timeout time.Duration
	// InitTimeout bounds how long Invoke waits for the bootstrap to ask for
	// the event, DefaultInitTimeout if zero.
	InitTimeout time.Duration
	// Stdout and Stderr receive the function's logs; os.Stderr if nil, so
	// logs never mix with payloads a caller prints on stdout.
	Stdout, Stderr io.Writer
}

// FunctionError is the error document a runtime posts to
// invocation/{id}/error or init/error.
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
	// Duration runs from handing the event to the runtime until the runtime
	// reported the result, like the Duration of Lambda's REPORT line.
	Duration time.Duration
}

// Runtime is a running bootstrap process plus the Runtime API it talks to.
type Runtime struct {
	cmd         *exec.Cmd
	srv         *http.Server
	addr        string
	arn         string
	timeout     time.Duration
	initTimeout time.Duration
	started     time.Time

	events  chan *invocation // unbuffered: a send is a hand-off to a waiting GET next
	invokes chan struct{}    // one-slot semaphore serialising Invoke
	closing chan struct{}    // closed by Close, releases blocked GET next handlers
	served  chan struct{}    // closed when the HTTP server has stopped
	exited  chan struct{}    // closed when the process has been reaped
	exitErr error            // result of cmd.Wait, readable once exited is closed

	closeOnce sync.Once
	closeErr  error

	mu           sync.Mutex
	initDuration time.Duration  // zero until the first GET next
	initErr      *FunctionError // posted to init/error
	current      *invocation    // last event handed out, until the next GET next
}

// invocation is one event in flight. reported is guarded by Runtime.mu.
type invocation struct {
	id       string
	payload  []byte
	reported bool
	done     chan outcome // buffered: the reporter never blocks, even if Invoke gave up
}

type outcome struct {
	payload []byte
	fnErr   *FunctionError
	err     error
}

// Start serves the Runtime API on an ephemeral loopback port and starts the
// bootstrap. It returns once the process is running, without waiting for it
// to initialise; the first Invoke does that. The process is killed when ctx
// is done, as with exec.CommandContext. Close must be called to release it.
func Start(ctx context.Context, opts Options) (*Runtime, error) {
	bin, err := filepath.Abs(opts.Binary)
	if err != nil {
		return nil, fmt.Errorf("lambdarun: %w", err)
	}
	if opts.FunctionName == "" {
		opts.FunctionName = "function"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.InitTimeout <= 0 {
		opts.InitTimeout = DefaultInitTimeout
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stderr
	}
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lambdarun: listen: %w", err)
	}
	env, region := lambdaEnv(opts, ln.Addr().String(), filepath.Dir(bin))
	r := &Runtime{
		addr:        ln.Addr().String(),
		arn:         "arn:aws:lambda:" + region + ":123456789012:function:" + opts.FunctionName,
		timeout:     opts.Timeout,
		initTimeout: opts.InitTimeout,
		events:      make(chan *invocation),
		invokes:     make(chan struct{}, 1),
		closing:     make(chan struct{}),
		served:      make(chan struct{}),
		exited:      make(chan struct{}),
	}
	r.cmd = exec.CommandContext(ctx, bin)
	r.cmd.Dir = filepath.Dir(bin)
	r.cmd.Env = env
	r.cmd.Stdout = opts.Stdout
	r.cmd.Stderr = opts.Stderr
	// A grandchild holding the log pipes open must not stall Wait, and so Close.
	r.cmd.WaitDelay = time.Second

	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("lambdarun: start %s: %w", bin, err)
	}
	// Serving only now is fine, the listener already queues connections,
	// and it orders the writes above before every handler.
	r.srv = &http.Server{Handler: r.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(r.served)
		_ = r.srv.Serve(ln) // always ErrServerClosed or a listener failure nobody can act on
	}()
	go func() {
		r.exitErr = r.cmd.Wait()
		close(r.exited)
	}()
	return r, nil
}

// lambdaEnv builds the process environment and reports the region in effect.
// exec.Cmd keeps the last of duplicate keys, so appending overrides opts.Env.
func lambdaEnv(opts Options, addr, taskRoot string) ([]string, string) {
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
		"AWS_LAMBDA_RUNTIME_API="+addr,
		"AWS_LAMBDA_FUNCTION_NAME="+opts.FunctionName,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(MemorySizeMB),
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+opts.FunctionName,
		"AWS_LAMBDA_LOG_STREAM_NAME="+time.Now().UTC().Format("2006/01/02")+"/[$LATEST]"+randomHex(16),
		"_HANDLER=bootstrap",
		"LAMBDA_TASK_ROOT="+taskRoot,
	), region
}

// PID is the bootstrap's process ID, e.g. for reading VmHWM from
// /proc/<pid>/status before Close.
func (r *Runtime) PID() int { return r.cmd.Process.Pid }

// Addr is the host:port given to the bootstrap as AWS_LAMBDA_RUNTIME_API.
func (r *Runtime) Addr() string { return r.addr }

// InitDuration is the time from starting the process until it first asked
// for an event (Lambda's "Init Duration"), or zero if it has not yet.
func (r *Runtime) InitDuration() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.initDuration
}

// Invoke runs one event through the function and waits for its result. A
// handler error is not an error here: it comes back in Result.FunctionError.
// The error is non-nil when the environment failed: the process exited
// (ErrExited), failed to initialise (ErrInitFailed), exceeded its timeout
// (ErrTimedOut, after which the process is killed, as Lambda does), the
// Runtime was closed (ErrClosed), or ctx ended first.
//
// If ctx ends first, the function still finishes the event and its result
// is dropped; the next Invoke waits for that.
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

	inv := &invocation{id: newRequestID(), payload: payload, done: make(chan outcome, 1)}
	res := Result{RequestID: inv.id}

	// The bootstrap asks for the event when it has initialised, or finished
	// the previous event; it has InitTimeout to get there.
	wait := time.NewTimer(r.initTimeout)
	defer wait.Stop()
	select {
	case r.events <- inv:
	case <-r.exited:
		return res, r.deadErr()
	case <-r.closing:
		return res, fmt.Errorf("lambdarun: %w", ErrClosed)
	case <-wait.C:
		r.kill()
		return res, fmt.Errorf("lambdarun: %w: runtime did not request an event within %v", ErrTimedOut, r.initTimeout)
	case <-ctx.Done():
		return res, ctx.Err()
	}

	start := time.Now()
	wait.Reset(r.timeout)
	select {
	case out := <-inv.done:
		return finish(res, out, start)
	case <-r.exited:
		// A result posted just before exiting still counts.
		select {
		case out := <-inv.done:
			return finish(res, out, start)
		default:
			return res, r.deadErr()
		}
	case <-r.closing:
		return res, fmt.Errorf("lambdarun: %w", ErrClosed)
	case <-wait.C:
		// Lambda tears the environment down on timeout; so do we.
		r.kill()
		return res, fmt.Errorf("lambdarun: %w after %.2f seconds", ErrTimedOut, r.timeout.Seconds())
	case <-ctx.Done():
		return res, ctx.Err()
	}
}

func finish(res Result, out outcome, start time.Time) (Result, error) {
	res.Duration = time.Since(start)
	if out.err != nil {
		return res, out.err
	}
	res.Payload, res.FunctionError = out.payload, out.fnErr
	return res, nil
}

// deadErr explains why the process is gone; call only once exited is closed.
func (r *Runtime) deadErr() error {
	select {
	case <-r.closing:
		return fmt.Errorf("lambdarun: %w", ErrClosed) // Close killed it
	default:
	}
	r.mu.Lock()
	initErr := r.initErr
	r.mu.Unlock()
	switch {
	case initErr != nil:
		return fmt.Errorf("lambdarun: %w: %v", ErrInitFailed, initErr)
	case r.exitErr != nil:
		return fmt.Errorf("lambdarun: %w with error: %v", ErrExited, r.exitErr)
	default:
		return fmt.Errorf("lambdarun: %w without providing a reason", ErrExited)
	}
}

// kill ends the process; cmd.Wait reaps it and closes exited.
func (r *Runtime) kill() {
	select {
	case <-r.exited:
	default:
		_ = r.cmd.Process.Kill() // fails only if already dead
	}
}

// Close kills the process, waits for it to be reaped and stops the Runtime
// API. It is safe to call more than once.
func (r *Runtime) Close() error {
	r.closeOnce.Do(func() {
		close(r.closing)
		r.kill()
		<-r.exited
		r.closeErr = r.srv.Close()
		<-r.served
	})
	return r.closeErr
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

// traceID returns an X-Ray trace header for an unsampled trace.
func traceID() string {
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", time.Now().Unix(), randomHex(24), randomHex(16))
}
