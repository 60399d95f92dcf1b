package job

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients (HTTP status) and for the pool (retry or not).
// The mapping to HTTP lives in httpapi, the mapping to retries in pool; nowhere else.
type Code string

// Error codes, part of the public API contract.
const (
	CodeInvalid             Code = "invalid_request"
	CodeUnauthorized        Code = "unauthorized"
	CodeNotFound            Code = "not_found"
	CodeNotReady            Code = "not_ready"
	CodeConflict            Code = "conflict"
	CodeTooLarge            Code = "too_large"
	CodeUnsupportedMedia    Code = "unsupported_media_type"
	CodeImageTooLarge       Code = "image_too_large"
	CodeRangeNotSatisfiable Code = "range_not_satisfiable"
	CodeRateLimited         Code = "rate_limited"
	CodeQueueFull           Code = "queue_full"
	CodeUnavailable         Code = "unavailable"
	CodeInternal            Code = "internal"

	// Codes recorded on failed jobs.
	CodeCorruptImage     Code = "corrupt_image"
	CodeUnsupportedImage Code = "unsupported_image"
	CodeTimeout          Code = "timeout"
	CodeCanceled         Code = "canceled"
)

// Error is the one error type of pixmill: a code, a message safe to show a client,
// and the wrapped cause (for logs only).
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code) + ": " + e.Message
	}
	return string(e.Code) + ": " + e.Message + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with a formatted client-safe message and no cause.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with code and message that wraps cause.
func Wrap(code Code, cause error, message string) *Error {
	return &Error{Code: code, Message: message, Err: cause}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal for any
// other non-nil error and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err: the message of its *Error, or
// a generic text for anything else so that internals never leak.
func ErrorMessage(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "internal error"
}

// ErrLeaseLost is returned by Store methods that finish a claimed job when the caller
// no longer holds its lease (it expired and the job was requeued or claimed again).
var ErrLeaseLost = errors.New("job lease lost")
