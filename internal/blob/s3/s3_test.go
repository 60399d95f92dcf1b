package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/blob/blobtest"
)

// The tests run against the S3-compatible server of PIXMILL_TEST_S3_ENDPOINT
// (default: the versitygw that .ci/integration-services.sh starts). Each test makes
// a bucket of its own and removes it at the end.

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// testConfig is the server's configuration, without a bucket.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Endpoint = env("PIXMILL_TEST_S3_ENDPOINT", "http://127.0.0.1:7070")
	cfg.AccessKeyID = env("PIXMILL_TEST_S3_ACCESS_KEY", "K")
	cfg.SecretAccessKey = env("PIXMILL_TEST_S3_SECRET_KEY", "S")
	cfg.Region = env("PIXMILL_TEST_S3_REGION", "us-east-1")
	cfg.PathStyle = true
	return cfg
}

// reachable asks the server once per test binary whether it is there.
var reachable = sync.OnceValue(func() error {
	cfg := testConfig()
	cfg.Bucket = "probe"
	s, err := New(context.Background(), cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = s.client.ListBuckets(ctx, &awss3.ListBucketsInput{})
	return err
})

// testBucket creates an empty bucket that is removed, with its objects, when tb
// ends, and returns a configuration for it. Without a server it skips tb (fails it
// when PIXMILL_REQUIRE_INTEGRATION=1).
func testBucket(tb testing.TB) Config {
	tb.Helper()
	cfg := testConfig()
	if err := reachable(); err != nil {
		msg := fmt.Sprintf("S3 server %s not reachable (set PIXMILL_TEST_S3_ENDPOINT or run .ci/integration-services.sh): %v", cfg.Endpoint, err)
		if os.Getenv("PIXMILL_REQUIRE_INTEGRATION") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg.Bucket = "pixmill-test-" + hex.EncodeToString(b[:])
	s := newTestStore(tb, cfg)
	ctx := context.Background()
	if _, err := s.client.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		tb.Fatalf("create bucket %s: %v", cfg.Bucket, err)
	}
	tb.Cleanup(func() {
		if err := s.DeletePrefix(ctx, ""); err != nil {
			tb.Errorf("empty bucket %s: %v", cfg.Bucket, err)
		}
		if _, err := s.client.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
			tb.Errorf("delete bucket %s: %v", cfg.Bucket, err)
		}
	})
	return cfg
}

func newTestStore(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// noUploads fails t when the bucket holds unfinished multipart uploads.
func noUploads(t *testing.T, s *Store) {
	t.Helper()
	out, err := s.client.ListMultipartUploads(context.Background(), &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	for _, u := range out.Uploads {
		t.Errorf("multipart upload of %s left behind", aws.ToString(u.Key))
	}
}

func TestConformance(t *testing.T) {
	cfg := testBucket(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// One bucket, a prefix of its own per subtest: each starts empty.
		c := cfg
		c.Prefix = "conformance/" + strings.ReplaceAll(t.Name(), "/", "_")
		s := newTestStore(t, c)
		t.Cleanup(func() { noUploads(t, s) })
		return s
	})
}

func TestConfigValidate(t *testing.T) {
	good := testConfig()
	good.Bucket = "b"
	if err := good.Validate(); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	tests := []struct {
		name   string
		change func(c *Config)
	}{
		{"no bucket", func(c *Config) { c.Bucket = "" }},
		{"no region", func(c *Config) { c.Region = "" }},
		{"no access key", func(c *Config) { c.AccessKeyID = "" }},
		{"no secret", func(c *Config) { c.SecretAccessKey = "" }},
		{"endpoint without scheme", func(c *Config) { c.Endpoint = "127.0.0.1:7070" }},
		{"endpoint ftp", func(c *Config) { c.Endpoint = "ftp://host" }},
		{"absolute prefix", func(c *Config) { c.Prefix = "/x" }},
		{"small parts", func(c *Config) { c.PartSize = 1 << 20 }},
		{"negative concurrency", func(c *Config) { c.Concurrency = -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.change(&c)
			if err := c.Validate(); err == nil {
				t.Error("Validate = nil; want an error")
			}
			if _, err := New(t.Context(), c); err == nil {
				t.Error("New succeeded; want an error")
			}
		})
	}
	// The secret never shows in errors.
	c := good
	c.Bucket, c.SecretAccessKey = "", "very-secret"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "very-secret") {
		t.Errorf("Validate = %v", err)
	}
}

