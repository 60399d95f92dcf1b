package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/requestid"

	"github.com/pixmill/pixmill/internal/job"
)

// statusOf maps an error code to its HTTP status: the only place that does.
func statusOf(code job.Code) int {
	switch code {
	case job.CodeInvalid:
		return http.StatusBadRequest
	case job.CodeUnauthorized:
		return http.StatusUnauthorized
	case job.CodeNotFound:
		return http.StatusNotFound
	case job.CodeNotReady, job.CodeConflict:
		return http.StatusConflict
	case job.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case job.CodeUnsupportedMedia:
		return http.StatusUnsupportedMediaType
	case job.CodeRangeNotSatisfiable:
		return http.StatusRequestedRangeNotSatisfiable
	case job.CodeImageTooLarge:
		return http.StatusUnprocessableEntity
	case job.CodeRateLimited:
		return http.StatusTooManyRequests
	case job.CodeQueueFull, job.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fiberCodes names Fiber's own errors (unknown method, malformed request…).
func fiberCode(status int) job.Code {
	switch status {
	case http.StatusNotFound:
		return job.CodeNotFound
	case http.StatusRequestEntityTooLarge:
		return job.CodeTooLarge
	case http.StatusServiceUnavailable:
		return job.CodeUnavailable
	}
	if status >= 400 && status < 500 {
		return job.CodeInvalid
	}
	return job.CodeInternal
}

// handleError is the one ErrorHandler: every error a handler returns becomes the
// JSON error body with the status of its code. Only internal errors are logged here
// at error level, with the request id; their details never reach the client.
func (s *Server) handleError(c fiber.Ctx, err error) error {
	code, msg := job.ErrorCode(err), job.ErrorMessage(err)
	status := statusOf(code)
	if fe, ok := errors.AsType[*fiber.Error](err); ok {
		status, code, msg = fe.Code, fiberCode(fe.Code), fe.Message
	}
	if code == job.CodeInternal {
		msg = "internal error"
		s.deps.Log.Error("request failed", "request_id", requestid.FromContext(c),
			"method", c.Method(), "path", c.Path(), "err", err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(retryAfterSeconds))
	}
	return c.Status(status).JSON(errorBody{Error: errorDetail{Code: string(code), Message: msg}})
}

// retryAfterSeconds is what 503 and 429 answers tell clients to wait.
const retryAfterSeconds = 5

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// recoverPanic turns a panic in a handler into a 500 with the JSON body.
func (s *Server) recoverPanic(c fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &job.Error{Code: job.CodeInternal, Message: "internal error", Err: panicError{r}}
		}
	}()
	return c.Next()
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// logRequests counts every request by route pattern and status, and logs one line
// per request at debug level (errors are logged by handleError).
func (s *Server) logRequests(c fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		status = statusOf(job.ErrorCode(err))
		if fe, ok := errors.AsType[*fiber.Error](err); ok {
			status = fe.Code
		}
	}
	route := c.Route().Path
	if c.Route().Method == "USE" { // only the catch-all matched
		route = "unmatched"
	}
	s.deps.Observer.Request(route, status)
	if s.deps.Log.Enabled(c.Context(), slog.LevelDebug) {
		s.deps.Log.Debug("request", "request_id", requestid.FromContext(c), "method", c.Method(),
			"path", c.Path(), "route", route, "status", status, "duration_ms", time.Since(start).Milliseconds())
	}
	return err
}
