package httpapi_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/blob/local"
	"github.com/pixmill/pixmill/internal/httpapi"
	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/processing"
	"github.com/pixmill/pixmill/internal/store/sqlstore"
	"github.com/pixmill/pixmill/internal/watch"
)

type env struct {
	srv     *httpapi.Server
	store   job.Store
	blobDir string
	rings   int
}

type fakeWorkers struct{}

func (fakeWorkers) Workers() int { return 4 }
func (fakeWorkers) Busy() int    { return 1 }

func newEnv(t *testing.T, mutate func(*httpapi.Config)) *env {
	t.Helper()
	return newEnvDeps(t, mutate, nil)
}

func newEnvDeps(t *testing.T, mutate func(*httpapi.Config), mutateDeps func(*httpapi.Deps)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlstore.OpenSQLite(t.Context(), sqlstore.Config{Path: filepath.Join(dir, "jobs.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	files, err := local.New(local.Config{Dir: filepath.Join(dir, "files")})
	if err != nil {
		t.Fatal(err)
	}
	proc, err := processing.New(processing.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cfg := httpapi.Config{
		MaxUploadBytes: 4 << 20,
		QueueCapacity:  100,
		Limits:         job.Limits{MaxOps: 10, MaxVariants: 5, MaxDimension: 10000, MaxOutputPixels: 50_000_000},
		ServeAPI:       true,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e := &env{store: st, blobDir: filepath.Join(dir, "files")}
	deps := httpapi.Deps{
		Store: st,
		Blob:  files,
		Probe: func(r io.Reader) (job.Format, int, int, error) {
			i, err := proc.Probe(r)
			return i.Format, i.Width, i.Height, err
		},
		CanEncode: processing.CanEncode,
		Notify:    func() { e.rings++ },
		Workers:   fakeWorkers{},
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutateDeps != nil {
		mutateDeps(&deps)
	}
	e.srv, err = httpapi.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := e.srv.Test(req, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func readImage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// upload builds a multipart POST /v1/jobs; a nil file leaves the file part out.
func upload(t *testing.T, filename string, file []byte, fields ...string) *http.Request {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for i := 0; i+1 < len(fields); i += 2 {
		if err := mw.WriteField(fields[i], fields[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if file != nil {
		w, err := mw.CreateFormFile("file", filename)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, "/v1/jobs", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return req
}

type jobResp struct {
	ID       string   `json:"id"`
	Status   string   `json:"status"`
	Priority string   `json:"priority"`
	Attempts int      `json:"attempts"`
	Ops      []job.Op `json:"ops"`
	Format   string   `json:"format"`
	Source   struct {
		Filename    string `json:"filename"`
		ContentType string `json:"content_type"`
		Bytes       int64  `json:"bytes"`
		Width       int    `json:"width"`
		Height      int    `json:"height"`
	} `json:"source"`
	Outputs []struct {
		Variant     string `json:"variant"`
		ContentType string `json:"content_type"`
		URL         string `json:"url"`
	} `json:"outputs"`
	Error *struct{ Code, Message string } `json:"error"`
}

type errResp struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestUploadAccepted(t *testing.T) {
	e := newEnv(t, nil)
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	resp, body := e.do(t, upload(t, "photo.jpg", img, "ops", "resize:w=64", "priority", "high"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	j := decode[jobResp](t, body)
	if loc := resp.Header.Get("Location"); loc != "/v1/jobs/"+j.ID {
		t.Errorf("Location %q for job %s", loc, j.ID)
	}
	if j.Status != "queued" || j.Priority != "high" || j.Attempts != 0 {
		t.Errorf("job %+v", j)
	}
	if j.Source.Filename != "photo.jpg" || j.Source.ContentType != "image/jpeg" ||
		j.Source.Bytes != int64(len(img)) || j.Source.Width != 128 || j.Source.Height != 128 {
		t.Errorf("source %+v", j.Source)
	}
	if diff := cmp.Diff([]job.Op{{Name: "resize", Width: 64}}, j.Ops); diff != "" {
		t.Errorf("ops (-want +got):\n%s", diff)
	}
	if e.rings != 1 {
		t.Errorf("doorbell rang %d times", e.rings)
	}
	stored, err := e.store.Get(t.Context(), j.ID)
	if err != nil || stored.Status != job.StatusQueued {
		t.Fatalf("stored job %+v, %v", stored, err)
	}
	src, err := os.ReadFile(filepath.Join(e.blobDir, "sources", j.ID))
	if err != nil || !bytes.Equal(src, img) {
		t.Errorf("stored source differs from upload (err %v)", err)
	}

	resp, body = e.do(t, httptestGet("/v1/jobs/"+j.ID))
	if resp.StatusCode != http.StatusOK || decode[jobResp](t, body).ID != j.ID {
		t.Errorf("GET job: %d %s", resp.StatusCode, body)
	}
}

func httptestGet(path string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, path, nil)
	return req
}

func TestCompactAndJSONOpsAgree(t *testing.T) {
	e := newEnv(t, nil)
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	_, a := e.do(t, upload(t, "a.jpg", img, "ops", "resize:w=100,h=50|blur:sigma=1.5|flip:direction=h"))
	_, b := e.do(t, upload(t, "a.jpg", img, "ops",
		`[{"op":"resize","width":100,"height":50},{"op":"blur","sigma":1.5},{"op":"flip","direction":"h"}]`))
	if diff := cmp.Diff(decode[jobResp](t, a).Ops, decode[jobResp](t, b).Ops); diff != "" {
		t.Errorf("compact and JSON ops differ:\n%s", diff)
	}
}

// bombPNG is a valid PNG signature and IHDR claiming w×h, with no pixel data.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

func TestBadUploads(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.MaxUploadBytes = 200_000 })
	jpeg := readImage(t, "jpeg-grayscale-128x128.jpg")
	big := readImage(t, "exif-orientation-1.jpg") // ~350 KB, over the 200 KB limit
	notMultipart, _ := http.NewRequest(http.MethodPost, "/v1/jobs", strings.NewReader(`{"file":"x"}`))
	notMultipart.Header.Set("Content-Type", "application/json")

	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"text named .jpg", upload(t, "cat.jpg", []byte("this is not an image\n")), 415, "unsupported_media_type"},
		{"script named .png", upload(t, "x.png", []byte("#!/bin/sh\nrm -rf /\n")), 415, "unsupported_media_type"},
		{"empty file", upload(t, "empty.jpg", []byte{}), 400, "invalid_request"},
		{"png bomb header", upload(t, "bomb.png", bombPNG(65536, 65536)), 422, "image_too_large"},
		{"over the byte limit", upload(t, "big.jpg", big), 413, "too_large"},
		{"unknown op", upload(t, "a.jpg", jpeg, "ops", "explode:w=3"), 400, "invalid_request"},
		{"negative width", upload(t, "a.jpg", jpeg, "ops", "resize:w=-5"), 400, "invalid_request"},
		{"bad ops JSON", upload(t, "a.jpg", jpeg, "ops", `[{"op":"resize","wdth":5}]`), 400, "invalid_request"},
		{"bad format", upload(t, "a.jpg", jpeg, "format", "heic"), 400, "invalid_request"},
		{"bad quality", upload(t, "a.jpg", jpeg, "quality", "101"), 400, "invalid_request"},
		{"bad priority", upload(t, "a.jpg", jpeg, "priority", "urgent"), 400, "invalid_request"},
		{"unknown field", upload(t, "a.jpg", jpeg, "opz", "resize:w=1"), 400, "invalid_request"},
		{"no file part", upload(t, "", nil, "ops", "resize:w=10"), 400, "invalid_request"},
		{"not multipart", notMultipart, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := e.do(t, tc.req)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if got := decode[errResp](t, body).Error; got.Code != tc.code || got.Message == "" {
				t.Errorf("error %+v, want code %s", got, tc.code)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	// Nothing refused is kept, and the service still serves.
	if n := countFiles(t, e.blobDir); n != 0 {
		t.Errorf("%d files left after refused uploads", n)
	}
	if st, _ := e.store.Stats(t.Context()); st.Queued != 0 {
		t.Errorf("%d jobs queued after refused uploads", st.Queued)
	}
	if resp, body := e.do(t, upload(t, "ok.jpg", jpeg)); resp.StatusCode != http.StatusAccepted {
		t.Errorf("valid upload after bad ones: %d %s", resp.StatusCode, body)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

func TestQueueFull(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.QueueCapacity = 2 })
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	for range 2 {
		if resp, body := e.do(t, upload(t, "a.jpg", img)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	}
	resp, body := e.do(t, upload(t, "a.jpg", img))
	if resp.StatusCode != http.StatusServiceUnavailable || decode[errResp](t, body).Error.Code != "queue_full" {
		t.Fatalf("third upload: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if n := countFiles(t, filepath.Join(e.blobDir, "sources")); n != 2 {
		t.Errorf("%d sources stored, want 2", n)
	}
}

func TestNotFound(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{
		"/v1/jobs/6f1d3c1e-8d1b-4a44-9a64-2f1f4f7d2a10",
		"/v1/jobs/not-a-uuid",
		"/v1/jobs/6f1d3c1e-8d1b-4a44-9a64-2f1f4f7d2a10/result",
		"/nowhere",
	} {
		resp, body := e.do(t, httptestGet(path))
		if resp.StatusCode != http.StatusNotFound || decode[errResp](t, body).Error.Code != "not_found" {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

// complete runs the job through the store as a worker would, storing data as its
// default output.
func (e *env) complete(t *testing.T, id string, data []byte) {
	t.Helper()
	j, err := e.store.Claim(t.Context(), time.Minute)
	if err != nil || j == nil || j.ID != id {
		t.Fatalf("claim: %v %v", j, err)
	}
	p := filepath.Join(e.blobDir, "results", id, job.DefaultVariant)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := job.Output{Variant: job.DefaultVariant, Format: job.FormatJPEG, Bytes: int64(len(data)), Width: 64, Height: 64, ETag: "abc123"}
	if err := e.store.Complete(t.Context(), id, j.LeaseToken, []job.Output{out}); err != nil {
		t.Fatal(err)
	}
}

func TestResultDownload(t *testing.T) {
	e := newEnv(t, nil)
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	_, body := e.do(t, upload(t, "My Photo.jpg", img, "ops", "resize:w=64"))
	id := decode[jobResp](t, body).ID

	resp, body := e.do(t, httptestGet("/v1/jobs/"+id+"/result"))
	if resp.StatusCode != http.StatusConflict || decode[errResp](t, body).Error.Code != "not_ready" {
		t.Fatalf("before completion: %d %s", resp.StatusCode, body)
	}

	data := []byte("0123456789abcdefghij")
	e.complete(t, id, data)

	_, body = e.do(t, httptestGet("/v1/jobs/"+id))
	j := decode[jobResp](t, body)
	if j.Status != "completed" || len(j.Outputs) != 1 || j.Outputs[0].URL != "/v1/jobs/"+id+"/result" {
		t.Fatalf("completed job: %s", body)
	}

	resp, body = e.do(t, httptestGet("/v1/jobs/"+id+"/result"))
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("download: %d %q", resp.StatusCode, body)
	}
	for k, want := range map[string]string{
		"Content-Type":        "image/jpeg",
		"ETag":                `"abc123"`,
		"Content-Disposition": `inline; filename="My_Photo_64w.jpg"`,
		"Accept-Ranges":       "bytes",
	} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	req := httptestGet("/v1/jobs/" + id + "/result")
	req.Header.Set("If-None-Match", `"abc123"`)
	if resp, _ := e.do(t, req); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d", resp.StatusCode)
	}

	for _, tc := range []struct {
		rng, want, contentRange string
		status                  int
	}{
		{"bytes=0-3", "0123", "bytes 0-3/20", 206},
		{"bytes=15-", "fghij", "bytes 15-19/20", 206},
		{"bytes=-3", "hij", "bytes 17-19/20", 206},
		{"bytes=10-100", "abcdefghij", "bytes 10-19/20", 206},
		{"bytes=0-1,4-5", string(data), "", 200},
		{"bytes=20-", "", "bytes */20", 416},
	} {
		req := httptestGet("/v1/jobs/" + id + "/result")
		req.Header.Set("Range", tc.rng)
		resp, body := e.do(t, req)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange {
			t.Errorf("%s: %d %q %q", tc.rng, resp.StatusCode, resp.Header.Get("Content-Range"), body)
			continue
		}
		if tc.status != 416 && string(body) != tc.want {
			t.Errorf("%s: body %q, want %q", tc.rng, body, tc.want)
		}
	}

	if resp, body := e.do(t, httptestGet("/v1/jobs/"+id+"/result/nope")); resp.StatusCode != 404 {
		t.Errorf("unknown variant: %d %s", resp.StatusCode, body)
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t, nil)
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	var ids []string
	for range 7 {
		_, body := e.do(t, upload(t, "a.jpg", img))
		ids = append(ids, decode[jobResp](t, body).ID)
	}
	e.complete(t, ids[0], []byte("x")) // oldest first out of the queue

	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		resp, body := e.do(t, httptestGet("/v1/jobs?limit=3&cursor="+cursor))
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		page := decode[struct {
			Jobs       []jobResp `json:"jobs"`
			NextCursor string    `json:"next_cursor"`
		}](t, body)
		for _, j := range page.Jobs {
			got = append(got, j.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	want := make([]string, len(ids))
	for i, id := range ids {
		want[len(ids)-1-i] = id
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("newest first, each once (-want +got):\n%s", diff)
	}

	_, body := e.do(t, httptestGet("/v1/jobs?status=completed"))
	if !strings.Contains(string(body), ids[0]) || strings.Contains(string(body), ids[1]) {
		t.Errorf("status filter: %s", body)
	}
	for _, q := range []string{"limit=0", "limit=x", "limit=100000", "status=done", "cursor=%%%"} {
		if resp, body := e.do(t, httptestGet("/v1/jobs?"+q)); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, nil)
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	var ids []string
	for range 3 {
		_, body := e.do(t, upload(t, "a.jpg", img))
		ids = append(ids, decode[jobResp](t, body).ID)
	}
	del := func(id string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodDelete, "/v1/jobs/"+id, nil)
		return e.do(t, req)
	}
	e.complete(t, ids[0], []byte("result"))
	if _, err := e.store.Claim(t.Context(), time.Minute); err != nil { // ids[1] is processing
		t.Fatal(err)
	}

	if resp, body := del(ids[0]); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete completed: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, httptestGet("/v1/jobs/"+ids[0])); resp.StatusCode != 404 {
		t.Errorf("deleted job still there: %d", resp.StatusCode)
	}
	for _, p := range []string{filepath.Join("sources", ids[0]), filepath.Join("results", ids[0])} {
		if _, err := os.Stat(filepath.Join(e.blobDir, p)); !os.IsNotExist(err) {
			t.Errorf("%s still stored (%v)", p, err)
		}
	}
	if resp, body := del(ids[1]); resp.StatusCode != http.StatusConflict {
		t.Errorf("delete processing: %d %s", resp.StatusCode, body)
	}
	if resp, body := del(ids[2]); resp.StatusCode != http.StatusNoContent {
		t.Errorf("cancel queued: %d %s", resp.StatusCode, body)
	}
	if j, _ := e.store.Get(t.Context(), ids[2]); j.Status != job.StatusCanceled {
		t.Errorf("canceled job is %s", j.Status)
	}
	if resp, body := del(ids[2]); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete canceled: %d %s", resp.StatusCode, body)
	}
}

func TestQueueAndHealth(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.QueueCapacity = 7 })
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	for range 2 {
		e.do(t, upload(t, "a.jpg", img))
	}
	_, body := e.do(t, httptestGet("/v1/queue"))
	var q map[string]any
	json.Unmarshal(body, &q)
	want := `{"busy":1,"capacity":7,"processing":0,"queued":2,"totals":{"canceled":0,"completed":0,"failed":0},"workers":4}`
	if got, _ := json.Marshal(q); string(got) != want {
		t.Errorf("queue %s, want %s", got, want)
	}
	for _, p := range []string{"/livez", "/readyz"} {
		if resp, body := e.do(t, httptestGet(p)); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}

	e.srv.Drain()
	if resp, _ := e.do(t, httptestGet("/readyz")); resp.StatusCode != 503 {
		t.Errorf("readyz while draining: %d", resp.StatusCode)
	}
	resp, body := e.do(t, upload(t, "a.jpg", img))
	if resp.StatusCode != 503 || decode[errResp](t, body).Error.Code != "unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("upload while draining: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, httptestGet("/livez")); resp.StatusCode != 200 {
		t.Errorf("livez while draining: %d", resp.StatusCode)
	}
}

func TestVariantsField(t *testing.T) {
	e := newEnv(t, nil)
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	resp, body := e.do(t, upload(t, "a.jpg", img, "variants",
		`{"thumb":{"ops":"fill:w=32,h=32","format":"png"},"big":{"ops":[{"op":"resize","width":100}],"quality":90}}`))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	j, _ := e.store.Get(t.Context(), decode[jobResp](t, body).ID)
	want := job.Spec{Variants: []job.Variant{
		{Name: "big", Ops: []job.Op{{Name: "resize", Width: 100}}, Quality: 90},
		{Name: "thumb", Ops: []job.Op{{Name: "fill", Width: 32, Height: 32}}, Format: job.FormatPNG},
	}}
	if diff := cmp.Diff(want, j.Spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	resp, body = e.do(t, upload(t, "a.jpg", img, "variants", `{"x":{"ops":"resize:w=1"}}`, "ops", "blur:sigma=1"))
	if resp.StatusCode != 400 {
		t.Errorf("variants with ops: %d %s", resp.StatusCode, body)
	}
}

func TestWorkerRoleServesHealthOnly(t *testing.T) {
	e := newEnv(t, func(c *httpapi.Config) { c.ServeAPI = false })
	if resp, _ := e.do(t, httptestGet("/livez")); resp.StatusCode != 200 {
		t.Errorf("livez: %d", resp.StatusCode)
	}
	if resp, _ := e.do(t, httptestGet("/v1/queue")); resp.StatusCode != 404 {
		t.Errorf("queue on a worker node: %d", resp.StatusCode)
	}
}

func TestReadyzFailsWhenStoreIsDown(t *testing.T) {
	e := newEnv(t, nil)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, body := e.do(t, httptestGet("/readyz"))
	if resp.StatusCode != http.StatusServiceUnavailable || decode[errResp](t, body).Error.Code != "unavailable" {
		t.Errorf("readyz with the store closed: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.do(t, httptestGet("/livez")); resp.StatusCode != http.StatusOK {
		t.Errorf("livez: %d", resp.StatusCode)
	}
}

func TestReadyzFailsWhenStorageIsGone(t *testing.T) {
	e := newEnv(t, nil)
	if err := os.RemoveAll(e.blobDir); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.do(t, httptestGet("/readyz")); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz with the file storage gone: %d %s", resp.StatusCode, body)
	}
}

func TestPresignedDownloadRedirects(t *testing.T) {
	var gotKey, gotType, gotDisposition string
	e := newEnvDeps(t, nil, func(d *httpapi.Deps) {
		d.Presign = func(_ context.Context, key, contentType, disposition string) (string, error) {
			gotKey, gotType, gotDisposition = key, contentType, disposition
			return "https://bucket.example/" + key + "?sig=1", nil
		}
	})
	_, body := e.do(t, upload(t, "cat.jpg", readImage(t, "jpeg-grayscale-128x128.jpg"), "ops", "resize:w=64"))
	id := decode[jobResp](t, body).ID
	e.complete(t, id, []byte("jpeg bytes"))
	resp, _ := e.do(t, httptestGet("/v1/jobs/"+id+"/result"))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "https://bucket.example/results/"+id+"/default?sig=1" {
		t.Fatalf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if gotKey != "results/"+id+"/default" || gotType != "image/jpeg" || gotDisposition != `inline; filename="cat_64w.jpg"` {
		t.Errorf("presigned %q %q %q", gotKey, gotType, gotDisposition)
	}
}

func TestPresets(t *testing.T) {
	thumb := job.Variant{Name: job.DefaultVariant, Ops: []job.Op{{Name: "thumbnail", Width: 200, Height: 200}}, Format: job.FormatJPEG, Quality: 80}
	e := newEnv(t, func(c *httpapi.Config) { c.Presets = map[string]job.Variant{"thumbnail": thumb} })
	img := readImage(t, "jpeg-grayscale-128x128.jpg")

	resp, body := e.do(t, upload(t, "a.jpg", img, "preset", "thumbnail"))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	j, _ := e.store.Get(t.Context(), decode[jobResp](t, body).ID)
	if diff := cmp.Diff(job.Spec{Variants: []job.Variant{thumb}}, j.Spec); diff != "" {
		t.Errorf("preset spec (-want +got):\n%s", diff)
	}

	_, body = e.do(t, upload(t, "a.jpg", img, "preset", "thumbnail", "format", "png", "quality", "60"))
	j, _ = e.store.Get(t.Context(), decode[jobResp](t, body).ID)
	if v := j.Spec.Variants[0]; v.Format != job.FormatPNG || v.Quality != 60 || len(v.Ops) != 1 {
		t.Errorf("overridden preset %+v", v)
	}

	for _, fields := range [][]string{
		{"preset", "huge"},
		{"preset", "thumbnail", "ops", "blur:sigma=1"},
		{"preset", "thumbnail", "variants", `{"a":{"ops":"blur:sigma=1"}}`},
	} {
		if resp, body := e.do(t, upload(t, "a.jpg", img, fields...)); resp.StatusCode != 400 {
			t.Errorf("%v: %d %s", fields, resp.StatusCode, body)
		}
	}
}

func TestWatermarkNamesAndLossless(t *testing.T) {
	e := newEnvDeps(t, nil, func(d *httpapi.Deps) {
		d.HasWatermark = func(name string) bool { return name == "logo" }
	})
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	for _, tc := range []struct {
		fields []string
		status int
	}{
		{[]string{"ops", "watermark:image=logo,opacity=0.5"}, 202},
		{[]string{"ops", "watermark:image=nope"}, 400},
		{[]string{"variants", `{"a":{"ops":[{"op":"watermark","image":"nope"}]}}`}, 400},
		{[]string{"format", "webp", "lossless", "true"}, 202},
		{[]string{"variants", `{"a":{"format":"webp","lossless":true}}`}, 202},
		{[]string{"format", "webp", "lossless", "maybe"}, 400},
		{[]string{"format", "jpeg", "lossless", "true"}, 400},
	} {
		resp, body := e.do(t, upload(t, "a.jpg", img, tc.fields...))
		if resp.StatusCode != tc.status {
			t.Errorf("%v: %d %s", tc.fields, resp.StatusCode, body)
		}
	}
}

// TestWaitForEnd: GET /v1/jobs/{id}?wait= answers when the job ends — woken by the
// node's watch hub, or finding it at a re-read when another node ended it — when
// the wait is over, or when the node starts draining; bad waits are refused.
func TestWaitForEnd(t *testing.T) {
	hub := watch.NewHub()
	var watched job.Store
	e := newEnvDeps(t, nil, func(d *httpapi.Deps) {
		watched = watch.Wrap(d.Store, hub)
		d.Store, d.Watch = watched, hub.Wait
	})
	plain := e.store
	e.store = watched
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	newJob := func() string {
		_, body := e.do(t, upload(t, "a.jpg", img, "ops", "resize:w=64"))
		return decode[jobResp](t, body).ID
	}

	bad := newJob()
	for _, w := range []string{"abc", "-1s", "61s", "1m1s", "-3", "NaN", "Inf", "1e300"} {
		resp, body := e.do(t, httptestGet("/v1/jobs/"+bad+"?wait="+w))
		if resp.StatusCode != http.StatusBadRequest || decode[errResp](t, body).Error.Code != "invalid_request" {
			t.Errorf("wait=%s: %d %s", w, resp.StatusCode, body)
		}
	}
	if _, err := plain.Cancel(t.Context(), bad); err != nil { // out of the queue
		t.Fatal(err)
	}

	t.Run("woken by the hub", func(t *testing.T) {
		id := newJob()
		go func() {
			for hub.Waiting() == 0 {
				time.Sleep(time.Millisecond)
			}
			e.complete(t, id, []byte("result"))
		}()
		start := time.Now()
		resp, body := e.do(t, httptestGet("/v1/jobs/"+id+"?wait=8s"))
		if j := decode[jobResp](t, body); resp.StatusCode != http.StatusOK || j.Status != "completed" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		// Woken, not found by the re-read 500 ms later (that case takes 0.5 s below).
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Errorf("answered after %v", d)
		}
		if n := hub.Waiting(); n != 0 {
			t.Errorf("%d jobs still have waiters", n)
		}
	})

	t.Run("ended by another node: found by a re-read", func(t *testing.T) {
		id := newJob()
		go func() {
			for hub.Waiting() == 0 {
				time.Sleep(time.Millisecond)
			}
			if _, err := plain.Cancel(context.Background(), id); err != nil {
				t.Error(err)
			}
		}()
		resp, body := e.do(t, httptestGet("/v1/jobs/"+id+"?wait=8s"))
		if j := decode[jobResp](t, body); resp.StatusCode != http.StatusOK || j.Status != "canceled" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})

	t.Run("ended already: at once", func(t *testing.T) {
		id := newJob()
		e.complete(t, id, []byte("result"))
		start := time.Now()
		_, body := e.do(t, httptestGet("/v1/jobs/"+id+"?wait=30s"))
		if j := decode[jobResp](t, body); j.Status != "completed" || time.Since(start) > 5*time.Second {
			t.Fatalf("%s after %v", body, time.Since(start))
		}
	})

	t.Run("the wait runs out", func(t *testing.T) {
		id := newJob()
		start := time.Now()
		_, body := e.do(t, httptestGet("/v1/jobs/"+id+"?wait=0.3"))
		if j := decode[jobResp](t, body); j.Status != "queued" || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("%s after %v", body, time.Since(start))
		}
	})

	t.Run("drain answers waiting requests", func(t *testing.T) {
		id := newJob()
		go func() {
			for hub.Waiting() == 0 {
				time.Sleep(time.Millisecond)
			}
			e.srv.Drain()
		}()
		start := time.Now()
		_, body := e.do(t, httptestGet("/v1/jobs/"+id+"?wait=9s"))
		if j := decode[jobResp](t, body); j.Status != "queued" || time.Since(start) > 8*time.Second {
			t.Fatalf("%s after %v", body, time.Since(start))
		}
	})
}

// countingOpens is a file store that counts Open calls.
type countingOpens struct {
	blob.Store
	opens *int
}

func (c countingOpens) Open(ctx context.Context, key string) (blob.Object, error) {
	*c.opens++
	return c.Store.Open(ctx, key)
}

// withAPPData returns the JPEG src with n bytes of APP2 segments after SOI, so
// that its frame header comes n bytes later.
func withAPPData(src []byte, n int) []byte {
	out := append([]byte(nil), src[:2]...)
	for n > 0 {
		size := min(n, 65533)
		out = append(out, 0xFF, 0xE2, byte((size+2)>>8), byte(size+2))
		out = append(out, make([]byte, size)...)
		n -= size
	}
	return append(out, src[2:]...)
}

// TestProbeFromHead: an upload's header is read from its first bytes, kept while
// it streams to storage, without reading the stored file back; a header beyond
// them (large metadata, a GIF's frames) is read from storage.
func TestProbeFromHead(t *testing.T) {
	opens := 0
	e := newEnvDeps(t, nil, func(d *httpapi.Deps) { d.Blob = countingOpens{Store: d.Blob, opens: &opens} })
	small := readImage(t, "jpeg-grayscale-128x128.jpg")
	for _, tt := range []struct {
		name      string
		file      []byte
		w, h      int
		wantOpens int
	}{
		{"small JPEG: whole in the head", small, 128, 128, 0},
		{"photo: header early", readImage(t, "exif-orientation-1.jpg"), 1800, 1200, 0},
		{"300 KiB of metadata first", withAPPData(small, 300<<10), 128, 128, 1},
		{"animated GIF: frames counted from storage", readImage(t, "gif-animated-42frames-local-palettes-245x245.gif"), 245, 245, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opens = 0
			resp, body := e.do(t, upload(t, "f", tt.file))
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
			if j := decode[jobResp](t, body); j.Source.Width != tt.w || j.Source.Height != tt.h {
				t.Errorf("source %+v, want %dx%d", j.Source, tt.w, tt.h)
			}
			if opens != tt.wantOpens {
				t.Errorf("stored file opened %d times, want %d", opens, tt.wantOpens)
			}
		})
	}
	// A truncated JPEG whose head is the whole file is judged from it.
	opens = 0
	resp, body := e.do(t, upload(t, "f", small[:40]))
	if resp.StatusCode < 400 || resp.StatusCode >= 500 || opens != 0 {
		t.Errorf("truncated: %d %s, %d opens", resp.StatusCode, body, opens)
	}
}
