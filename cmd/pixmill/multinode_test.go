package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// The multi-node tests run real pixmill processes (one API node, worker nodes)
// that share a PostgreSQL schema and an S3 bucket, as a scaled-out deployment does.
// They need the servers .ci/integration-services.sh starts: PostgreSQL on
// PIXMILL_TEST_POSTGRES_DSN (default postgres://postgres@127.0.0.1:5432/test) and
// an S3-compatible server on PIXMILL_TEST_S3_ENDPOINT (default
// http://127.0.0.1:7070, keys K/S). Without them they skip, or fail when
// PIXMILL_REQUIRE_INTEGRATION=1.

const mnDefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func mnEnv(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// mnSkip skips t, or fails it when the integration servers are required.
func mnSkip(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("PIXMILL_REQUIRE_INTEGRATION") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// mnPostgres finds a reachable PostgreSQL once per test binary.
var mnPostgres = sync.OnceValues(func() (string, error) {
	candidates := []string{os.Getenv("PIXMILL_TEST_POSTGRES_DSN")}
	if candidates[0] == "" {
		// Trust auth may know the superuser as postgres or as root.
		candidates = []string{mnDefaultPostgresDSN, strings.Replace(mnDefaultPostgresDSN, "postgres@", "root@", 1)}
	}
	var errs []error
	for _, dsn := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return dsn, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
})

func mnExec(t *testing.T, dsn, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cluster is what the nodes of one test share: a fresh PostgreSQL schema and a
// fresh bucket, both removed when the test ends.
type cluster struct {
	t      *testing.T
	env    []string // PIXMILL_* settings every node gets
	s3     *awss3.Client
	bucket string
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	dsn, err := mnPostgres()
	if err != nil {
		mnSkip(t, fmt.Sprintf("PostgreSQL not reachable (set PIXMILL_TEST_POSTGRES_DSN or run .ci/integration-services.sh): %v", err))
	}
	endpoint := mnEnv("PIXMILL_TEST_S3_ENDPOINT", "http://127.0.0.1:7070")
	access := mnEnv("PIXMILL_TEST_S3_ACCESS_KEY", "K")
	secret := mnEnv("PIXMILL_TEST_S3_SECRET_KEY", "S")
	region := mnEnv("PIXMILL_TEST_S3_REGION", "us-east-1")
	client := awss3.New(awss3.Options{
		Region:                     region,
		Credentials:                credentials.NewStaticCredentialsProvider(access, secret, ""),
		UsePathStyle:               true,
		BaseEndpoint:               aws.String(endpoint),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err = client.ListBuckets(ctx, &awss3.ListBucketsInput{})
	cancel()
	if err != nil {
		mnSkip(t, fmt.Sprintf("S3 server %s not reachable (set PIXMILL_TEST_S3_ENDPOINT or run .ci/integration-services.sh): %v", endpoint, err))
	}

	suffix := randomSuffix()
	schema := "pixmill_mn_" + suffix
	mnExec(t, dsn, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { mnExec(t, dsn, "DROP SCHEMA "+schema+" CASCADE") })
	nodeDSN := dsn + " search_path=" + schema
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		nodeDSN = u.String()
	}

	c := &cluster{t: t, s3: client, bucket: "pixmill-mn-" + suffix}
	if _, err := client.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(c.bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", c.bucket, err)
	}
	t.Cleanup(c.removeBucket) // runs after the nodes' cleanups have killed them
	c.env = []string{
		"PIXMILL_STORE_DRIVER=postgres",
		"PIXMILL_STORE_POSTGRES_DSN=" + nodeDSN,
		"PIXMILL_BLOB_DRIVER=s3",
		"PIXMILL_BLOB_S3_ENDPOINT=" + endpoint,
		"PIXMILL_BLOB_S3_BUCKET=" + c.bucket,
		"PIXMILL_BLOB_S3_REGION=" + region,
		"PIXMILL_BLOB_S3_ACCESS_KEY_ID=" + access,
		"PIXMILL_BLOB_S3_SECRET_ACCESS_KEY=" + secret,
		"PIXMILL_BLOB_S3_PATH_STYLE=true",
	}
	return c
}

// keys lists the bucket's object keys under prefix.
func (c *cluster) keys(prefix string) ([]string, error) {
	var keys []string
	pages := awss3.NewListObjectsV2Paginator(c.s3, &awss3.ListObjectsV2Input{
		Bucket: aws.String(c.bucket), Prefix: aws.String(prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(context.Background())
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

func (c *cluster) removeBucket() {
	ctx := context.Background()
	keys, err := c.keys("")
	if err != nil {
		c.t.Errorf("list bucket %s: %v", c.bucket, err)
		return
	}
	for _, k := range keys {
		if _, err := c.s3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(k)}); err != nil {
			c.t.Errorf("delete %s/%s: %v", c.bucket, k, err)
		}
	}
	if _, err := c.s3.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(c.bucket)}); err != nil {
		c.t.Errorf("delete bucket %s: %v", c.bucket, err)
	}
}

// object reads one object straight from the bucket.
func (c *cluster) object(key string) ([]byte, error) {
	out, err := c.s3.GetObject(context.Background(), &awss3.GetObjectInput{Bucket: aws.String(c.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// api starts an API-only node.
func (c *cluster) api() *node {
	return startNode(c.t, c.t.TempDir(), append(c.env, "PIXMILL_ROLE=api")...)
}

// worker starts a worker node with one worker goroutine and a short lease, so that
// a dead worker's job is reclaimed about 2 s after it died.
func (c *cluster) worker() *node {
	return startNode(c.t, c.t.TempDir(), append(c.env, "PIXMILL_ROLE=worker",
		"PIXMILL_POOL_WORKERS=1", "PIXMILL_POOL_LEASE_DURATION=2s")...)
}

// mnJob is the job JSON with the fields these tests look at.
type mnJob struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Outputs    []struct {
		Variant string `json:"variant"`
		Bytes   int64  `json:"bytes"`
		Width   int    `json:"width"`
		Height  int    `json:"height"`
		URL     string `json:"url"`
	} `json:"outputs"`
	Error *struct{ Code, Message string } `json:"error"`
}

func (n *node) job(t *testing.T, id string) mnJob {
	t.Helper()
	code, b, _ := n.get(t, "/v1/jobs/"+id)
	var j mnJob
	if err := json.Unmarshal(b, &j); err != nil || code != http.StatusOK {
		t.Fatalf("GET job %s: %d %s", id, code, b)
	}
	return j
}

// jobsWithStatus lists the ids of the jobs in status (the first page is enough here).
func (n *node) jobsWithStatus(t *testing.T, status string) []string {
	t.Helper()
	code, b, _ := n.get(t, "/v1/jobs?limit=100&status="+status)
	var page struct{ Jobs []mnJob }
	if err := json.Unmarshal(b, &page); err != nil || code != http.StatusOK {
		t.Fatalf("list %s jobs: %d %s", status, code, b)
	}
	ids := make([]string, len(page.Jobs))
	for i, j := range page.Jobs {
		ids[i] = j.ID
	}
	return ids
}

// finished polls a job until it is completed or failed.
func (n *node) finished(t *testing.T, id string, within time.Duration) mnJob {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		j := n.job(t, id)
		if j.Status == "completed" || j.Status == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s after %s", id, j.Status, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one sample of the node's /metrics (-1 when it is not there).
func (n *node) metric(t *testing.T, sample string) float64 {
	t.Helper()
	code, b, _ := n.get(t, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("/metrics %s: %v", sample, err)
	}
	return v
}

// completions reads the node's "job completed" log lines: job id → attempts logged.
func (n *node) completions() map[string][]int {
	out := map[string][]int{}
	sc := bufio.NewScanner(strings.NewReader(n.logs.String()))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg     string
			JobID   string `json:"job_id"`
			Attempt int
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "job completed" {
			out[rec.JobID] = append(out[rec.JobID], rec.Attempt)
		}
	}
	return out
}

// kill ends the node with SIGKILL: no shutdown, no lease released.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		t.Fatal("killed node did not exit")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkResult downloads a completed job's only output through n and checks it
// against the job's record and the object in the bucket.
func (c *cluster) checkResult(t *testing.T, n *node, j mnJob, wantWidth int) {
	t.Helper()
	if j.Status != "completed" {
		t.Errorf("job %s ended %s (error %+v)", j.ID, j.Status, j.Error)
		return
	}
	if len(j.Outputs) != 1 {
		t.Errorf("job %s has %d outputs; want exactly 1", j.ID, len(j.Outputs))
		return
	}
	out := j.Outputs[0]
	code, body, h := n.get(t, out.URL)
	if code != http.StatusOK {
		t.Errorf("download %s: %d %s", j.ID, code, body)
		return
	}
	if int64(len(body)) != out.Bytes {
		t.Errorf("job %s: downloaded %d bytes; the job records %d", j.ID, len(body), out.Bytes)
	}
	sum := sha256.Sum256(body)
	if want := `"` + hex.EncodeToString(sum[:16]) + `"`; h.Get("ETag") != want {
		t.Errorf("job %s: ETag %s; the downloaded bytes hash to %s", j.ID, h.Get("ETag"), want)
	}
	img, _, err := image.Decode(bytes.NewReader(body))
	if err != nil {
		t.Errorf("job %s: result does not decode: %v", j.ID, err)
		return
	}
	if b := img.Bounds(); b.Dx() != wantWidth || b.Dx() != out.Width || b.Dy() != out.Height {
		t.Errorf("job %s: result is %dx%d; job says %dx%d, want width %d", j.ID, b.Dx(), b.Dy(), out.Width, out.Height, wantWidth)
	}
	stored, err := c.object("results/" + j.ID + "/" + out.Variant)
	if err != nil {
		t.Errorf("job %s: read result from the bucket: %v", j.ID, err)
	} else if !bytes.Equal(stored, body) {
		t.Errorf("job %s: the bucket's result (%d bytes) differs from the download (%d bytes)", j.ID, len(stored), len(body))
	}
}

// TestMultiNodeSpreadAndFailover runs one API node and two worker nodes on a shared
// PostgreSQL and bucket: jobs uploaded to the API node spread over both workers, a
// worker killed with SIGKILL mid-job has that job finished by the other once its
// lease runs out, and every job ends with exactly one result.
func TestMultiNodeSpreadAndFailover(t *testing.T) {
	c := newCluster(t)
	api := c.api()
	w1, w2 := c.worker(), c.worker()

	// The worker role serves health and metrics only; the API node runs no jobs.
	for _, w := range []*node{w1, w2} {
		for _, path := range []string{"/livez", "/readyz", "/metrics"} {
			if code, b, _ := w.get(t, path); code != http.StatusOK {
				t.Errorf("worker %s: %d %s", path, code, b)
			}
		}
		if code, _, _ := w.get(t, "/v1/jobs"); code != http.StatusNotFound {
			t.Errorf("worker answers GET /v1/jobs with %d; want 404", code)
		}
	}
	if v := api.metric(t, "pixmill_workers"); v != -1 {
		t.Errorf("API node reports pixmill_workers %v; want no worker pool", v)
	}

	img := readImage(t, "exif-orientation-1.jpg") // 1800x1200
	const ops, width = "resize:w=400|sharpen:sigma=1", 400
	upload := func(n int) []string {
		ids := make([]string, 0, n)
		for range n {
			code, j, raw := api.upload(t, img, "p.jpg", "ops", ops)
			if code != http.StatusAccepted {
				t.Fatalf("upload: %d %s", code, raw)
			}
			ids = append(ids, j.ID)
		}
		return ids
	}
	ids := upload(8)
	start := time.Now()

	// Both workers finish jobs, and then one of them dies while it runs one. The
	// kill can land in the few milliseconds between two of its jobs; then no job is
	// orphaned and the round is tried again with a fresh worker.
	workers := []*node{w1, w2}
	survivor := w2
	reclaimed := ""
	for round := 1; reclaimed == ""; round++ {
		victim := workers[len(workers)-2]
		if round > 1 {
			if round > 3 {
				t.Fatal("three kills in a row landed between jobs")
			}
			t.Logf("round %d: the kill landed between two jobs; killing a fresh worker", round-1)
			victim = c.worker()
			workers = append(workers[:len(workers)-1], victim, survivor)
			ids = append(ids, upload(4)...)
		}
		waitFor(t, "both workers to complete a job and the victim to be busy", 45*time.Second, func() bool {
			return (round > 1 || len(victim.completions()) > 0) && len(survivor.completions()) > 0 &&
				victim.metric(t, "pixmill_workers_busy") == 1
		})
		before := victim.completions()
		victim.kill(t)
		// The jobs processing at the kill: the victim's (if it was mid-job) and the
		// survivor's.
		processing := api.jobsWithStatus(t, "processing")
		t.Logf("round %d: killed a worker after %s; processing then: %v", round, time.Since(start).Round(time.Millisecond), processing)

		for _, id := range ids {
			api.finished(t, id, 40*time.Second)
		}
		for _, id := range processing {
			if _, done := before[id]; done {
				continue
			}
			if j := api.job(t, id); j.Attempts >= 2 {
				reclaimed = id
			}
		}
	}
	t.Logf("job %s was reclaimed from the killed worker; all %d jobs done after %s", reclaimed, len(ids), time.Since(start).Round(time.Millisecond))

	// The survivor finished the orphaned job on a later attempt; no dead worker did.
	if attempts := survivor.completions()[reclaimed]; len(attempts) != 1 || attempts[0] < 2 {
		t.Errorf("survivor's completions of the reclaimed job %s: attempts %v; want one, attempt ≥ 2", reclaimed, attempts)
	}
	for _, w := range workers[:len(workers)-1] {
		if _, ok := w.completions()[reclaimed]; ok {
			t.Errorf("a killed worker logged the reclaimed job %s as completed", reclaimed)
		}
	}

	// Spread: every worker completed jobs (the survivor's metrics say so too).
	if v := survivor.metric(t, `pixmill_job_attempts_total{outcome="completed"}`); v < 1 {
		t.Errorf("survivor's pixmill_job_attempts_total{outcome=\"completed\"} = %v; want > 0", v)
	}
	if len(w1.completions()) == 0 || len(survivor.completions()) == 0 {
		t.Errorf("jobs did not spread: the first worker completed %d, the second %d",
			len(w1.completions()), len(survivor.completions()))
	}
	completedBy := map[string]int{}
	for _, w := range workers {
		for id, attempts := range w.completions() {
			completedBy[id] += len(attempts)
		}
	}

	// Every job completed exactly once, with one result: the downloaded bytes are
	// the recorded size and ETag, and the same as the bucket's only object for it.
	for _, id := range ids {
		if completedBy[id] != 1 {
			t.Errorf("job %s was completed %d times across the workers; want 1", id, completedBy[id])
		}
		c.checkResult(t, api, api.job(t, id), width)
	}
	keys, err := c.keys("results/")
	if err != nil {
		t.Fatalf("list results: %v", err)
	}
	if len(keys) != len(ids) {
		t.Errorf("the bucket holds %d results for %d jobs: %v", len(keys), len(ids), keys)
	}
	if t.Failed() {
		return
	}
	api.stop()
	survivor.stop()
}

// TestMultiNodeAPIOnlyQueuesUntilWorker checks that an API-only node accepts jobs
// but runs none, that a worker started later picks the waiting job up, and that an
// idle worker starts a new job without waiting for its poll (LISTEN/NOTIFY).
func TestMultiNodeAPIOnlyQueuesUntilWorker(t *testing.T) {
	c := newCluster(t)
	api := c.api()
	img := readImage(t, "jpeg-grayscale-128x128.jpg")
	code, j, raw := api.upload(t, img, "g.jpg", "ops", "resize:w=64")
	if code != http.StatusAccepted {
		t.Fatalf("upload: %d %s", code, raw)
	}
	// Longer than a worker's 1 s poll: nothing may start the job.
	for until := time.Now().Add(1500 * time.Millisecond); time.Now().Before(until); time.Sleep(50 * time.Millisecond) {
		if got := api.job(t, j.ID); got.Status != "queued" || got.Attempts != 0 {
			t.Fatalf("with only an API node the job is %s (attempts %d); want queued", got.Status, got.Attempts)
		}
	}
	var queue struct{ Queued, Processing, Workers int }
	_, b, _ := api.get(t, "/v1/queue")
	if err := json.Unmarshal(b, &queue); err != nil || queue.Queued != 1 || queue.Processing != 0 || queue.Workers != 0 {
		t.Errorf("/v1/queue on the API node: %s; want 1 queued, no workers", b)
	}

	started := time.Now()
	w := c.worker()
	done := api.finished(t, j.ID, 20*time.Second)
	t.Logf("a worker started after the upload finished the job %s after it started", time.Since(started).Round(time.Millisecond))
	c.checkResult(t, api, done, 64)
	if _, ok := w.completions()[j.ID]; !ok {
		t.Errorf("the worker did not log completing job %s", j.ID)
	}

	// With the worker idle, a new job starts at once: the API node's NOTIFY wakes it.
	// Without it the worker would find the job by its 1 s poll, after 0.5 s on
	// average, so five quick starts in a row say the doorbell works.
	const quick = 400 * time.Millisecond
	var waits []time.Duration
	for range 5 {
		code, j, raw := api.upload(t, img, "g.jpg", "ops", "resize:w=64")
		if code != http.StatusAccepted {
			t.Fatalf("upload: %d %s", code, raw)
		}
		done := api.finished(t, j.ID, 20*time.Second)
		if done.Status != "completed" || done.StartedAt == nil {
			t.Fatalf("job %s: %+v", j.ID, done)
		}
		waits = append(waits, done.StartedAt.Sub(done.CreatedAt))
	}
	t.Logf("queue waits of an idle worker: %v", waits)
	for _, wait := range waits {
		if wait > quick {
			t.Errorf("an idle worker started a job %s after it was queued; want < %s (queue waits %v)", wait, quick, waits)
			break
		}
	}
	api.stop()
	w.stop()
}
