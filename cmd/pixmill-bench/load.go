package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// request is what every job of a run asks for, sent as the upload's form fields.
type request struct {
	Ops     string `json:"ops"`
	Format  string `json:"format,omitempty"`
	Quality int    `json:"quality,omitempty"`
}

// payload is one ready-made upload body, built once and sent many times so that
// the client spends no time on it per job.
type payload struct {
	name        string
	file        []byte // the image itself, for the in-process run
	body        []byte
	contentType string
}

// newPayload builds the multipart body that uploads file with req.
func newPayload(name string, file []byte, req request) (payload, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fields := [][2]string{{"ops", req.Ops}}
	if req.Format != "" {
		fields = append(fields, [2]string{"format", req.Format})
	}
	if req.Quality != 0 {
		fields = append(fields, [2]string{"quality", strconv.Itoa(req.Quality)})
	}
	for _, f := range fields {
		if f[1] == "" {
			continue
		}
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return payload{}, fmt.Errorf("form field %s: %w", f[0], err)
		}
	}
	w, err := mw.CreateFormFile("file", name)
	if err != nil {
		return payload{}, fmt.Errorf("form file: %w", err)
	}
	if _, err := w.Write(file); err != nil {
		return payload{}, fmt.Errorf("form file: %w", err)
	}
	if err := mw.Close(); err != nil {
		return payload{}, fmt.Errorf("form: %w", err)
	}
	return payload{name: name, file: file, body: body.Bytes(), contentType: mw.FormDataContentType()}, nil
}

// jobJSON is the part of the service's job JSON this command reads.
type jobJSON struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Outputs    []struct {
		URL   string `json:"url"`
		Bytes int64  `json:"bytes"`
	} `json:"outputs"`
	Error *apiError `json:"error"`
}

// apiError is the service's error body, {"error": {"code", "message"}}, and a
// failed job's reason.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// client talks to one pixmill over HTTP.
type client struct {
	base    string
	http    *http.Client
	wait    time.Duration // status requests wait up to this for the end (?wait=); 0: poll
	poll    time.Duration // between two status requests of a job, when not waiting
	timeout time.Duration // upload to completed, per job
}

func newClient(base string, conns int, wait, poll, timeout time.Duration) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 2*conns+4, 2*conns+4
	return &client{base: base, http: &http.Client{Transport: tr}, wait: wait, poll: poll, timeout: timeout}
}

func (c *client) close() { c.http.CloseIdleConnections() }

// sample is what one job measured. err is the kind of failure ("" for none), the
// key errors are counted by; detail is its first-hand description.
type sample struct {
	err, detail string

	upload   time.Duration // the upload request, until 202
	latency  time.Duration // upload start → the client saw "completed"
	download time.Duration // the result request
	queue    time.Duration // started_at − created_at (server clock, ms resolution)
	process  time.Duration // finished_at − started_at
	server   time.Duration // finished_at − created_at
	in, out  int64         // file bytes uploaded, result bytes downloaded
}

func failed(kind string, err error) sample { return sample{err: kind, detail: err.Error()} }

// job uploads p, asks for the job's status until it ends (each request waiting
// for the end, or every poll) and downloads its result.
func (c *client) job(ctx context.Context, p payload) sample {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	start := time.Now()
	var j jobJSON
	if err := c.do(ctx, http.MethodPost, "/v1/jobs", p.contentType, p.body, &j); err != nil {
		return failed("upload: "+kindOf(err), err)
	}
	s := sample{upload: time.Since(start), in: int64(len(p.file))}

	for j.Status != "completed" {
		switch j.Status {
		case "failed", "canceled":
			reason := "no reason given"
			if j.Error != nil {
				reason = j.Error.Code + ": " + j.Error.Message
			}
			kind := "job " + j.Status
			if j.Error != nil {
				kind += ": " + j.Error.Code
			}
			return failed(kind, fmt.Errorf("job %s %s: %s", j.ID, j.Status, reason))
		}
		path := "/v1/jobs/" + j.ID
		if c.wait > 0 {
			path += "?wait=" + c.wait.String()
		} else {
			select {
			case <-ctx.Done():
			case <-time.After(c.poll):
			}
		}
		if ctx.Err() != nil {
			return failed("timeout", fmt.Errorf("job %s still %s after %s", j.ID, j.Status, c.timeout))
		}
		j = jobJSON{}
		if err := c.do(ctx, http.MethodGet, path, "", nil, &j); err != nil {
			return failed("status: "+kindOf(err), err)
		}
	}
	s.latency = time.Since(start)
	if j.StartedAt != nil && j.FinishedAt != nil {
		s.queue = j.StartedAt.Sub(j.CreatedAt)
		s.process = j.FinishedAt.Sub(*j.StartedAt)
		s.server = j.FinishedAt.Sub(j.CreatedAt)
	}
	if len(j.Outputs) == 0 {
		return failed("job completed without outputs", fmt.Errorf("job %s has no outputs", j.ID))
	}
	dl := time.Now()
	n, err := c.download(ctx, j.Outputs[0].URL)
	if err != nil {
		return failed("download: "+kindOf(err), err)
	}
	if n != j.Outputs[0].Bytes {
		return failed("download: size differs from the job's", fmt.Errorf("job %s: got %d bytes, job says %d", j.ID, n, j.Outputs[0].Bytes))
	}
	s.download, s.out = time.Since(dl), n
	return s
}

