package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"time"
)

// EnqueueProbe is the wait between a job's commit and its start when a worker is
// idle, measured one small job at a time.
type EnqueueProbe struct {
	Jobs int `json:"jobs"`
	// QueueWait is started_at − created_at. The store keeps milliseconds, so each
	// value is exact to about ±1 ms.
	QueueWait Summary `json:"queue_wait"`
	// Latency is what the client saw: upload start → completed (to the poll
	// interval with --wait 0).
	Latency Summary `json:"latency"`
	Errors  Errors  `json:"errors"`
}

// tinyJPEG is a deterministic 64×64 JPEG: a job that costs the worker almost
// nothing, so that only the way to the worker is measured.
func tinyJPEG() ([]byte, error) {
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(4 * x), G: uint8(4 * y), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		return nil, fmt.Errorf("encode probe image: %w", err)
	}
	return b.Bytes(), nil
}

// probeEnqueue uploads n tiny jobs one after the other, each after the previous one
// finished, so that a worker is always idle when a job is committed.
func probeEnqueue(ctx context.Context, c *client, n int) (EnqueueProbe, error) {
	img, err := tinyJPEG()
	if err != nil {
		return EnqueueProbe{}, err
	}
	p, err := newPayload("probe.jpg", img, request{Ops: "resize:w=32", Format: "jpeg"})
	if err != nil {
		return EnqueueProbe{}, err
	}
	out := EnqueueProbe{Jobs: n}
	var wait, lat []time.Duration
	for range n {
		if ctx.Err() != nil {
			out.Errors.add("not run", "interrupted")
			break
		}
		s := c.job(ctx, p)
		if s.err != "" {
			out.Errors.add(s.err, s.detail)
			continue
		}
		wait, lat = append(wait, s.queue), append(lat, s.latency)
	}
	out.QueueWait, out.Latency = summarize(wait), summarize(lat)
	return out, nil
}

// UploadProbe is the server's memory while it receives one very large upload.
type UploadProbe struct {
	Mode      string  `json:"mode"` // "content-length" or "chunked"
	BodyBytes int64   `json:"body_bytes"`
	Status    int     `json:"status"`     // the answer's HTTP status (0: none)
	Code      string  `json:"error_code"` // the answer's error code
	Sent      int64   `json:"sent_bytes"` // body bytes the server read before answering
	Seconds   float64 `json:"seconds"`
	// RSSBefore is the idle VmRSS; RSSPeak the VmHWM over the upload (reset just
	// before it); Increase their difference.
	RSSBefore     int64  `json:"rss_before_bytes"`
	RSSPeak       int64  `json:"rss_peak_bytes"`
	RSSMaxSampled int64  `json:"rss_max_sampled_bytes"`
	Increase      int64  `json:"rss_increase_bytes"`
	PeakIsExact   bool   `json:"peak_is_exact"` // VmHWM could be reset; else the sampled maximum is used
	Error         string `json:"error,omitempty"`
}

// patternReader yields n bytes of a repeating non-image pattern without holding
// them, and counts what was read.
type patternReader struct {
	left, read int64
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	n = min(n, r.left)
	for i := range p[:n] {
		p[i] = byte('a' + (r.read+int64(i))%26)
	}
	r.left -= n
	r.read += n
	return int(n), nil
}

// probeUpload streams a multipart body whose file part is size bytes of text
// (refused once read: not an image) and measures the server's RSS meanwhile.
func probeUpload(ctx context.Context, base string, pid int, size int64, chunked bool) UploadProbe {
	out := UploadProbe{Mode: "content-length"}
	if chunked {
		out.Mode = "chunked"
	}
	var head, tail bytes.Buffer
	mw := multipart.NewWriter(&head)
	_ = mw.WriteField("ops", "resize:w=800")
	if _, err := mw.CreateFormFile("file", "big.jpg"); err != nil {
		out.Error = err.Error()
		return out
	}
	// The closing boundary: what mw.Close would write after the file's bytes.
	fmt.Fprintf(&tail, "\r\n--%s--\r\n", mw.Boundary())
	file := &patternReader{left: size}
	body := io.MultiReader(bytes.NewReader(head.Bytes()), file, bytes.NewReader(tail.Bytes()))
	out.BodyBytes = int64(head.Len()) + size + int64(tail.Len())

	before, err := readMem(pid)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	out.RSSBefore = before.RSS
	out.PeakIsExact = resetPeak(pid) == nil
	smp := startSampler(pid, 10*time.Millisecond)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/jobs", body)
	if err != nil {
		_, _, _ = smp.stop()
		out.Error = err.Error()
		return out
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if chunked {
		req.ContentLength = -1
	} else {
		req.ContentLength = out.BodyBytes
	}
	start := time.Now()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		out.Status = resp.StatusCode
		var se *statusError
		if errors.As(apiStatus(resp.StatusCode, raw), &se) {
			out.Code = se.code
		}
	} else {
		out.Error = err.Error()
	}
	out.Seconds = time.Since(start).Seconds()
	out.Sent = file.read
	hwm, maxRSS, serr := smp.stop()
	if serr != nil && out.Error == "" {
		out.Error = serr.Error()
	}
	out.RSSPeak, out.RSSMaxSampled = hwm, maxRSS
	peak := hwm
	if !out.PeakIsExact {
		peak = maxRSS
	}
	out.Increase = peak - out.RSSBefore
	return out
}
