package lambdarun

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/infra/lambdarun/testdata/echo/reply"
)

// buildEcho compiles testdata/echo the way functions are built for Lambda.
func buildEcho(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bin, "./testdata/echo")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building echo lambda: %v\n%s", err, out)
	}
	return bin
}

// TestRuntime runs a real bootstrap; the subtests share one build of it.
func TestRuntime(t *testing.T) {
	bin := buildEcho(t)

	start := func(t *testing.T, opts Options) (*Runtime, *bytes.Buffer) {
		t.Helper()
		var logs bytes.Buffer // one writer for both streams: exec serialises writes
		opts.Binary = bin
		opts.Stdout, opts.Stderr = &logs, &logs
		if opts.FunctionName == "" {
			opts.FunctionName = "echo"
		}
		r, err := Start(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		return r, &logs
	}

	t.Run("success", func(t *testing.T) {
		r, logs := start(t, Options{Env: []string{"ECHO_ENV=passed"}})
		res, err := r.Invoke(t.Context(), []byte(`{"hello":"world"}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.FunctionError != nil {
			t.Fatalf("unexpected function error %v", res.FunctionError)
		}
		var got reply.Response
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatalf("payload %q is not the echo response: %v", res.Payload, err)
		}
		if string(got.Event) != `{"hello":"world"}` {
			t.Errorf("event = %s", got.Event)
		}
		if got.RequestID == "" || got.RequestID != res.RequestID {
			t.Errorf("handler saw request ID %q, Invoke reported %q", got.RequestID, res.RequestID)
		}
		checks := []struct{ name, got, want string }{
			{"function name", got.FunctionName, "echo"},
			{"function ARN", got.FunctionARN, "arn:aws:lambda:us-east-1:123456789012:function:echo"},
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
		if res.Duration <= 0 {
			t.Errorf("Duration = %v", res.Duration)
		}
		if r.InitDuration() <= 0 {
			t.Errorf("InitDuration = %v after first invoke", r.InitDuration())
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "echo: handling event") {
			t.Errorf("function log line missing from Stdout: %q", logs.String())
		}
	})

	t.Run("region from env", func(t *testing.T) {
		r, _ := start(t, Options{Env: []string{"AWS_REGION=eu-west-2"}, FunctionName: "named"})
		res, err := r.Invoke(t.Context(), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var got reply.Response
		if err := json.Unmarshal(res.Payload, &got); err != nil {
			t.Fatal(err)
		}
		if got.Region != "eu-west-2" || got.FunctionARN != "arn:aws:lambda:eu-west-2:123456789012:function:named" {
			t.Errorf("region %q, ARN %q", got.Region, got.FunctionARN)
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
		if res, err := r.Invoke(t.Context(), []byte(`{}`)); err != nil || res.FunctionError != nil {
			t.Fatalf("invoke after function error: %v, %v", err, res.FunctionError)
		}
	})

	t.Run("warm invokes", func(t *testing.T) {
		r, _ := start(t, Options{})
		seen := map[string]bool{}
		var initDuration time.Duration
		for i := range 5 {
			payload := []byte(`{"n":` + strconv.Itoa(i) + `}`)
			res, err := r.Invoke(t.Context(), payload)
			if err != nil {
				t.Fatalf("invoke %d: %v", i, err)
			}
			var got reply.Response
			if err := json.Unmarshal(res.Payload, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Event, payload) || got.PID != r.PID() || seen[got.RequestID] {
				t.Fatalf("invoke %d: event %s, PID %d (want %d), request ID %q reused: %v",
					i, got.Event, got.PID, r.PID(), got.RequestID, seen[got.RequestID])
			}
			seen[got.RequestID] = true
			if i == 0 {
				initDuration = r.InitDuration()
			} else if r.InitDuration() != initDuration {
				t.Fatalf("InitDuration changed on warm invoke %d", i)
			}
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
		begin := time.Now()
		_, err := r.Invoke(t.Context(), []byte(`{"exit":true}`))
		if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "exit status 3") {
			t.Fatalf("err = %v, want ErrExited mentioning exit status 3", err)
		}
		if elapsed := time.Since(begin); elapsed > 10*time.Second {
			t.Errorf("took %v to notice the exit", elapsed)
		}
		if _, err := r.Invoke(t.Context(), []byte(`{}`)); !errors.Is(err, ErrExited) {
			t.Errorf("invoke on dead runtime: err = %v, want ErrExited", err)
		}
		_ = r.Close()
		if !strings.Contains(logs.String(), "echo: exiting on request") {
			t.Errorf("stderr not captured: %q", logs.String())
		}
	})

	t.Run("timeout kills the process", func(t *testing.T) {
		r, _ := start(t, Options{Timeout: 300 * time.Millisecond})
		begin := time.Now()
		_, err := r.Invoke(t.Context(), []byte(`{"sleepMs":30000}`))
		if !errors.Is(err, ErrTimedOut) {
			t.Fatalf("err = %v, want ErrTimedOut", err)
		}
		if elapsed := time.Since(begin); elapsed > 10*time.Second {
			t.Errorf("took %v to time out", elapsed)
		}
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			t.Fatal("process still running after timeout")
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

	t.Run("close kills the process and leaks nothing", func(t *testing.T) {
		baseline := runtime.NumGoroutine()
		r, _ := start(t, Options{})
		if _, err := r.Invoke(t.Context(), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if st := r.cmd.ProcessState; st == nil || st.Success() {
			t.Fatalf("process state after Close = %v, want killed", st)
		}
		if _, err := r.Invoke(t.Context(), []byte(`{}`)); !errors.Is(err, ErrClosed) {
			t.Errorf("invoke after Close: err = %v, want ErrClosed", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > baseline; {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines after Close, %d before:\n%s",
					runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})

	t.Run("missing binary", func(t *testing.T) {
		if _, err := Start(t.Context(), Options{Binary: filepath.Join(t.TempDir(), "nope")}); err == nil {
			t.Fatal("Start succeeded without a binary")
		}
	})
}

// fakeRuntime serves the Runtime API with no process behind it, so a test
// can play the bootstrap and exercise every reply of the protocol.
func fakeRuntime(t *testing.T) (*Runtime, string) {
	t.Helper()
	r := &Runtime{
		arn:         "arn:aws:lambda:us-east-1:123456789012:function:fake",
		timeout:     time.Minute,
		initTimeout: time.Minute,
		started:     time.Now(),
		events:      make(chan *invocation),
		invokes:     make(chan struct{}, 1),
		closing:     make(chan struct{}),
		exited:      make(chan struct{}),
	}
	srv := httptest.NewServer(r.routes())
	t.Cleanup(func() {
		close(r.closing)
		srv.Close()
	})
	return r, srv.URL + apiPrefix
}

type invokeResult struct {
	res Result
	err error
}

// invokeAsync starts an Invoke and, acting as the bootstrap, fetches its event.
func invokeAsync(t *testing.T, r *Runtime, base, payload string) (<-chan invokeResult, http.Header) {
	t.Helper()
	done := make(chan invokeResult, 1)
	go func() {
		res, err := r.Invoke(context.Background(), []byte(payload))
		done <- invokeResult{res, err}
	}()
	resp, err := http.Get(base + "invocation/next")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != payload {
		t.Fatalf("next: %d %q, want 200 %q", resp.StatusCode, body, payload)
	}
	return done, resp.Header
}

func post(t *testing.T, url string, body io.Reader, header http.Header, trailer http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Trailer = trailer
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestProtocolReports(t *testing.T) {
	errDoc := `{"errorMessage":"bad key","errorType":"KeyError","stackTrace":[]}`
	tests := []struct {
		name       string
		path       string // after invocation/{id}/
		body       io.Reader
		header     http.Header
		trailer    http.Header
		wantStatus int
		wantBody   string
		wantErr    *FunctionError
	}{
		{
			name: "response", path: "response", body: strings.NewReader(`{"ok":true}`),
			wantStatus: 202, wantBody: `{"ok":true}`,
		},
		{
			name: "error document", path: "error", body: strings.NewReader(errDoc),
			header:     http.Header{headerErrorType: {"Ignored"}},
			wantStatus: 202, wantBody: errDoc,
			wantErr: &FunctionError{Type: "KeyError", Message: "bad key"},
		},
		{
			name: "error without document", path: "error", body: strings.NewReader("segfault"),
			header:     http.Header{headerErrorType: {"Runtime.Crash"}},
			wantStatus: 202, wantBody: "segfault",
			wantErr: &FunctionError{Type: "Runtime.Crash", Message: "segfault"},
		},
		{
			name: "error in trailers", path: "response",
			body: io.MultiReader(strings.NewReader("partial")), // hides the length, forcing chunked
			trailer: http.Header{
				headerErrorType:  {"ReadError"},
				trailerErrorBody: {base64.StdEncoding.EncodeToString([]byte(`{"errorMessage":"eof","errorType":"ReadError"}`))},
			},
			wantStatus: 202, wantBody: `{"errorMessage":"eof","errorType":"ReadError"}`,
			wantErr: &FunctionError{Type: "ReadError", Message: "eof"},
		},
		{
			name: "response too large", path: "response",
			body:       bytes.NewReader(bytes.Repeat([]byte("x"), MaxResponsePayload+1)),
			wantStatus: 413,
			wantErr:    &FunctionError{Type: "Function.ResponseSizeTooLarge"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, base := fakeRuntime(t)
			done, h := invokeAsync(t, r, base, `{"in":1}`)
			id := h.Get(headerRequestID)
			deadline, _ := strconv.ParseInt(h.Get(headerDeadlineMS), 10, 64)
			if id == "" || h.Get(headerFunctionARN) != r.arn || !strings.HasPrefix(h.Get(headerTraceID), "Root=1-") ||
				time.UnixMilli(deadline).Before(time.Now().Add(50*time.Second)) {
				t.Fatalf("next headers = %v", h)
			}

			if got := post(t, base+"invocation/"+id+"/"+tt.path, tt.body, tt.header, tt.trailer); got != tt.wantStatus {
				t.Fatalf("status = %d, want %d", got, tt.wantStatus)
			}
			out := <-done
			if out.err != nil {
				t.Fatal(out.err)
			}
			if out.res.RequestID != id {
				t.Errorf("RequestID = %q, want %q", out.res.RequestID, id)
			}
			if tt.wantBody != "" && string(out.res.Payload) != tt.wantBody {
				t.Errorf("Payload = %q, want %q", out.res.Payload, tt.wantBody)
			}
			fe := out.res.FunctionError
			switch {
			case tt.wantErr == nil && fe != nil:
				t.Errorf("unexpected FunctionError %v", fe)
			case tt.wantErr != nil && (fe == nil || fe.Type != tt.wantErr.Type ||
				(tt.wantErr.Message != "" && fe.Message != tt.wantErr.Message)):
				t.Errorf("FunctionError = %+v, want %+v", fe, tt.wantErr)
			}

			// The result is in: reporting again is a state violation.
			if got := post(t, base+"invocation/"+id+"/response", strings.NewReader("{}"), nil, nil); got != http.StatusForbidden {
				t.Errorf("second report: status %d, want 403", got)
			}
		})
	}
}

func TestProtocolRejects(t *testing.T) {
	r, base := fakeRuntime(t)
	done, h := invokeAsync(t, r, base, `{}`)
	id := h.Get(headerRequestID)

	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown request ID", "POST", "invocation/00000000-0000-4000-8000-000000000000/response", 400},
		{"unknown request ID error", "POST", "invocation/nope/error", 400},
		{"GET a response", "GET", "invocation/" + id + "/response", 405},
		{"POST next", "POST", "invocation/next", 405},
		{"GET init error", "GET", "init/error", 405},
		{"init error after init", "POST", "init/error", 403},
		{"unknown path", "GET", "invocation/" + id + "/status", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}

	// None of that disturbed the invocation in flight.
	if got := post(t, base+"invocation/"+id+"/response", strings.NewReader(`"fine"`), nil, nil); got != 202 {
		t.Fatalf("response status = %d", got)
	}
	if out := <-done; out.err != nil || string(out.res.Payload) != `"fine"` {
		t.Fatalf("result = %q, %v", out.res.Payload, out.err)
	}
}

func TestNextWithoutResultFailsInvocation(t *testing.T) {
	r, base := fakeRuntime(t)
	done, _ := invokeAsync(t, r, base, `{}`)
	// Asking for another event ends the current one; this request then
	// blocks waiting for an event, so it is abandoned via its context.
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"invocation/next", nil)
	go func() {
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	out := <-done
	cancel()
	if out.err == nil || !strings.Contains(out.err.Error(), "without reporting a result") {
		t.Fatalf("err = %v", out.err)
	}
}

func TestInvokeRejectsBadPayload(t *testing.T) {
	r, _ := fakeRuntime(t)
	for _, p := range []string{"", "{", strings.Repeat(" ", MaxRequestPayload+1)} {
		if _, err := r.Invoke(t.Context(), []byte(p)); err == nil {
			t.Errorf("Invoke accepted %.20q", p)
		}
	}
}
