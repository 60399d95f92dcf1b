// Package app is pixmill's composition root: it picks the implementations the config
// names, wires them together and runs them until the context ends, then shuts them
// down in order. Components never import each other; they meet here.
package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/blob/local"
	"github.com/pixmill/pixmill/internal/blob/s3"
	"github.com/pixmill/pixmill/internal/config"
	"github.com/pixmill/pixmill/internal/httpapi"
	"github.com/pixmill/pixmill/internal/janitor"
	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/metrics"
	"github.com/pixmill/pixmill/internal/pool"
	"github.com/pixmill/pixmill/internal/processing"
	"github.com/pixmill/pixmill/internal/store/sqlstore"
	"github.com/pixmill/pixmill/internal/watch"
)

// Run starts a node as cfg describes and serves until ctx ends (SIGTERM), then
// shuts down: uploads are refused, running jobs finish within
// server.shutdown_timeout (the rest go back to the queue), the HTTP server stops and
// the store is closed last. It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) (err error) {
	store, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := store.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	files, err := openBlob(ctx, cfg)
	if err != nil {
		return err
	}
	if err := files.Ping(ctx); err != nil { // a missing bucket is better said now
		return fmt.Errorf("file storage (blob.driver %s) is not usable: %w", cfg.Blob.Driver, err)
	}
	proc, err := processing.New(processingConfig(cfg))
	if err != nil {
		return err
	}

	m := metrics.New(store.Stats)
	// Jobs ending through this node wake its status requests that wait for them.
	hub := watch.NewHub()
	watched := watch.Wrap(store, hub)
	var workers *pool.Pool
	if cfg.Role != "api" {
		pc := pool.DefaultConfig(cfg.Pool.Workers)
		pc.MaxWorkers = cfg.Pool.MaxWorkers
		pc.IdleTimeout = cfg.Pool.IdleTimeout
		pc.RateLimit = cfg.Pool.RateLimit
		pc.MaxAttempts = cfg.Pool.MaxAttempts
		pc.JobTimeout = cfg.Pool.JobTimeout
		pc.Lease = cfg.Pool.LeaseDuration
		workers, err = pool.New(pc, watched, processJob(proc, files), log, m)
		if err != nil {
			return err
		}
	}

	deps := httpapi.Deps{
		Store: watched,
		Watch: hub.Wait,
		Blob:  files,
		Probe: func(r io.Reader) (job.Format, int, int, error) {
			info, err := proc.Probe(r)
			return info.Format, info.Width, info.Height, err
		},
		CanEncode:    processing.CanEncode,
		HasWatermark: proc.HasWatermark,
		Presign:      presigner(cfg, files),
		Observer:     m,
		Metrics:      m.Handler(),
		Log:          log,
	}
	if workers != nil {
		deps.Notify, deps.Workers = workers.Notify, workers
		m.WatchWorkers(workers)
	}
	hc := httpConfig(cfg)
	if hc.Presets, err = presets(cfg.Presets, hc.Limits); err != nil {
		return err
	}
	srv, err := httpapi.New(hc, deps)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Server.Addr, err)
	}
	var stopBackground []func() // in the order they must stop
	if workers != nil {
		jan, err := janitor.New(janitor.Config{TTL: cfg.Retention.TTL, Interval: cfg.Retention.Interval,
			Grace: cfg.Retention.Grace, Batch: 500}, store, files, log)
		if err != nil {
			ln.Close()
			return err
		}
		if err := workers.Start(ctx); err != nil {
			ln.Close()
			return err
		}
		stopBackground = append(stopBackground, background(ctx, jan.Run))
		// A shared store wakes this node's dispatcher when another node enqueues.
		if sub, ok := store.(sqlstore.Subscriber); ok {
			stopBackground = append(stopBackground, background(ctx, func(ctx context.Context) {
				if err := sub.Subscribe(ctx, workers.Notify); err != nil {
					log.Error("listen for new jobs; falling back to polling", "err", err)
				}
			}))
		}
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "role", cfg.Role, "workers", cfg.Pool.Workers,
		"store", cfg.Store.Driver, "blob", cfg.Blob.Driver, "data_dir", cfg.DataDir)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
		serveErr = fmt.Errorf("http server: %w", serveErr)
	}

	log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
	defer cancel()
	srv.Drain()
	if workers != nil {
		if err := workers.Shutdown(sctx); err != nil {
			log.Warn("workers did not finish in time", "err", err)
		}
	}
	for _, stop := range stopBackground {
		stop()
	}
	// The HTTP server gets a little time of its own even when jobs used it all.
	hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer hcancel()
	if err := srv.Shutdown(hctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if serveErr == nil {
		if err := <-served; err != nil {
			log.Warn("http server", "err", err)
		}
	}
	log.Info("stopped")
	return serveErr
}

// background runs fn in a goroutine until the returned stop cancels its context
// and waits for it to return.
func background(ctx context.Context, fn func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fn(ctx) }()
	return func() { cancel(); <-done }
}

func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (job.Store, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		return sqlstore.OpenSQLite(ctx, sqlstore.Config{Path: cfg.SQLitePath()})
	case "postgres":
		return sqlstore.OpenPostgres(ctx, sqlstore.PostgresConfig{
			DSN: cfg.Store.Postgres.DSN, MaxConns: cfg.Store.Postgres.MaxConns, Logger: log,
		})
	}
	return nil, fmt.Errorf("unknown store.driver %q", cfg.Store.Driver)
}

