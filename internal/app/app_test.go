package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	_ "image/jpeg"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pixmill/pixmill/internal/app"
	"github.com/pixmill/pixmill/internal/config"
)

// addrWriter receives the JSON log and reports the address of the "listening" line.
type addrWriter struct {
	addr chan string
	mu   sync.Mutex
	buf  bytes.Buffer
}

func (w *addrWriter) Write(p []byte) (int, error) {
	var rec struct{ Msg, Addr string }
	if json.Unmarshal(p, &rec) == nil && rec.Msg == "listening" {
		w.addr <- rec.Addr
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// startApp runs a node in-process on a free port with the given settings.
func startApp(t *testing.T, env map[string]string) (base string, stop func()) {
	t.Helper()
	t.Chdir(t.TempDir()) // no configs/pixmill.yaml: defaults plus env
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := config.Load([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	w := &addrWriter{addr: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, slog.New(slog.NewJSONHandler(w, nil))) }()
	select {
	case a := <-w.addr:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("app stopped before listening: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("app did not start")
	}
	return base, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
		if t.Failed() {
			w.mu.Lock()
			t.Logf("log:\n%s", w.buf.String())
			w.mu.Unlock()
		}
	}
}

// TestLoad has 64 clients upload, poll and download at once against a small queue:
// every answer is 202, 200 or 503; every accepted job completes with a result that
// decodes; nothing leaks once the node has shut down.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	// fasthttp keeps one clock goroutine per process, and its worker pool's cleaner
	// notices a stopped server only at its next 10 s tick: both are the library's.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
	img, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", "jpeg-grayscale-128x128.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	base, stop := startApp(t, map[string]string{
		"PIXMILL_POOL_WORKERS":        "2",
		"PIXMILL_POOL_QUEUE_CAPACITY": "16",
	})
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	const clients, perClient = 64, 2
	var (
		mu                          sync.Mutex
		codes                       = map[int]int{}
		accepted, completed, failed int
		wg                          sync.WaitGroup
	)
	count := func(code int) { mu.Lock(); codes[code]++; mu.Unlock() }
	for c := range clients {
		wg.Go(func() {
			for i := range perClient {
				id, code, err := upload(client, base, img, fmt.Sprintf("c%d-%d.jpg", c, i))
				if err != nil {
					t.Error(err)
					return
				}
				count(code)
				if code != http.StatusAccepted {
					continue
				}
				mu.Lock()
				accepted++
				mu.Unlock()
				status, err := poll(client, base, id, count)
				if err != nil {
					t.Error(err)
					return
				}
				if status != "completed" {
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				code, err = download(client, base, id)
				if err != nil {
					t.Error(err)
					return
				}
				count(code)
				mu.Lock()
				completed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for code, n := range codes {
		if code != http.StatusOK && code != http.StatusAccepted && code != http.StatusServiceUnavailable {
			t.Errorf("%d answers with status %d; want only 200, 202 and 503", n, code)
		}
	}
	if accepted == 0 || completed != accepted || failed != 0 {
		t.Errorf("accepted %d, completed %d, failed %d", accepted, completed, failed)
	}
	t.Logf("codes %v; %d jobs accepted and completed; peak RSS of the test process %s", codes, accepted, peakRSS())
	stop()
}

func upload(c *http.Client, base string, img []byte, name string) (string, int, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("ops", "resize:w=64")
	w, _ := mw.CreateFormFile("file", name)
	w.Write(img)
	mw.Close()
	resp, err := c.Post(base+"/v1/jobs", mw.FormDataContentType(), &body)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	var j struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&j)
	return j.ID, resp.StatusCode, nil
}

func poll(c *http.Client, base, id string, count func(int)) (string, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := c.Get(base + "/v1/jobs/" + id)
		if err != nil {
			return "", err
		}
		var j struct{ Status string }
		json.NewDecoder(resp.Body).Decode(&j)
		resp.Body.Close()
		count(resp.StatusCode)
		if j.Status == "completed" || j.Status == "failed" {
			return j.Status, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "", fmt.Errorf("job %s did not finish", id)
}

func download(c *http.Client, base, id string) (int, error) {
	resp, err := c.Get(base + "/v1/jobs/" + id + "/result")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	img, _, err := image.Decode(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("result of %s: %w", id, err)
	}
	if img.Bounds().Dx() != 64 {
		return resp.StatusCode, fmt.Errorf("result of %s is %d wide", id, img.Bounds().Dx())
	}
	return resp.StatusCode, nil
}

// peakRSS reads the high-water mark of this process's resident memory.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return fmt.Sprintf("%d MB", kb/1024)
		}
	}
	return "unknown"
}
