package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// pixmillBin is the real pixmill, built once by TestMain.
var pixmillBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pixmill-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pixmillBin = filepath.Join(dir, "pixmill")
	// The binary is built with the tags `make build` uses (the Makefile passes them),
	// so these tests run what users run.
	tags := os.Getenv("PIXMILL_BUILD_TAGS")
	if tags == "" {
		tags = "nodynamic"
	}
	build := exec.Command("go", "build", "-race", "-tags", tags, "-o", pixmillBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pixmill:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// node is one running pixmill process.
type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startNode runs `pixmill serve` on a free loopback port with dataDir and env, and
// waits for its "listening" log line.
func startNode(t *testing.T, dataDir string, env ...string) *node {
	t.Helper()
	cmd := exec.Command(pixmillBin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Dir = t.TempDir() // no configs/pixmill.yaml: built-in defaults
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Bytes()
			n.logs.Write(append(line, '\n'))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		n.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-n.done
		}
		if t.Failed() {
			t.Logf("node logs:\n%s", n.logs.String())
		}
	})
	select {
	case a := <-addr:
		n.base = "http://" + a
	case err := <-n.done:
		t.Fatalf("pixmill exited before listening: %v\n%s", err, n.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("pixmill did not start:\n%s", n.logs.String())
	}
	return n
}

// stop sends SIGTERM and checks the process exits 0.
func (n *node) stop() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Fatalf("exit after SIGTERM: %v\n%s", err, n.logs.String())
		}
	case <-time.After(60 * time.Second):
		n.t.Fatal("no exit after SIGTERM")
	}
}

func readImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type jobJSON struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Outputs []struct {
		URL    string `json:"url"`
		Width  int    `json:"width"`
		Height int    `json:"height"`
	} `json:"outputs"`
	Error *struct{ Code, Message string } `json:"error"`
}

func (n *node) upload(t *testing.T, file []byte, name string, fields ...string) (int, jobJSON, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		mw.WriteField(fields[i], fields[i+1])
	}
	w, _ := mw.CreateFormFile("file", name)
	w.Write(file)
	mw.Close()
	resp, err := http.Post(n.base+"/v1/jobs", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var j jobJSON
	json.Unmarshal(raw, &j)
	return resp.StatusCode, j, string(raw)
}