func openBlob(ctx context.Context, cfg config.Config) (blob.Store, error) {
	switch cfg.Blob.Driver {
	case "local":
		return local.New(local.Config{Dir: cfg.BlobDir()})
	case "s3":
		sc := s3.DefaultConfig()
		sc.Endpoint, sc.Bucket, sc.Region = cfg.Blob.S3.Endpoint, cfg.Blob.S3.Bucket, cfg.Blob.S3.Region
		sc.AccessKeyID, sc.SecretAccessKey = cfg.Blob.S3.AccessKeyID, cfg.Blob.S3.SecretAccessKey
		sc.PathStyle, sc.Prefix = cfg.Blob.S3.PathStyle, cfg.Blob.S3.Prefix
		return s3.New(ctx, sc)
	}
	return nil, fmt.Errorf("unknown blob.driver %q", cfg.Blob.Driver)
}

// presigner returns the API's redirect maker when downloads are to be presigned.
func presigner(cfg config.Config, files blob.Store) func(ctx context.Context, key, contentType, disposition string) (string, error) {
	st, ok := files.(*s3.Store)
	if !ok || !cfg.Blob.S3.PresignDownloads {
		return nil
	}
	return func(ctx context.Context, key, contentType, disposition string) (string, error) {
		return st.PresignWith(ctx, key, cfg.Blob.S3.PresignTTL, s3.PresignOptions{
			ContentType: contentType, ContentDisposition: disposition,
		})
	}
}

// presets parses and validates the configured presets once, at start.
func presets(in map[string]config.Preset, lim job.Limits) (map[string]job.Variant, error) {
	out := make(map[string]job.Variant, len(in))
	for name, p := range in {
		ops, err := job.ParseOps(p.Ops)
		if err != nil {
			return nil, fmt.Errorf("presets.%s.ops: %w", name, err)
		}
		f, err := job.ParseFormat(p.Format)
		if err != nil {
			return nil, fmt.Errorf("presets.%s.format: %w", name, err)
		}
		v := job.Variant{Name: job.DefaultVariant, Ops: ops, Format: f, Quality: p.Quality}
		if err := (job.Spec{Variants: []job.Variant{v}}).Validate(lim); err != nil {
			return nil, fmt.Errorf("presets.%s: %w", name, err)
		}
		out[name] = v
	}
	return out, nil
}

func processingConfig(cfg config.Config) processing.Config {
	pc := processing.DefaultConfig()
	pc.MaxPixels = cfg.Limits.MaxPixels
	pc.MaxOutputPixels = cfg.Limits.MaxOutputPixels
	pc.JPEGQuality = cfg.Processing.JPEGQuality
	pc.PNGCompression = cfg.Processing.PNGCompression
	pc.Background = cfg.Processing.Background
	pc.WebPQuality = cfg.Processing.WebPQuality
	pc.WebPMethod = cfg.Processing.WebPMethod
	pc.MaxFrames = cfg.Limits.MaxFrames
	pc.MaxAnimationPixels = cfg.Limits.MaxAnimationPixels
	pc.MaxWatermarkPixels = cfg.Limits.MaxWatermarkPixels
	pc.Watermarks = cfg.Processing.Watermarks
	pc.ShrinkOnLoad = cfg.Processing.ShrinkOnLoad
	pc.TwoStageResize = cfg.Processing.TwoStageResize
	return pc
}

func httpConfig(cfg config.Config) httpapi.Config {
	return httpapi.Config{
		MaxUploadBytes: cfg.Limits.MaxUploadBytes,
		QueueCapacity:  cfg.Pool.QueueCapacity,
		Limits: job.Limits{
			MaxOps:          cfg.Limits.MaxOps,
			MaxVariants:     cfg.Limits.MaxVariants,
			MaxDimension:    cfg.Limits.MaxDimension,
			MaxOutputPixels: cfg.Limits.MaxOutputPixels,
		},
		ServeAPI:     cfg.Role != "worker",
		ReadTimeout:  cfg.Server.ReadTimeout,
		WriteTimeout: cfg.Server.WriteTimeout,
		IdleTimeout:  cfg.Server.IdleTimeout,
	}
}

// processJob is the pool's Handler: read the source, run the spec, store every
// output under its job-derived key. Outputs are stored before the job is marked
// completed, so a completed job's files are always there.
func processJob(proc *processing.Processor, files blob.Store) pool.Handler {
	return func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		src, err := files.Open(ctx, job.SourceKey(j.ID))
		if errors.Is(err, blob.ErrNotFound) {
			return nil, job.Wrap(job.CodeCorruptImage, err, "the uploaded file is gone from storage")
		}
		if err != nil {
			return nil, job.Wrap(job.CodeUnavailable, err, "file storage unavailable")
		}
		defer src.Close()
		results, err := proc.Run(ctx, src, j.Spec)
		if err != nil {
			return nil, err
		}
		// Storing is mostly waiting for fsyncs: the worker takes the next job meanwhile.
		pool.DoneComputing(ctx)
		outputs := make([]job.Output, 0, len(results))
		for _, r := range results {
			sum := sha256.Sum256(r.Data)
			n, err := files.Put(ctx, job.ResultKey(j.ID, r.Variant), bytes.NewReader(r.Data))
			if err != nil {
				return nil, job.Wrap(job.CodeUnavailable, err, "storing the result failed")
			}
			outputs = append(outputs, job.Output{
				Variant: r.Variant, Format: r.Format, Bytes: n,
				Width: r.Width, Height: r.Height, ETag: hex.EncodeToString(sum[:16]),
			})
		}
		return outputs, nil
	}
}
