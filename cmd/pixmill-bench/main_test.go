package main

import (
	"bytes"
	"image"
	"image/png"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/blob/local"
)

func seq(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(i + 1)
	}
	return out
}

func TestPercentile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sorted []float64
		p      float64
		want   float64
	}{
		{"one value", []float64{7}, 50, 7},
		{"one value p99", []float64{7}, 99, 7},
		{"1..100 p50", seq(100), 50, 50},
		{"1..100 p95", seq(100), 95, 95},
		{"1..100 p99", seq(100), 99, 99},
		{"1..100 p100", seq(100), 100, 100},
		{"1..10 p50", seq(10), 50, 5},
		{"1..10 p95 is the max", seq(10), 95, 10},
		{"1..10 p99 is the max", seq(10), 99, 10},
		{"1..4 p50", seq(4), 50, 2},
		{"tiny p is the min", seq(10), 0.1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
	if got := percentile(nil, 50); !math.IsNaN(got) {
		t.Errorf("percentile of nothing = %v, want NaN", got)
	}
}

func TestSummarize(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	want := Summary{N: 100, Mean: 50.5, P50: 50, P95: 95, P99: 99, Max: 100}
	if diff := cmp.Diff(want, summarize(ds)); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
	if got := summarize(nil); got != (Summary{}) {
		t.Errorf("summarize(nil) = %+v, want zero", got)
	}
	if got := perSecond(10, 2*time.Second); got != 5 {
		t.Errorf("perSecond = %v, want 5", got)
	}
	if got := perSecond(10, 0); got != 0 {
		t.Errorf("perSecond over no time = %v, want 0", got)
	}
}

const statusText = `Name:	pixmill
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 2153704 kB
VmSize:	 2153704 kB
VmHWM:	  612340 kB
VmRSS:	   23116 kB
RssAnon:	   12000 kB
Threads:	9
`

func TestParseStatus(t *testing.T) {
	m, err := parseStatus(strings.NewReader(statusText))
	if err != nil {
		t.Fatal(err)
	}
	want := memStatus{RSS: 23116 * 1024, HWM: 612340 * 1024}
	if m != want {
		t.Errorf("parseStatus = %+v, want %+v", m, want)
	}
	for name, text := range map[string]string{
		"no HWM":   "VmRSS:\t100 kB\n",
		"no RSS":   "VmHWM:\t100 kB\n",
		"empty":    "",
		"bad unit": "VmRSS:\t100 MB\nVmHWM:\t100 kB\n",
		"bad num":  "VmRSS:\tlots kB\nVmHWM:\t100 kB\n",
	} {
		if _, err := parseStatus(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parseStatus accepted %q", name, text)
		}
	}
}

func TestReadMemOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: not Linux")
	}
	m, err := readMem(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS <= 0 || m.HWM < m.RSS {
		t.Errorf("readMem = %+v: want 0 < RSS ≤ HWM", m)
	}
}

