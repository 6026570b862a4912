//go:build linux

// The emulator, and so these tests, run on Linux only.

package lambdarun

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/lambdarun/testdata/echo/reply"
	"github.com/keygate/keygate/infra/testkit"
)

// TestRuntime runs a real bootstrap under the emulator; the subtests share
// one build of it.
func TestRuntime(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	var buildLog bytes.Buffer
	if err := Build(t.Context(), "../..", "./infra/lambdarun/testdata/echo", runtime.GOOS, runtime.GOARCH, bin, &buildLog); err != nil {
		t.Fatalf("%v\n%s", err, buildLog.String())
	}

	start := func(t *testing.T, opts Options) (*Runtime, *testkit.Buffer) {
		t.Helper()
		var logs testkit.Buffer
		opts.Binary = bin
		opts.Stdout, opts.Stderr = &logs, &logs
		opts.FunctionName = "echo"
		r, err := Start(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r, &logs
	}
	echo := func(t *testing.T, res Result, err error) reply.Response {
		t.Helper()
		if err != nil || res.FunctionError != nil {
			t.Fatalf("invoke: %v, function error %v", err, res.FunctionError)
		}
		var got reply.Response
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatalf("payload %q is not the echo response: %v", res.Payload, err)
		}
		return got
	}

	t.Run("success", func(t *testing.T) {
		r, logs := start(t, Options{Env: []string{"ECHO_ENV=passed"}})
		res, err := r.Invoke(t.Context(), []byte(`{"hello":"world"}`))
		got := echo(t, res, err)
		if string(got.Event) != `{"hello":"world"}` {
			t.Errorf("event = %s", got.Event)
		}
		if got.RequestID == "" || got.RequestID != res.RequestID {
			t.Errorf("handler saw request ID %q, Invoke reported %q", got.RequestID, res.RequestID)
		}
		checks := []struct{ name, got, want string }{
			{"function name", got.FunctionName, "echo"},
			{"function ARN", got.FunctionARN, "arn:aws:lambda:us-east-1:012345678912:function:echo"}, // the emulator's
			{"region", got.Region, DefaultRegion},
			{"passed-through env", got.EchoEnv, "passed"},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if !got.HasDeadline {
			t.Error("handler context has no deadline")
		}
		if got.PID != r.PID() {
			t.Errorf("handler PID %d, Runtime.PID %d", got.PID, r.PID())
		}
		if res.Duration <= 0 || r.InitDuration() <= 0 {
			t.Errorf("Duration = %v, InitDuration = %v after the first invoke", res.Duration, r.InitDuration())
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"echo: handling event", "REPORT RequestId: " + res.RequestID, "Memory Size: 256 MB"} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("%q missing from the logs: %q", want, logs.String())
			}
		}
	})

	t.Run("region from env", func(t *testing.T) {
		r, _ := start(t, Options{Env: []string{"AWS_REGION=eu-west-2"}})
		res, err := r.Invoke(t.Context(), []byte(`{}`))
		if got := echo(t, res, err); got.Region != "eu-west-2" {
			t.Errorf("region %q", got.Region)
		}
	})

	t.Run("function error", func(t *testing.T) {
		r, _ := start(t, Options{})
		res, err := r.Invoke(t.Context(), []byte(`{"fail":true}`))
		if err != nil {
			t.Fatal(err)
		}
		fe := res.FunctionError
		if fe == nil || fe.Type != "failError" || fe.Message != "asked to fail" {
			t.Fatalf("FunctionError = %+v", fe)
		}
		if !bytes.Contains(res.Payload, []byte(`"errorMessage":"asked to fail"`)) {
			t.Errorf("Payload = %s, want the error document", res.Payload)
		}
		// A handler error leaves the environment usable.
		res, err = r.Invoke(t.Context(), []byte(`{}`))
		echo(t, res, err)
	})

	t.Run("warm invokes", func(t *testing.T) {
		r, _ := start(t, Options{})
		seen := map[string]bool{}
		var pid int
		var initDuration time.Duration
		for i := range 5 {
			payload := []byte(`{"n":` + strconv.Itoa(i) + `}`)
			res, err := r.Invoke(t.Context(), payload)
			got := echo(t, res, err)
			if i == 0 {
				pid, initDuration = got.PID, r.InitDuration()
			}
			if !bytes.Equal(got.Event, payload) || got.PID != pid || seen[got.RequestID] || r.InitDuration() != initDuration {
				t.Fatalf("invoke %d: event %s, PID %d (want %d), request ID %q reused: %v, init %v (was %v)",
					i, got.Event, got.PID, pid, got.RequestID, seen[got.RequestID], r.InitDuration(), initDuration)
			}
			seen[got.RequestID] = true
		}
	})

	t.Run("concurrent invokes are serialised", func(t *testing.T) {
		r, _ := start(t, Options{})
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() {
				res, err := r.Invoke(t.Context(), []byte(`{"sleepMs":20}`))
				if err == nil && res.FunctionError != nil {
					err = res.FunctionError
				}
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("process exits mid-invoke", func(t *testing.T) {
		r, logs := start(t, Options{Timeout: time.Minute})
		res, err := r.Invoke(t.Context(), []byte(`{}`))
		first := echo(t, res, err).PID
		if _, err := r.Invoke(t.Context(), []byte(`{"exit":true}`)); !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 3") {
			t.Fatalf("err = %v, want ErrExited mentioning exit status 3", err)
		}
		// As on Lambda, the next event gets a fresh process.
		res, err = r.Invoke(t.Context(), []byte(`{}`))
		if got := echo(t, res, err); got.PID == first {
			t.Errorf("the exited process %d answered again", first)
		}
		_ = r.Close() // which waits for the logs to be copied
		if !strings.Contains(logs.String(), "echo: exiting on request") {
			t.Errorf("stderr not captured: %q", logs.String())
		}
	})

	t.Run("timeout kills the process", func(t *testing.T) {
		r, _ := start(t, Options{Timeout: time.Second})
		res, err := r.Invoke(t.Context(), []byte(`{}`))
		first := echo(t, res, err).PID
		begin := time.Now()
		if _, err := r.Invoke(t.Context(), []byte(`{"sleepMs":30000}`)); !errors.Is(err, ErrTimedOut) {
			t.Fatalf("err = %v, want ErrTimedOut", err)
		}
		if elapsed := time.Since(begin); elapsed > 10*time.Second {
			t.Errorf("took %v to time out", elapsed)
		}
		if processAlive(first) {
			t.Errorf("process %d still running after the timeout", first)
		}
	})

	t.Run("init error", func(t *testing.T) {
		r, _ := start(t, Options{Env: []string{"ECHO_INIT_ERROR=1"}})
		_, err := r.Invoke(t.Context(), []byte(`{}`))
		if !errors.Is(err, ErrInitFailed) || !strings.Contains(err.Error(), "InitError: config missing") {
			t.Fatalf("err = %v, want ErrInitFailed with the posted error", err)
		}
		if r.InitDuration() != 0 {
			t.Errorf("InitDuration = %v for a failed init", r.InitDuration())
		}
	})

	t.Run("crash during init", func(t *testing.T) {
		r, _ := start(t, Options{Env: []string{"ECHO_INIT_EXIT=1"}})
		_, err := r.Invoke(t.Context(), []byte(`{}`))
		if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 2") {
			t.Fatalf("err = %v, want ErrExited with the exit status", err)
		}
	})

	t.Run("close stops the emulator and the bootstrap", func(t *testing.T) {
		r, _ := start(t, Options{})
		res, err := r.Invoke(t.Context(), []byte(`{}`))
		pid := echo(t, res, err).PID
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if processAlive(r.cmd.Process.Pid) || processAlive(pid) {
			t.Errorf("after Close: emulator alive %v, bootstrap alive %v", processAlive(r.cmd.Process.Pid), processAlive(pid))
		}
		if _, err := r.Invoke(t.Context(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
			t.Errorf("invoke after Close: err = %v, want ErrClosed", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	// The emulator would listen on 0.0.0.0 by default: both its ports must
	// be bound to loopback and closed to other machines.
	t.Run("loopback only", func(t *testing.T) {
		r, _ := start(t, Options{})
		res, err := r.Invoke(t.Context(), []byte(`{}`)) // the Runtime API is in use
		echo(t, res, err)
		owned := testkit.SocketInodes(t, r.cmd.Process.Pid)
		var ports []string
		for _, l := range testkit.Listeners(t, "self") {
			if !owned[l.Inode] {
				continue
			}
			if !l.Addr.Addr().IsLoopback() || l.Addr.Addr().Is6() {
				t.Errorf("the emulator listens on %s", l.Addr)
			}
			ports = append(ports, strconv.Itoa(int(l.Addr.Port())))
			if e := testkit.Exposures(t, int(l.Addr.Port())); len(e) > 0 {
				t.Errorf("port %d is exposed: %v", l.Addr.Port(), e)
			}
		}
		_, invokePort, _ := net.SplitHostPort(r.addr)
		_, apiPort, _ := net.SplitHostPort(r.apiAddr)
		slices.Sort(ports)
		if want := []string{invokePort, apiPort}; !slices.Equal(ports, slices.Sorted(slices.Values(want))) {
			t.Errorf("the emulator listens on ports %v, want exactly %v", ports, want)
		}
	})

	t.Run("missing binary", func(t *testing.T) {
		if _, err := Start(t.Context(), Options{Binary: filepath.Join(t.TempDir(), "nope")}); err == nil {
			t.Fatal("Start succeeded without a binary")
		}
	})
}

// processAlive reports whether pid is a process that has not been reaped
// and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z")
}

func TestParseFunctionError(t *testing.T) {
	tests := []struct {
		body string
		want *FunctionError
	}{
		{`{"errorMessage":"bad key","errorType":"KeyError"}`, &FunctionError{Type: "KeyError", Message: "bad key"}},
		{`{"errorMessage":"x","errorType":"E","stackTrace":[]}`, &FunctionError{Type: "E", Message: "x", StackTrace: json.RawMessage(`[]`)}},
		{`{"errorMessage":"no type"}`, nil},
		{`{"errorType":"E","errorMessage":"x","statusCode":500}`, nil}, // a response that happens to carry the fields
		{`{"ok":true}`, nil},
		{`Task timed out after 3.00 seconds`, nil},
		{`[]`, nil},
	}
	for _, tt := range tests {
		got := parseFunctionError([]byte(tt.body))
		if (got == nil) != (tt.want == nil) || got != nil && (got.Type != tt.want.Type || got.Message != tt.want.Message || string(got.StackTrace) != string(tt.want.StackTrace)) {
			t.Errorf("parseFunctionError(%s) = %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

// TestWatch reads the emulator's output as printed by the pinned version.
func TestWatch(t *testing.T) {
	r := &Runtime{reports: make(chan report, 4)}
	for _, line := range []string{
		"START RequestId: a Version: $LATEST",
		"REPORT RequestId: a\tInit Duration: 0.18 ms\tDuration: 6.18 ms\tBilled Duration: 7 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t",
		"REPORT RequestId: b\tDuration: 1.50 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\tMax Memory Used: 256 MB\t",
		"echo: REPORT RequestId: c\tDuration: 1.00 ms", // a function's log line
	} {
		r.watchStdout(line)
	}
	close(r.reports)
	var got []report
	for rep := range r.reports {
		got = append(got, rep)
	}
	if want := []report{{"a", 6180 * time.Microsecond}, {"b", 1500 * time.Microsecond}}; !slices.Equal(got, want) {
		t.Errorf("reports = %v, want %v", got, want)
	}

	for _, tt := range []struct {
		lines []string
		want  time.Duration
	}{
		{[]string{"04 Dec 2026 22:40:41,816 [INFO] (rapid) INIT RTDONE(status: success)", "04 Dec 2026 22:40:41,816 [INFO] (rapid) INIT REPORT(durationMs: 4.986000)"}, 4986 * time.Microsecond},
		{[]string{"04 Dec 2026 22:41:58,209 [INFO] (rapid) INIT RTDONE(status: error)", "04 Dec 2026 22:41:58,209 [INFO] (rapid) INIT REPORT(durationMs: 3.675000)"}, 0},
	} {
		r := &Runtime{}
		for _, line := range tt.lines {
			r.watchStderr(line)
		}
		if r.InitDuration() != tt.want {
			t.Errorf("%q: InitDuration = %v, want %v", tt.lines, r.InitDuration(), tt.want)
		}
	}
}

func TestInvokeRejectsBadPayload(t *testing.T) {
	r := &Runtime{}
	for _, p := range []string{"", "{", strings.Repeat(" ", MaxRequestPayload+1)} {
		if _, err := r.Invoke(t.Context(), []byte(p)); err == nil {
			t.Errorf("Invoke accepted %.20q", p)
		}
	}
}