func TestInvalidKeys(t *testing.T) {
	cfg := testConfig()
	cfg.Bucket = "b"
	s := newTestStore(t, cfg) // no server needed: keys are checked first
	for _, key := range []string{"", "/abs", "dir/", "a//b", "a/./b", "a/../b", "a\\b", "a\x00b"} {
		if _, err := s.Put(t.Context(), key, strings.NewReader("x")); err == nil {
			t.Errorf("Put(%q) succeeded", key)
		}
		if _, err := s.Open(t.Context(), key); err == nil || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%q) = %v; want an invalid key error", key, err)
		}
	}
}

// onlyReader hides every method but Read, as a network body would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestLargePutInPartsAndRangedReads(t *testing.T) {
	cfg := testBucket(t)
	cfg.PartSize = MinPartSize // 5 MiB: 20 MiB is four parts
	s := newTestStore(t, cfg)
	ctx := t.Context()

	data := make([]byte, 20<<20)
	rng := mrand.New(mrand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	n, err := s.Put(ctx, "sources/large", onlyReader{bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put = %d bytes; want %d", n, len(data))
	}
	// A multipart object's ETag ends in -<parts>.
	head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(cfg.Bucket), Key: aws.String("sources/large")})
	if err != nil {
		t.Fatalf("HeadObject: %v", err)
	}
	if etag := strings.Trim(aws.ToString(head.ETag), `"`); !strings.HasSuffix(etag, "-4") {
		t.Errorf("ETag %s; want a multipart ETag of 4 parts", etag)
	}

	obj, err := s.Open(ctx, "sources/large")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = obj.Close() }()
	o := obj.(*object)

	// Random ranges.
	for range 40 {
		off := rng.Int64N(int64(len(data)))
		length := min(rng.IntN(300_000)+1, len(data)-int(off))
		if _, err := obj.Seek(off, io.SeekStart); err != nil {
			t.Fatalf("Seek(%d): %v", off, err)
		}
		buf := make([]byte, length)
		if _, err := io.ReadFull(obj, buf); err != nil {
			t.Fatalf("read %d bytes at %d: %v", length, off, err)
		}
		if !bytes.Equal(buf, data[off:off+int64(length)]) {
			t.Fatalf("bytes [%d, %d) differ", off, off+int64(length))
		}
	}

	// A whole sequential read is one GET, however small the reads.
	if _, err := obj.Seek(0, io.SeekStart); err != nil {
		t.Fatalf("Seek: %v", err)
	}
	before := o.gets
	var got bytes.Buffer
	if _, err := io.CopyBuffer(&got, onlyReader{obj}, make([]byte, 4096)); err != nil {
		t.Fatalf("read all: %v", err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Error("sequential read differs from the data put")
	}
	if gets := o.gets - before; gets != 1 {
		t.Errorf("sequential read took %d GETs; want 1", gets)
	}
	noUploads(t, s)
}