func TestCPUTicks(t *testing.T) {
	total, busy, err := machineTicks(strings.NewReader("cpu  100 5 50 800 20 3 2 10 0 0\ncpu0 1 2 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if total != 990 || busy != 170 {
		t.Errorf("machineTicks = %d, %d; want 990, 170", total, busy)
	}
	if _, _, err := machineTicks(strings.NewReader("intr 1 2 3\n")); err == nil {
		t.Error("machineTicks accepted a line that is not cpu")
	}

	// The command name may contain spaces and parentheses.
	stat := "4242 (pix mill) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 40 0 0 20 0 9 0 123 456 789"
	got, err := processTicks(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 290 {
		t.Errorf("processTicks = %d, want 290 (utime 250 + stime 40)", got)
	}
	if _, err := processTicks("4242 (short) S 1 2"); err == nil {
		t.Error("processTicks accepted a short line")
	}

	s := share(cpuSnapshot{total: 1000, busy: 300, own: 50, self: 10}, cpuSnapshot{total: 2000, busy: 1100, own: 650, self: 110})
	if want := (CPUShare{Measured: 0.6, Other: 0.2, ServiceSec: 5, ClientSec: 1}); math.Abs(s.Measured-want.Measured) > 1e-9 ||
		math.Abs(s.Other-want.Other) > 1e-9 || math.Abs(s.ServiceSec-want.ServiceSec) > 1e-9 || math.Abs(s.ClientSec-want.ClientSec) > 1e-9 {
		t.Errorf("share = %+v, want %+v", s, want)
	}
}

func TestErrorsKeepEveryKind(t *testing.T) {
	var e Errors
	e.add("upload: HTTP 503 queue_full", "first")
	e.add("upload: HTTP 503 queue_full", "second")
	e.add("job failed: corrupt_image", "bad")
	if e.Total() != 3 || e.Count["upload: HTTP 503 queue_full"] != 2 || e.Example["upload: HTTP 503 queue_full"] != "first" {
		t.Errorf("errors = %+v", e)
	}
}

func sampleReport() *Report {
	e2e := &E2E{
		Jobs: 40, Completed: 39, JobsPerSec: 3.456,
		Latency:   Summary{N: 39, P50: 560, P95: 612.4, P99: 640},
		QueueWait: Summary{N: 39, P50: 1, P95: 12.5, P99: 20},
		BytesIn:   40 << 20, BytesOut: 3 << 20, RSSBefore: 22 << 20, RSSPeak: 310 << 20,
		CPU: CPUShare{Measured: 0.9, Other: 0.12, ServiceSec: 4.2, ClientSec: 0.21},
	}
	e2e.Errors.add("job failed: corrupt_image", "job 1 failed: corrupt_image: bad")
	return &Report{
		Started: time.Date(2026, 11, 27, 20, 0, 0, 0, time.UTC),
		Seconds: 95,
		Machine: Machine{CPUs: 2, CPUModel: "Test CPU", MemTotal: 24 << 30, GoVersion: "go1.26.8", OSArch: "linux/amd64"},
		Setup:   Setup{Server: "bin/pixmill", Workers: 2, Concurrency: 2, Warmup: 2, Poll: "10ms"},
		Runs: []Run{{
			Name: "W1", Title: "12 MP JPEG → resize w=800, JPEG q80", Jobs: 40, E2E: e2e,
			Raw: &Raw{Jobs: 40, Completed: 40, JobsPerSec: 3.8, Run: Summary{N: 40, P50: 520, P95: 530, P99: 540}, RSSPeak: 280 << 20,
				CPU: CPUShare{ServiceSec: 4.0}},
			Ratio:   3.456 / 3.8,
			Floor:   &Floor{Jobs: 40, CPUPerJob: 12.34, BestRatio: 0.89},
			Sources: []Source{{Path: "/tmp/x.png", Note: "generated at start"}},
		}},
		Enqueue: &EnqueueProbe{Jobs: 50, QueueWait: Summary{N: 50, P50: 1, P95: 2, Max: 3}, Latency: Summary{N: 50, P50: 15}},
		Uploads: []UploadProbe{{Mode: "chunked", BodyBytes: 200 << 20, Status: 415, Code: "unsupported_media_type",
			Sent: 200 << 20, Seconds: 1.25, RSSBefore: 20 << 20, RSSPeak: 31 << 20, Increase: 11 << 20, PeakIsExact: true}},
	}
}

func TestReportText(t *testing.T) {
	rep := sampleReport()
	var out bytes.Buffer
	if err := rep.WriteText(&out, false); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"2 CPUs (Test CPU), 24.0 GiB RAM, go1.26.8",
		"W1   12 MP JPEG → resize w=800, JPEG q80  40    3.46        3.80        0.91     1       12% / 0%",
		"560 / 612 / 640",
		"1.00 / 12.5 / 20.0",
		"310.0",
		"warning: W1: other processes used end to end 12%",
		"W1 e2e: 1 × job failed: corrupt_image (first: job 1 failed: corrupt_image: bad)",
		"W1 source: generated at start",
		"p50 1.00 ms, p95 2.00 ms, max 3.00 ms",
		"200.0 MiB upload (chunked): HTTP 415 unsupported_media_type after 1.2 s, 200.0 MiB sent; server RSS 20.0 → 31.0 MiB (VmHWM), increase 11.0 MiB",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if rep.ErrorCount() != 1 {
		t.Errorf("ErrorCount = %d, want 1", rep.ErrorCount())
	}

	out.Reset()
	if err := rep.WriteText(&out, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| W1 | 12 MP JPEG → resize w=800, JPEG q80 | 40 | 3.46 | 3.80 | 0.91 | 1 | 12% / 0% |") {
		t.Errorf("markdown report lacks the W1 row:\n%s", out.String())
	}
	// CPU per job over 42 jobs (warm-up included): server 100.0, clients 5.0, in
	// process 95.2; then the floor and the ratio it leaves.
	if !strings.Contains(out.String(), "| W1 | 100.0 | 5.0 | 95.2 | 4.8 | 9.8 | 12.3 | 0.89 |") {
		t.Errorf("markdown report lacks the W1 CPU row:\n%s", out.String())
	}

	rep.Runs[0].E2E.Errors = Errors{}
	out.Reset()
	if err := rep.WriteText(&out, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Errors\n  none\n") {
		t.Errorf("a report without errors does not say so:\n%s", out.String())
	}
}

func TestReportJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.json")
	if err := sampleReport().WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"jobs_per_sec": 3.456`, `"rss_peak_bytes": 325058560`, `"job failed: corrupt_image": 1`, `"p99_ms": 640`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
}

func TestFmt(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{fmtMS(1234.5), "1234"}, {fmtMS(12.34), "12.3"}, {fmtMS(1.234), "1.23"}, {fmtMS(math.NaN()), "-"},
		{fmtPcts(Summary{}), "-"}, {fmtMiB(0), "-"}, {fmtMiB(3 << 20), "3.0"},
		{fmtRate(0), "-"}, {fmtRate(123.4), "123"}, {fmtRate(3.456), "3.46"}, {fmtPct(0.123), "12%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.all || !o.probes || o.conc != 2 || o.workers != 2 || o.warmup != 2 || len(o.workloads) != 5 {
		t.Errorf("defaults: %+v", o)
	}
	o, err = parseFlags([]string{"--workload", "W1,w3", "-c", "4", "--warmup", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.all || o.probes || o.workers != 4 || o.warmup != 0 || !cmp.Equal(o.workloads, []string{"W1", "w3"}) {
		t.Errorf("workloads: %+v", o)
	}
	if o, err = parseFlags([]string{"--all", "--probes=false"}, io.Discard); err != nil || o.probes {
		t.Errorf("--probes=false with --all: %+v %v", o, err)
	}
	for _, args := range [][]string{
		{"--image", "x.jpg"},                        // no ops
		{"--ops", "resize:w=1", "--workload", "W1"}, // both
		{"--workload", "W1", "--format", "png"},     // format outside a custom run
		{"-c", "0"},
		{"extra"},
		{"--poll", "0s"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	if _, err := findWorkloads([]string{"W6"}); err == nil {
		t.Error("findWorkloads accepted W6")
	}
}

func TestNewPayload(t *testing.T) {
	p, err := newPayload("a.jpg", []byte("pixels"), request{Ops: "resize:w=800", Format: "jpeg", Quality: 80})
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(p.contentType)
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(bytes.NewReader(p.body), params["boundary"])
	got := map[string]string{}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		got[part.FormName()] = string(b)
	}
	want := map[string]string{"ops": "resize:w=800", "format": "jpeg", "quality": "80", "file": "pixels"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

func TestBuildSpecMatchesWorkloads(t *testing.T) {
	for _, w := range workloads {
		if _, err := buildSpec(w.req); err != nil {
			t.Errorf("%s: %v", w.name, err)
		}
	}
	if _, err := buildSpec(request{Ops: "frobnicate"}); err == nil {
		t.Error("buildSpec accepted an unknown op")
	}
}

func TestPatternReader(t *testing.T) {
	r := &patternReader{left: 100_000}
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != 100_000 || r.read != 100_000 {
		t.Errorf("read %d (%d counted), %v; want 100000", n, r.read, err)
	}
}

func TestMakePNGIsDeterministic(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "images", "jpeg-grayscale-128x128.jpg")
	var outs [][]byte
	for range 2 {
		path, err := makePNG(src, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("two PNGs made from the same JPEG differ")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(outs[0]))
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.DecodeConfig(bytes.NewReader(outs[0]))
	if err != nil || img.Width != cfg.Width || cfg.Width == 0 {
		t.Errorf("PNG config %+v, %+v, %v", cfg, img, err)
	}
}

// TestFloor: the floor stores every upload and its result, serves the result back
// and counts CPU time; the handler refuses what is not an upload.
func TestFloor(t *testing.T) {
	p, err := newPayload("a.jpg", bytes.Repeat([]byte("pixels"), 10_000), request{Ops: "resize:w=800"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := measureFloor(t.Context(), p, 5_000, 6, 2)
	if err != nil {
		t.Fatal(err)
	}
	if f.Jobs != 6 || f.CPUPerJob <= 0 || f.Error != "" {
		t.Errorf("floor = %+v", f)
	}

	store, err := local.New(local.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(floorHandler(store, []byte("result")))
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/up", p.contentType, bytes.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, id)
	}
	src, err := store.Open(t.Context(), "sources/"+string(id))
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(src)
	src.Close()
	if !bytes.Equal(stored, bytes.Repeat([]byte("pixels"), 10_000)) {
		t.Errorf("stored upload is %d bytes, not the file part", len(stored))
	}
	for _, c := range []struct {
		method, path, ctype, body string
		want                      int
	}{
		{http.MethodGet, "/down/" + string(id), "", "", http.StatusOK},
		{http.MethodGet, "/down/999", "", "", http.StatusNotFound},
		{http.MethodPost, "/up", "text/plain", "x", http.StatusBadRequest},
		{http.MethodPost, "/up", p.contentType, "", http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, strings.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.want)
		}
		if c.want == http.StatusOK && string(body) != "result" {
			t.Errorf("%s %s: body %q", c.method, c.path, body)
		}
	}
}
