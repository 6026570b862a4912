// Package apierror is how every HTTP answer of Keygate's functions says
// what went wrong: the one mapping of error codes (keygate.Code) to HTTP
// statuses and the error envelope {"error":{"code","message","request_id"}}
// that openapi.yaml documents. The management functions (shared/httpapi),
// the secret-scanning endpoint (shared/secretscan) and the local gateway
// share it, so that no two of them can answer one error differently.
package apierror

import (
	"encoding/json"
	"net/http"

	"github.com/keygate/keygate/shared/keygate"
)

// statuses maps each error code to its HTTP status: the only such mapping.
var statuses = map[keygate.Code]int{
	keygate.Invalid:         http.StatusBadRequest,
	keygate.Unauthorized:    http.StatusUnauthorized,
	keygate.Forbidden:       http.StatusForbidden,
	keygate.NotFound:        http.StatusNotFound,
	keygate.LimitExceeded:   http.StatusConflict,
	keygate.Conflict:        http.StatusConflict,
	keygate.PayloadTooLarge: http.StatusRequestEntityTooLarge,
	keygate.Unavailable:     http.StatusServiceUnavailable,
	keygate.Internal:        http.StatusInternalServerError,
}

// Status maps an error code to its HTTP status; an unknown code is a 500.
func Status(code keygate.Code) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Envelope is the error body of every failed request.
type Envelope struct {
	Error EnvelopeError `json:"error"`
}

// EnvelopeError is the inside of Envelope.
type EnvelopeError struct {
	Code      keygate.Code `json:"code"`
	Message   string       `json:"message"`
	RequestID string       `json:"request_id"`
}

// Body renders err as the error envelope. Only caller-safe text from a
// *keygate.Error is shown; anything else becomes "internal error".
func Body(err error, requestID string) []byte {
	code := keygate.ErrorCode(err)
	msg := keygate.ErrorMessage(err)
	if code == keygate.Internal {
		msg = "internal error"
	}
	b, _ := json.Marshal(Envelope{Error: EnvelopeError{Code: code, Message: msg, RequestID: requestID}})
	return b
}

// Headers are the headers of a JSON answer of the API, an error or not:
// never cached (answers are about keys, which change), and the request
// id, which the envelope also carries, for a person reading logs.
func Headers(requestID string) map[string]string {
	return map[string]string{
		"Content-Type":  "application/json",
		"Cache-Control": "no-store",
		"X-Request-Id":  requestID,
	}
}
