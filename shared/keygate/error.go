package keygate

import (
	"errors"
	"fmt"
)

// Code is one of the small set of error kinds every layer speaks. The HTTP
// layer maps each code to one status in one place; the codes themselves are
// the strings clients see in the error envelope.
type Code string

const (
	Invalid       Code = "invalid_request"
	Unauthorized  Code = "unauthorized"
	Forbidden     Code = "forbidden"
	NotFound      Code = "not_found"
	LimitExceeded Code = "limit_exceeded"
	// Conflict: the request is valid but the key's state forbids it
	// (rotating a revoked key, a change racing another).
	Conflict        Code = "conflict"
	PayloadTooLarge Code = "payload_too_large"
	Unavailable     Code = "unavailable"
	Internal        Code = "internal"
)

// Error is an error whose message is safe to show to the caller. Anything
// not wrapped in an Error is reported as Internal and its text is only logged.
type Error struct {
	Code    Code
	Message string
	// Err is the underlying cause, for logs and errors.Is; never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a caller-safe formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or Internal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// ErrorMessage returns the caller-safe message of err. Errors that are not
// an *Error get a generic text so internal details never leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