func (n *node) get(t *testing.T, path string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := http.Get(n.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// waitDone polls a job until it is completed or failed.
func (n *node) waitDone(t *testing.T, id string) jobJSON {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, b, _ := n.get(t, "/v1/jobs/"+id)
		var j jobJSON
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatalf("job %s: %s", id, b)
		}
		if j.Status == "completed" || j.Status == "failed" {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("job %s did not finish", id)
	return jobJSON{}
}

// download fetches a completed job's result and decodes it.
func (n *node) download(t *testing.T, j jobJSON) image.Image {
	t.Helper()
	if j.Status != "completed" || len(j.Outputs) == 0 {
		t.Fatalf("job %s not completed: %+v", j.ID, j)
	}
	code, b, h := n.get(t, j.Outputs[0].URL)
	if code != http.StatusOK || h.Get("ETag") == "" {
		t.Fatalf("download %s: %d %s", j.ID, code, b)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("result of %s does not decode: %v", j.ID, err)
	}
	return img
}

func TestUploadPollDownloadRestart(t *testing.T) {
	data := t.TempDir()
	n := startNode(t, data, "PIXMILL_POOL_WORKERS=2")
	img := readImage(t, "exif-orientation-6.jpg") // stored 1200x1800, displays 1800x1200

	code, j, raw := n.upload(t, img, "photo.jpg", "ops", "resize:w=600", "format", "png")
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %s", code, raw)
	}
	j = n.waitDone(t, j.ID)
	out := n.download(t, j)
	if b := out.Bounds(); b.Dx() != 600 || b.Dy() != 400 {
		t.Errorf("result is %dx%d, want 600x400 (EXIF orientation applied)", b.Dx(), b.Dy())
	}

	code, _, raw = n.upload(t, []byte("hello, not an image"), "cat.jpg")
	if code != http.StatusUnsupportedMediaType {
		t.Errorf("text upload: %d %s", code, raw)
	}

	_, metrics, _ := n.get(t, "/metrics")
	for _, want := range []string{
		`pixmill_jobs_finished_total{status="completed"} 1`,
		`pixmill_http_requests_total{route="/v1/jobs",status="202"} 1`,
		`pixmill_http_requests_total{route="/v1/jobs",status="415"} 1`,
		`pixmill_http_requests_total{route="/v1/jobs/:id/result",status="200"} 1`,
		`pixmill_job_processing_seconds_count 1`,
		`pixmill_queue_depth 0`,
		`pixmill_workers 2`,
		`pixmill_upload_bytes_total ` + strconv.Itoa(len(img)),
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	n.stop()
	n = startNode(t, data)
	_, b, _ := n.get(t, "/v1/jobs/"+j.ID)
	var again jobJSON
	json.Unmarshal(b, &again)
	if again.Status != "completed" {
		t.Fatalf("after restart: %s", b)
	}
	n.download(t, again)
	n.stop()
}

func TestSIGTERMKeepsQueuedJobs(t *testing.T) {
	data := t.TempDir()
	n := startNode(t, data, "PIXMILL_POOL_WORKERS=1")
	img := readImage(t, "exif-orientation-1.jpg")
	var ids []string
	for range 6 {
		code, j, raw := n.upload(t, img, "p.jpg", "ops", "blur:sigma=4|resize:w=300")
		if code != http.StatusAccepted {
			t.Fatalf("upload: %d %s", code, raw)
		}
		ids = append(ids, j.ID)
	}
	n.stop() // one job may be running: it finishes; the rest stay queued

	n = startNode(t, data, "PIXMILL_POOL_WORKERS=2")
	for _, id := range ids {
		j := n.waitDone(t, id)
		if b := n.download(t, j).Bounds(); b.Dx() != 300 {
			t.Errorf("job %s: width %d", id, b.Dx())
		}
	}
	n.stop()
}

func TestBurstRespectsQueueCapacity(t *testing.T) {
	n := startNode(t, t.TempDir(), "PIXMILL_POOL_WORKERS=1", "PIXMILL_POOL_QUEUE_CAPACITY=4")
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	const clients = 24
	var (
		mu       sync.Mutex
		accepted []string
		codes    = map[int]int{}
		wg       sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			code, j, _ := n.upload(t, img, "g.jpg", "ops", "blur:sigma=2")
			mu.Lock()
			defer mu.Unlock()
			codes[code]++
			if code == http.StatusAccepted {
				accepted = append(accepted, j.ID)
			}
		})
	}
	wg.Wait()
	for code := range codes {
		if code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Errorf("burst answered %d (%d times): want only 202 or 503", code, codes[code])
		}
	}
	if len(accepted) == 0 || codes[http.StatusServiceUnavailable] == 0 {
		t.Errorf("codes %v: want both accepted and refused uploads", codes)
	}
	for _, id := range accepted {
		if j := n.waitDone(t, id); j.Status != "completed" {
			t.Errorf("accepted job %s ended %s", id, j.Status)
		}
	}
	n.stop()
}

func TestOversizedUploadOverRealHTTP(t *testing.T) {
	n := startNode(t, t.TempDir(), "PIXMILL_LIMITS_MAX_UPLOAD_BYTES=100000")
	img := readImage(t, "exif-orientation-1.jpg") // ~350 KB
	for _, chunked := range []bool{false, true} {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		w, _ := mw.CreateFormFile("file", "big.jpg")
		w.Write(img)
		mw.Close()
		var r io.Reader = &body
		if chunked {
			r = io.MultiReader(&body) // unknown length: sent chunked
		}
		req, _ := http.NewRequest(http.MethodPost, n.base+"/v1/jobs", r)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("chunked=%v: %v", chunked, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), `"too_large"`) {
			t.Errorf("chunked=%v: %d %s", chunked, resp.StatusCode, b)
		}
	}
	if code, _, _ := n.get(t, "/livez"); code != http.StatusOK {
		t.Errorf("livez after oversized uploads: %d", code)
	}
	n.stop()
}

func TestRunHelpAndBadFlags(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &out, io.Discard); err != nil || !strings.Contains(out.String(), "pixmill serve") {
		t.Errorf("help: %v %q", err, out.String())
	}
	if err := run(t.Context(), []string{"serve", "--workers", "x"}, io.Discard, io.Discard); err == nil {
		t.Error("bad flag accepted")
	}
	if err := run(t.Context(), []string{"frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Error("unknown command accepted")
	}
}