// statusError is a response other than the one expected, with the service's code.
type statusError struct {
	status int
	code   string
	msg    string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.status, e.code, e.msg)
}

// kindOf names an error for counting: "HTTP 503 queue_full", "timeout" or
// "transport".
func kindOf(err error) string {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d %s", se.status, se.code)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "transport"
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *client) do(ctx context.Context, method, path, contentType string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %w", method, path, apiStatus(resp.StatusCode, raw))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode %q: %w", method, path, truncate(raw, 200), err)
	}
	return nil
}

// download reads a result and returns its size.
func (c *client) download(ctx context.Context, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+url, nil)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", url, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("download %s: %w", url, apiStatus(resp.StatusCode, raw))
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download %s: %w", url, err)
	}
	return n, nil
}

// apiStatus turns an error response into a *statusError.
func apiStatus(status int, raw []byte) error {
	var body struct{ Error apiError }
	if json.Unmarshal(raw, &body) != nil || body.Error.Code == "" {
		return &statusError{status: status, code: "-", msg: string(truncate(raw, 200))}
	}
	return &statusError{status: status, code: body.Error.Code, msg: body.Error.Message}
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// E2E is what the end-to-end run of a workload measured.
type E2E struct {
	Jobs       int     `json:"jobs"`
	Completed  int     `json:"completed"`
	WallMS     float64 `json:"wall_ms"`
	JobsPerSec float64 `json:"jobs_per_sec"` // completed jobs / wall time
	// Latency is upload start → the client saw "completed" (its resolution is the
	// poll interval); ServerTotal is finished_at − created_at from the job JSON.
	Latency     Summary `json:"latency"`
	Upload      Summary `json:"upload"`
	Download    Summary `json:"download"`
	QueueWait   Summary `json:"queue_wait"`
	Processing  Summary `json:"processing"`
	ServerTotal Summary `json:"server_total"`
	BytesIn     int64   `json:"bytes_in"`
	BytesOut    int64   `json:"bytes_out"`
	// RSSBefore is the server's VmRSS when idle before the run, RSSPeak its VmHWM
	// at the end (reset before the warm-up where the kernel allows), RSSMaxSampled
	// the largest VmRSS seen by sampling. All 0 when the server's pid is unknown.
	RSSBefore     int64 `json:"rss_before_bytes"`
	RSSPeak       int64 `json:"rss_peak_bytes"`
	RSSMaxSampled int64 `json:"rss_max_sampled_bytes"`
	// CPU is how the machine's CPU time was spent during the warm-up and the jobs.
	CPU    CPUShare `json:"cpu"`
	Errors Errors   `json:"errors"`
}

// Errors counts failures by kind, and keeps the first description of each.
type Errors struct {
	Count   map[string]int    `json:"count"`
	Example map[string]string `json:"example"`
}

func (e *Errors) add(kind, detail string) {
	if e.Count == nil {
		e.Count, e.Example = map[string]int{}, map[string]string{}
	}
	if e.Count[kind] == 0 {
		e.Example[kind] = detail
	}
	e.Count[kind]++
}

// Total is the number of errors of every kind.
func (e Errors) Total() int {
	n := 0
	for _, c := range e.Count {
		n += c
	}
	return n
}

// runJobs runs n jobs, conc at a time, each taking payloads in turn, and returns
// the samples (in job order) and the wall time from the first upload to the last
// download.
func runJobs(ctx context.Context, c *client, payloads []payload, n, conc int) ([]sample, time.Duration) {
	samples := make([]sample, n)
	for i := range samples { // overwritten by every job that runs
		samples[i] = sample{err: "not run", detail: "interrupted before this job started"}
	}
	wall := inParallel(ctx, n, conc, func(i int) {
		samples[i] = c.job(ctx, payloads[i%len(payloads)])
	})
	return samples, wall
}

// inParallel calls fn(i) for every i in [0, n), conc calls at a time, until ctx
// ends, and returns the wall time it took.
func inParallel(ctx context.Context, n, conc int, fn func(i int)) time.Duration {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// loadTest warms the service up with warmup jobs (counted only when they fail),
// then measures n jobs at concurrency conc.
func loadTest(ctx context.Context, c *client, payloads []payload, n, conc, warmup int) E2E {
	var out E2E
	if warmup > 0 {
		ws, _ := runJobs(ctx, c, payloads, warmup, conc)
		for _, s := range ws {
			if s.err != "" {
				out.Errors.add("warm-up: "+s.err, s.detail)
			}
		}
	}
	samples, wall := runJobs(ctx, c, payloads, n, conc)
	var lat, up, down, queue, proc, total []time.Duration
	for _, s := range samples {
		if s.err != "" {
			out.Errors.add(s.err, s.detail)
			continue
		}
		out.Completed++
		out.BytesIn += s.in
		out.BytesOut += s.out
		lat, up, down = append(lat, s.latency), append(up, s.upload), append(down, s.download)
		queue, proc, total = append(queue, s.queue), append(proc, s.process), append(total, s.server)
	}
	out.Jobs = n
	out.WallMS = ms(wall)
	out.JobsPerSec = perSecond(out.Completed, wall)
	out.Latency, out.Upload, out.Download = summarize(lat), summarize(up), summarize(down)
	out.QueueWait, out.Processing, out.ServerTotal = summarize(queue), summarize(proc), summarize(total)
	return out
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
