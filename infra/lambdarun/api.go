package lambdarun

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API headers, as named in the 2018-06-01 API.
const (
	headerRequestID     = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMS    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN   = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID       = "Lambda-Runtime-Trace-Id"
	headerErrorType     = "Lambda-Runtime-Function-Error-Type"
	trailerErrorBody    = "Lambda-Runtime-Function-Error-Body"
	apiPrefix           = "/2018-06-01/runtime/"
	errInvalidRequestID = "InvalidRequestID"
	errInvalidState     = "InvalidStateTransition"
)

// routes relies on ServeMux method patterns for the 405s (with Allow) and
// 404s Lambda gives for wrong methods and unknown paths.
func (r *Runtime) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"invocation/next", r.next)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/response", func(w http.ResponseWriter, req *http.Request) {
		r.report(w, req, false)
	})
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/error", func(w http.ResponseWriter, req *http.Request) {
		r.report(w, req, true)
	})
	mux.HandleFunc("POST "+apiPrefix+"init/error", r.initError)
	return mux
}

// next blocks until Invoke hands over an event. Asking for the next event
// also ends the previous one, which is how Lambda knows a runtime is idle.
func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	if r.initDuration == 0 {
		r.initDuration = max(time.Since(r.started), time.Nanosecond) // nonzero marks init done
	}
	if prev := r.current; prev != nil && !prev.reported {
		prev.reported = true
		prev.done <- outcome{err: errors.New("lambdarun: runtime asked for the next event without reporting a result")}
	}
	r.current = nil
	r.mu.Unlock()

	var inv *invocation
	select {
	case inv = <-r.events:
	case <-req.Context().Done():
		return
	case <-r.closing:
		writeError(w, http.StatusInternalServerError, "Runtime.Shutdown", "Execution environment is shutting down")
		return
	}
	r.mu.Lock()
	r.current = inv
	r.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadlineMS, strconv.FormatInt(time.Now().Add(r.timeout).UnixMilli(), 10))
	h.Set(headerFunctionARN, r.arn)
	h.Set(headerTraceID, traceID())
	_, _ = w.Write(inv.payload) // a failed write means the process died, which Invoke sees
}

// report records a result posted to invocation/{id}/response or /error.
func (r *Runtime) report(w http.ResponseWriter, req *http.Request, isError bool) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxResponsePayload+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}

	r.mu.Lock()
	inv := r.current
	switch {
	case inv == nil || inv.id != req.PathValue("id"):
		r.mu.Unlock()
		writeError(w, http.StatusBadRequest, errInvalidRequestID, "Invalid request ID")
		return
	case inv.reported:
		r.mu.Unlock()
		writeError(w, http.StatusForbidden, errInvalidState, "Result already reported for this request ID")
		return
	}
	inv.reported = true
	r.mu.Unlock()

	out := outcome{payload: body}
	switch {
	case len(body) > MaxResponsePayload:
		out.fnErr = &FunctionError{
			Type:    "Function.ResponseSizeTooLarge",
			Message: "Response payload size exceeded maximum allowed payload size (" + strconv.Itoa(MaxResponsePayload) + " bytes).",
		}
		out.payload, _ = json.Marshal(out.fnErr)
		inv.done <- out
		writeError(w, http.StatusRequestEntityTooLarge, out.fnErr.Type, out.fnErr.Message)
		return
	case isError:
		out.fnErr = parseFunctionError(body, req.Header.Get(headerErrorType))
	case req.Trailer.Get(headerErrorType) != "":
		// aws-lambda-go streams the response body and, if reading it fails
		// midway, turns the invoke into an error through these trailers.
		errBody, _ := base64.StdEncoding.DecodeString(req.Trailer.Get(trailerErrorBody))
		out.fnErr = parseFunctionError(errBody, req.Trailer.Get(headerErrorType))
		out.payload = errBody
	}
	inv.done <- out
	accepted(w)
}

// initError records an init failure. Lambda then discards the environment,
// so the process is killed and Invoke reports ErrInitFailed.
func (r *Runtime) initError(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxResponsePayload))
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidRequest", err.Error())
		return
	}
	r.mu.Lock()
	if r.initDuration != 0 {
		r.mu.Unlock()
		writeError(w, http.StatusForbidden, errInvalidState, "Init error reported after init completed")
		return
	}
	if r.initErr == nil {
		r.initErr = parseFunctionError(body, req.Header.Get(headerErrorType))
	}
	r.mu.Unlock()
	accepted(w)
	_ = http.NewResponseController(w).Flush() // let the runtime see the 202 before it dies
	r.kill()
}

// parseFunctionError reads an error document, falling back to the raw body
// and the error-type header for runtimes that post something else.
func parseFunctionError(body []byte, headerType string) *FunctionError {
	var fe FunctionError
	if json.Unmarshal(body, &fe) != nil || (fe.Type == "" && fe.Message == "") {
		fe = FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	if fe.Type == "" {
		fe.Type = "Unhandled"
	}
	return &fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func writeError(w http.ResponseWriter, code int, errType, msg string) {
	b, _ := json.Marshal(FunctionError{Type: errType, Message: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
