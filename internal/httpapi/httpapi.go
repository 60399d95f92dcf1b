// Package httpapi is pixmill's HTTP interface: the Fiber app with its routes, the job
// JSON, and the one ErrorHandler that maps error codes to HTTP statuses. It is the only
// importer of fiber. A fiber.Ctx never leaves this package.
package httpapi

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/adaptor"
	"github.com/gofiber/fiber/v3/middleware/requestid"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/job"
)

// Config sets limits and timeouts of the HTTP server.
type Config struct {
	MaxUploadBytes int64      // bytes of the uploaded file, counted while reading
	QueueCapacity  int        // queued jobs at most; past it uploads get 503 queue_full
	Limits         job.Limits // what a Spec may ask for
	ServeAPI       bool       // false on worker-only nodes: health routes only
	// Presets are named recipes for preset=<name>: ops, format and quality of one
	// output (the variant name is ignored).
	Presets      map[string]job.Variant
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.MaxUploadBytes < 1 || c.QueueCapacity < 1 {
		return errors.New("httpapi: max upload bytes and queue capacity must be positive")
	}
	return nil
}

// Prober identifies an uploaded file from its bytes and reads its dimensions from
// the header without decoding it. Errors are *job.Error (unsupported_media_type,
// image_too_large).
type Prober func(r io.Reader) (format job.Format, width, height int, err error)

// Workers reports the worker pool of this node, if it has one.
type Workers interface {
	Workers() int
	Busy() int
}

// Observer is told about requests and uploads, for metrics. Its methods must not block.
type Observer interface {
	Request(route string, status int)
	Uploaded(bytes int64)
}

type noObserver struct{}

func (noObserver) Request(string, int) {}
func (noObserver) Uploaded(int64)      {}

// Deps are the components the API talks to.
type Deps struct {
	Store     job.Store
	Blob      blob.Store
	Probe     Prober
	CanEncode func(job.Format) bool // whether an output format can be written
	// HasWatermark reports whether the watermark op may name an image; nil allows none.
	HasWatermark func(name string) bool
	Notify       func() // doorbell: a job was enqueued
	// Watch, when set, returns a channel closed when job id next ends on this node
	// and a func to call when done waiting (watch.Hub.Wait); status requests with
	// ?wait= then learn of it at once instead of at their next re-read.
	Watch    func(id string) (<-chan struct{}, func())
	Workers  Workers  // nil on API-only nodes
	Observer Observer // nil: nothing observed
	// Presign, when set, answers downloads with a redirect to a URL of the file
	// store instead of streaming the file.
	Presign func(ctx context.Context, key, contentType, disposition string) (string, error)
	Metrics http.Handler // served at /metrics when not nil
	Log     *slog.Logger
}

// Server is the HTTP side of one pixmill node.
type Server struct {
	cfg      Config
	deps     Deps
	app      *fiber.App
	drain    sync.Once
	draining chan struct{} // closed by Drain
}

// New builds the Fiber app and its routes.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Blob == nil || deps.Probe == nil || deps.Log == nil {
		return nil, errors.New("httpapi: store, blob, probe and log are required")
	}
	if deps.Notify == nil {
		deps.Notify = func() {}
	}
	if deps.Observer == nil {
		deps.Observer = noObserver{}
	}
	if deps.HasWatermark == nil {
		deps.HasWatermark = func(string) bool { return false }
	}
	if deps.CanEncode == nil {
		deps.CanEncode = func(job.Format) bool { return true }
	}
	s := &Server{cfg: cfg, deps: deps, draining: make(chan struct{})}
	s.app = fiber.New(fiber.Config{
		AppName: "pixmill",
		// Uploads are streamed straight to storage: never buffered in RAM or in
		// temp files. Streaming disables BodyLimit, so the upload handler counts
		// bytes itself.
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		ErrorHandler:                 s.handleError,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
	})
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	a := s.app
	a.Use(requestid.New())
	a.Use(s.recoverPanic)
	a.Use(s.logRequests)
	a.Get("/livez", s.livez)
	a.Get("/readyz", s.readyz)
	if s.deps.Metrics != nil {
		a.Get("/metrics", adaptor.HTTPHandler(s.deps.Metrics))
	}
	if s.cfg.ServeAPI {
		a.Post("/v1/jobs", s.createJob)
		a.Get("/v1/jobs", s.listJobs)
		a.Get("/v1/jobs/:id", s.getJob)
		a.Delete("/v1/jobs/:id", s.deleteJob)
		a.Get("/v1/jobs/:id/result", s.getResult)
		a.Get("/v1/jobs/:id/result/:variant", s.getResult)
		a.Get("/v1/queue", s.queue)
	}
	a.Use(func(c fiber.Ctx) error {
		return job.Errorf(job.CodeNotFound, "no route %s %s", c.Method(), c.Path())
	})
}

// Test runs one request through the app in memory (for tests).
func (s *Server) Test(req *http.Request, timeout time.Duration) (*http.Response, error) {
	return s.app.Test(req, fiber.TestConfig{Timeout: timeout, FailOnTimeout: true})
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.app.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true})
}

// Drain makes the node refuse new uploads (503 unavailable) and report not ready,
// while requests in flight and status and download requests still work; status
// requests waiting for their job answer at once.
func (s *Server) Drain() {
	s.drain.Do(func() { close(s.draining) })
}

// isDraining reports whether Drain was called.
func (s *Server) isDraining() bool {
	select {
	case <-s.draining:
		return true
	default:
		return false
	}
}

// Shutdown stops accepting connections and waits for requests in flight until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.app.ShutdownWithContext(ctx)
	if errors.Is(err, fiber.ErrNotRunning) {
		return nil
	}
	return err
}

func (s *Server) livez(c fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (s *Server) readyz(c fiber.Ctx) error {
	if s.isDraining() {
		return job.Errorf(job.CodeUnavailable, "shutting down")
	}
	ctx, cancel := context.WithTimeout(c.Context(), 2*time.Second)
	defer cancel()
	if err := s.deps.Store.Ping(ctx); err != nil {
		return job.Wrap(job.CodeUnavailable, err, "job store unreachable")
	}
	if err := s.deps.Blob.Ping(ctx); err != nil {
		return job.Wrap(job.CodeUnavailable, err, "file storage unreachable")
	}
	return c.JSON(fiber.Map{"status": "ok"})
}
