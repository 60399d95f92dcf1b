// Package metrics exposes pixmill's Prometheus metrics. It is the only importer of
// the Prometheus client; the pool and the HTTP API report through small interfaces
// of their own, which *Metrics implements.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pixmill/pixmill/internal/job"
)

// Workers reports the local worker pool.
type Workers interface {
	Workers() int
	Busy() int
}

// Metrics holds the collectors and the registry they are served from.
type Metrics struct {
	reg        *prometheus.Registry
	finished   *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	wait       prometheus.Histogram
	processing prometheus.Histogram
	upload     prometheus.Counter
	requests   *prometheus.CounterVec
}

// New registers pixmill's metrics. stats is read at scrape time for the queue gauges.
func New(stats func(context.Context) (job.Stats, error)) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixmill_jobs_finished_total",
			Help: "Jobs this node brought to a final state, by status (completed or failed).",
		}, []string{"status"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixmill_job_attempts_total",
			Help: "Attempts this node ended, by outcome (completed, failed, retried, released, lost).",
		}, []string{"outcome"}),
		wait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pixmill_job_queue_wait_seconds",
			Help:    "Time from a job being queued (or due for retry) to a worker starting it.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1 ms … 4.4 min
		}),
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "pixmill_job_processing_seconds",
			Help:    "Time one attempt took, from start to its recorded outcome.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14), // 10 ms … 82 s
		}),
		upload: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pixmill_upload_bytes_total",
			Help: "Bytes of accepted uploads.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pixmill_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "status"}),
	}
	m.reg.MustRegister(m.finished, m.attempts, m.wait, m.processing, m.upload, m.requests,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		queueCollector{stats: stats})
	return m
}

// WatchWorkers adds gauges of a node's worker pool.
func (m *Metrics) WatchWorkers(w Workers) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pixmill_workers", Help: "Worker goroutines running on this node.",
		}, func() float64 { return float64(w.Workers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pixmill_workers_busy", Help: "Workers processing a job on this node (a job only storing its results does not count).",
		}, func() float64 { return float64(w.Busy()) }),
	)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	// A store that cannot be read must not hide every other metric.
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, ErrorHandling: promhttp.ContinueOnError})
}

// JobStarted records how long a job waited (pool.Observer).
func (m *Metrics) JobStarted(wait time.Duration) { m.wait.Observe(wait.Seconds()) }

// JobEnded records the end of an attempt (pool.Observer).
func (m *Metrics) JobEnded(outcome string, took time.Duration) {
	m.attempts.WithLabelValues(outcome).Inc()
	m.processing.Observe(took.Seconds())
	if outcome == "completed" || outcome == "failed" {
		m.finished.WithLabelValues(outcome).Inc()
	}
}

// Request counts one HTTP request (httpapi.Observer).
func (m *Metrics) Request(route string, status int) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
}

// Uploaded counts the bytes of an accepted upload (httpapi.Observer).
func (m *Metrics) Uploaded(n int64) { m.upload.Add(float64(n)) }

// queueCollector reads the store once per scrape: the queue is shared by every node,
// so its depth is a fact about the store, not about this process.
type queueCollector struct {
	stats func(context.Context) (job.Stats, error)
}

var (
	depthDesc = prometheus.NewDesc("pixmill_queue_depth",
		"Jobs queued (the shared queue, as the store reports it).", nil, nil)
	processingDesc = prometheus.NewDesc("pixmill_jobs_processing",
		"Jobs being processed on any node.", nil, nil)
)

func (queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- depthDesc
	ch <- processingDesc
}

func (q queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := q.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(depthDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(st.Queued))
	ch <- prometheus.MustNewConstMetric(processingDesc, prometheus.GaugeValue, float64(st.Processing))
}