func TestFailedMultipartPutLeavesNoUpload(t *testing.T) {
	cfg := testBucket(t)
	cfg.PartSize = MinPartSize
	s := newTestStore(t, cfg)
	errBroken := errors.New("broken body")

	// Fails after two parts went up.
	body := io.MultiReader(bytes.NewReader(make([]byte, 12<<20)), errReader{errBroken})
	if _, err := s.Put(t.Context(), "sources/broken", body); !errors.Is(err, errBroken) {
		t.Fatalf("Put = %v; want %v", err, errBroken)
	}
	// Canceled after two parts went up.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	canceling := &cancelAfter{r: bytes.NewReader(make([]byte, 30<<20)), after: 11 << 20, cancel: cancel}
	if _, err := s.Put(ctx, "sources/canceled", canceling); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v; want context.Canceled", err)
	}
	for _, key := range []string{"sources/broken", "sources/canceled"} {
		if _, err := s.Open(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Open(%s) = %v; want ErrNotFound", key, err)
		}
	}
	noUploads(t, s)
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type cancelAfter struct {
	r      io.Reader
	after  int
	read   int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func TestReadAfterReplaceFails(t *testing.T) {
	s := newTestStore(t, testBucket(t))
	ctx := t.Context()
	if _, err := s.Put(ctx, "results/x/default", bytes.NewReader(bytes.Repeat([]byte("a"), 1000))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	obj, err := s.Open(ctx, "results/x/default")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() { _ = obj.Close() }()
	if _, err := s.Put(ctx, "results/x/default", bytes.NewReader(bytes.Repeat([]byte("b"), 1000))); err != nil {
		t.Fatalf("Put again: %v", err)
	}
	got, err := io.ReadAll(obj)
	if err == nil && !bytes.Equal(got, bytes.Repeat([]byte("a"), 1000)) {
		t.Errorf("read %q… from an object replaced after Open; want the old bytes or an error", got[:min(len(got), 8)])
	}
}

func TestPrefixIsolates(t *testing.T) {
	cfg := testBucket(t)
	a, b := cfg, cfg
	a.Prefix, b.Prefix = "tenant-a", "tenant-b/"
	sa, sb := newTestStore(t, a), newTestStore(t, b)
	ctx := t.Context()
	for _, s := range []*Store{sa, sb} {
		if _, err := s.Put(ctx, "sources/1", strings.NewReader("x")); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	if err := sa.DeletePrefix(ctx, ""); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	if _, err := sa.Open(ctx, "sources/1"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("tenant a after DeletePrefix: %v", err)
	}
	obj, err := sb.Open(ctx, "sources/1")
	if err != nil {
		t.Fatalf("tenant b lost its object: %v", err)
	}
	_ = obj.Close()
}

func TestDeletePrefixManyKeys(t *testing.T) {
	cfg := testBucket(t)
	s := newTestStore(t, cfg)
	ctx := t.Context()
	const n = 1100 // more than one DeleteObjects batch and one listing page
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if _, err := s.Put(ctx, fmt.Sprintf("results/many/%04d", i), strings.NewReader("x")); err != nil {
				t.Errorf("Put: %v", err)
			}
		})
	}
	wg.Wait()
	if _, err := s.Put(ctx, "results/other", strings.NewReader("y")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := s.DeletePrefix(ctx, "results/many/"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	out, err := s.client.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(cfg.Bucket), Prefix: aws.String("results/")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "results/other" {
		t.Errorf("left after DeletePrefix: %d keys", len(out.Contents))
	}
}

func TestPresign(t *testing.T) {
	s := newTestStore(t, testBucket(t))
	ctx := t.Context()
	data := []byte("presigned bytes")
	if _, err := s.Put(ctx, "results/p/default", bytes.NewReader(data)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	u, err := s.PresignWith(ctx, "results/p/default", time.Minute,
		PresignOptions{ContentType: "image/webp", ContentDisposition: `attachment; filename="p.webp"`})
	if err != nil {
		t.Fatalf("Presign: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET presigned: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("GET presigned = %d %q; want 200 %q", resp.StatusCode, got, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "image/webp" {
		t.Errorf("Content-Type = %q; want image/webp", ct)
	}
	if _, err := s.Presign(ctx, "results/p/default", 8*24*time.Hour); err == nil {
		t.Error("Presign accepted a TTL over 7 days")
	}
}

func TestWalkAndSweepTemp(t *testing.T) {
	cfg := testBucket(t)
	cfg.Prefix = "walk"
	s := newTestStore(t, cfg)
	ctx := t.Context()
	keys := []string{"results/a/default", "sources/a", "sources/b"}
	for _, k := range keys {
		if _, err := s.Put(ctx, k, strings.NewReader(k)); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	var got []string
	if err := s.Walk(ctx, func(key string, mt time.Time) error {
		if time.Since(mt) > time.Hour {
			t.Errorf("%s: modTime %v", key, mt)
		}
		got = append(got, key)
		return nil
	}); err != nil {
		t.Fatalf("Walk: %v", err)
	}
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Errorf("Walk = %v; want %v", got, keys)
	}

	// An upload left behind by a process that died mid-Put.
	if _, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String("walk/sources/dead"),
	}); err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	if n, err := s.SweepTemp(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("SweepTemp(an hour ago) = %d, %v; want 0", n, err)
	}
	if n, err := s.SweepTemp(ctx, time.Now().Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("SweepTemp(now) = %d, %v; want 1", n, err)
	}
	noUploads(t, s)
}
