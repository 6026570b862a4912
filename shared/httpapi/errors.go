package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/keygate/keygate/shared/keygate"
)

// Status maps an error code to its HTTP status. It is the only such mapping.
func Status(code keygate.Code) int {
	switch code {
	case keygate.Invalid:
		return http.StatusBadRequest
	case keygate.Unauthorized:
		return http.StatusUnauthorized
	case keygate.Forbidden:
		return http.StatusForbidden
	case keygate.NotFound:
		return http.StatusNotFound
	case keygate.LimitExceeded:
		return http.StatusConflict
	case keygate.PayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case keygate.Unavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
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

// ErrorBody renders err as the error envelope. Only caller-safe text from
// a *keygate.Error is shown; anything else becomes "internal error".
func ErrorBody(err error, requestID string) []byte {
	code := keygate.ErrorCode(err)
	msg := keygate.ErrorMessage(err)
	if code == keygate.Internal {
		msg = "internal error"
	}
	b, _ := json.Marshal(Envelope{Error: EnvelopeError{Code: code, Message: msg, RequestID: requestID}})
	return b
}
