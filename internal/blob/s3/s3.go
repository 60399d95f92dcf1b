// Package s3 is the blob.Store on an S3-compatible object store (AWS S3, MinIO, R2,
// versitygw…), for several pixmill nodes sharing their files. It is the home of
// aws-sdk-go-v2.
//
// Put streams the body in parts (multipart upload above one part) and never holds
// more than a few parts in memory; an object appears whole when the upload
// completes, replacing any object of the same key, and a failed or canceled Put
// aborts its multipart upload so that neither an object nor stray parts remain.
// Open reads with ranged GETs: one streaming GET per contiguous run of reads,
// reopened only after a Seek.
//
// Errors name keys, never the endpoint or credentials: clients may see messages.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pixmill/pixmill/internal/blob"
)

// Part sizes and limits of S3 multipart uploads.
const (
	DefaultPartSize    = 8 << 20 // 8 MiB
	MinPartSize        = manager.MinUploadPartSize
	MaxPartSize        = 5 << 30 // 5 GiB
	DefaultConcurrency = 2
	// MaxPresignTTL is the longest validity SigV4 allows a presigned URL.
	MaxPresignTTL = 7 * 24 * time.Hour
	// deleteBatch is the most keys one DeleteObjects request takes.
	deleteBatch = 1000
)

// Config configures a Store.
type Config struct {
	// Endpoint is the server's base URL (http://127.0.0.1:7070); empty means AWS S3
	// of Region.
	Endpoint string
	// Bucket holds the objects; it must exist.
	Bucket string
	// Region signs requests; S3-compatible servers mostly accept us-east-1.
	Region string
	// AccessKeyID and SecretAccessKey are static credentials; both are required.
	AccessKeyID     string
	SecretAccessKey string
	// PathStyle addresses the bucket in the path (endpoint/bucket/key) instead of
	// the host name; most S3-compatible servers need it.
	PathStyle bool
	// Prefix is prepended to every key, so several deployments can share a bucket
	// (a "/" is added when missing).
	Prefix string
	// PartSize is the size of each part of a multipart upload and of the buffers a
	// Put holds (about (Concurrency+1) × PartSize per running Put); 0 means
	// DefaultPartSize, else MinPartSize to MaxPartSize. Objects up to one part are
	// sent with a single PutObject.
	PartSize int64
	// Concurrency is how many parts of one Put are uploaded at once; 0 means
	// DefaultConcurrency.
	Concurrency int
}

// DefaultConfig returns the defaults; Bucket, credentials and usually Endpoint must
// still be set.
func DefaultConfig() Config {
	return Config{Region: "us-east-1", PartSize: DefaultPartSize, Concurrency: DefaultConcurrency}
}

// Validate reports whether c can be used. It does not connect.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, errors.New("endpoint must be an http:// or https:// URL"))
		}
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("bucket is required"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("region is required"))
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		errs = append(errs, errors.New("access key id and secret access key are required"))
	}
	if strings.HasPrefix(c.Prefix, "/") {
		errs = append(errs, errors.New("prefix must not start with /"))
	}
	if c.PartSize != 0 && (c.PartSize < MinPartSize || c.PartSize > MaxPartSize) {
		errs = append(errs, fmt.Errorf("part size %d must be between %d and %d", c.PartSize, MinPartSize, MaxPartSize))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("concurrency %d must not be negative", c.Concurrency))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("s3 blob store: %w", err)
	}
	return nil
}

// Store is a blob.Store on one bucket. It is safe for concurrent use.
type Store struct {
	client   *awss3.Client
	uploader *manager.Uploader //nolint:staticcheck // SA1019: transfermanager, its successor, is not in go.mod yet
	presign  *awss3.PresignClient
	bucket   string
	prefix   string // "" or ends with "/"
}

var (
	_ blob.Store       = (*Store)(nil)
	_ blob.Walker      = (*Store)(nil)
	_ blob.TempSweeper = (*Store)(nil)
)

// New returns a Store on cfg.Bucket. It does not contact the server; Ping does.
func New(_ context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := awss3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		UsePathStyle: cfg.PathStyle,
		// Checksums only where S3 demands them: many S3-compatible servers reject
		// or ignore the newer default trailing checksums, and ranged GETs carry no
		// whole-object checksum to validate.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	client := awss3.New(opts)

	partSize := cfg.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	concurrency := cfg.Concurrency
	if concurrency == 0 {
		concurrency = DefaultConcurrency
	}
	uploader := manager.NewUploader(client, func(u *manager.Uploader) { //nolint:staticcheck // SA1019: transfermanager, its successor, is not in go.mod yet
		u.PartSize = partSize
		u.Concurrency = concurrency
		u.LeavePartsOnError = false
	})
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Store{
		client:   client,
		uploader: uploader,
		presign:  awss3.NewPresignClient(client),
		bucket:   cfg.Bucket,
		prefix:   prefix,
	}, nil
}

// Put implements blob.Store. The body is read as a stream of unknown length: the
// uploader buffers one part at a time per concurrent part, never the whole object.
// Putting a key again replaces the object when the new upload completes; until then
// readers see the old one, and a failed Put leaves the old one in place.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	body := &countingReader{ctx: ctx, r: r}
	_, err := s.uploader.Upload(ctx, &awss3.PutObjectInput{ //nolint:staticcheck // SA1019: transfermanager, its successor, is not in go.mod yet
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
		Body:   body,
	})
	if err != nil {
		var mf manager.MultiUploadFailure
		if errors.As(err, &mf) && mf.UploadID() != "" {
			// The uploader aborts with the Put's context, which fails when that
			// context is what ended the upload; abort again on one of our own.
			s.abort(ctx, key, mf.UploadID())
		}
		switch {
		case body.err != nil: // the body failed, or ctx ended between reads
			return 0, fmt.Errorf("put %s: %w", key, body.err)
		case ctx.Err() != nil:
			return 0, fmt.Errorf("put %s: %w", key, ctx.Err())
		}
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	return body.n, nil
}

// abort drops the parts of a failed multipart upload; an upload already aborted is
// fine.
func (s *Store) abort(ctx context.Context, key, uploadID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket:   aws.String(s.bucket),
		Key:      aws.String(s.prefix + key),
		UploadId: aws.String(uploadID),
	})
}

// countingReader counts the bytes of a Put, keeps the first error of the body, and
// stops the upload between reads once ctx is done. It is deliberately not an
// io.Seeker, so the uploader streams it part by part.
type countingReader struct {
	ctx context.Context //nolint:containedctx // lives for one Put only
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	if err := c.ctx.Err(); err != nil {
		c.err = err
		return 0, err
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		c.err = err
	}
	return n, err
}

// Open implements blob.Store. The object's reads are GETs made with ctx, so ctx must
// stay live until the object is closed. Reads are pinned to the version Open saw
// (If-Match on its ETag): if the key is replaced meanwhile, a read fails rather than
// mixing two objects' bytes.
func (s *Store) Open(ctx context.Context, key string) (blob.Object, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("open %s: %w", key, blob.ErrNotFound)
		}
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return &object{
		ctx:     ctx,
		s:       s,
		key:     key,
		size:    aws.ToInt64(head.ContentLength),
		modTime: aws.ToTime(head.LastModified),
		etag:    aws.ToString(head.ETag),
	}, nil
}

// object is an open S3 object: a position and, while reads are sequential, the body
// of one ranged GET that starts where the last read ended.
type object struct {
	ctx     context.Context //nolint:containedctx // the caller's, for the object's lifetime
	s       *Store
	key     string
	size    int64
	modTime time.Time
	etag    string

	pos    int64
	body   io.ReadCloser // nil until the next Read needs one
	gets   int           // GETs issued, for tests
	closed bool
}

var errClosed = errors.New("object is closed")

func (o *object) Size() int64        { return o.size }
func (o *object) ModTime() time.Time { return o.modTime }

func (o *object) Read(p []byte) (int, error) {
	if o.closed {
		return 0, fmt.Errorf("read %s: %w", o.key, errClosed)
	}
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if o.body == nil {
		if err := o.get(); err != nil {
			return 0, err
		}
	}
	n, err := o.body.Read(p)
	o.pos += int64(n)
	if errors.Is(err, io.EOF) {
		o.dropBody()
		switch {
		case o.pos < o.size: // the response ended early; the next Read resumes
			if n > 0 {
				return n, nil
			}
			return 0, fmt.Errorf("read %s at %d: %w", o.key, o.pos, io.ErrUnexpectedEOF)
		case n > 0:
			return n, nil
		}
		return 0, io.EOF
	}
	if err != nil {
		o.dropBody()
		return n, fmt.Errorf("read %s at %d: %w", o.key, o.pos, err)
	}
	return n, nil
}

// get starts a GET of the rest of the object from the current position.
func (o *object) get() error {
	in := &awss3.GetObjectInput{
		Bucket: aws.String(o.s.bucket),
		Key:    aws.String(o.s.prefix + o.key),
		Range:  aws.String(fmt.Sprintf("bytes=%d-", o.pos)),
	}
	if o.etag != "" {
		in.IfMatch = aws.String(o.etag)
	}
	o.gets++
	out, err := o.s.client.GetObject(o.ctx, in)
	if err != nil {
		if isNotFound(err) {
			return fmt.Errorf("read %s: %w", o.key, blob.ErrNotFound)
		}
		return fmt.Errorf("read %s at %d: %w", o.key, o.pos, err)
	}
	o.body = out.Body
	return nil
}

func (o *object) dropBody() {
	if o.body != nil {
		_ = o.body.Close()
		o.body = nil
	}
}

// Seek moves the position; the next Read opens a GET there unless the position is
// unchanged. Seeking past the end is allowed, as for files: reads there return EOF.
func (o *object) Seek(offset int64, whence int) (int64, error) {
	if o.closed {
		return 0, fmt.Errorf("seek %s: %w", o.key, errClosed)
	}
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return 0, fmt.Errorf("seek %s: invalid whence %d", o.key, whence)
	}
	if abs < 0 {
		return 0, fmt.Errorf("seek %s: negative position %d", o.key, abs)
	}
	if abs != o.pos {
		o.dropBody()
		o.pos = abs
	}
	return abs, nil
}

func (o *object) Close() error {
	if o.closed {
		return nil
	}
	o.closed = true
	o.dropBody()
	return nil
}

// Delete implements blob.Store; S3 deletes are idempotent.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// DeletePrefix implements blob.Store: it lists the keys below prefix and deletes
// them in batches of up to 1000.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("invalid blob prefix %q: absolute", prefix)
	}
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(s.prefix + prefix),
		MaxKeys: aws.Int32(deleteBatch),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("delete prefix %s: list: %w", prefix, err)
		}
		for batch := range chunk(page.Contents, deleteBatch) {
			ids := make([]types.ObjectIdentifier, len(batch))
			for i, obj := range batch {
				ids[i] = types.ObjectIdentifier{Key: obj.Key}
			}
			out, err := s.client.DeleteObjects(ctx, &awss3.DeleteObjectsInput{
				Bucket: aws.String(s.bucket),
				Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
			})
			if err != nil {
				return fmt.Errorf("delete prefix %s: %w", prefix, err)
			}
			for _, e := range out.Errors {
				if aws.ToString(e.Code) == "NoSuchKey" {
					continue
				}
				return fmt.Errorf("delete prefix %s: %s: %s: %s", prefix,
					strings.TrimPrefix(aws.ToString(e.Key), s.prefix), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
	}
	return nil
}

// Walk implements blob.Walker: it lists every key of the store (below its prefix)
// with its modification time, in key order.
func (s *Store) Walk(ctx context.Context, fn func(key string, modTime time.Time) error) error {
	pages := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket: aws.String(s.bucket),
		Prefix: aws.String(s.prefix),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("walk: list: %w", err)
		}
		for _, obj := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(obj.Key), s.prefix)
			if checkKey(key) != nil {
				continue // not an object pixmill made
			}
			if err := fn(key, aws.ToTime(obj.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// SweepTemp implements blob.TempSweeper: it aborts multipart uploads below the
// store's prefix that began before cutoff (a Put whose process died mid-upload
// leaves one; its parts are stored, and billed, until aborted) and returns how many.
// A bucket lifecycle rule (AbortIncompleteMultipartUpload) does the same server side.
func (s *Store) SweepTemp(ctx context.Context, cutoff time.Time) (int, error) {
	in := &awss3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix)}
	n := 0
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return n, fmt.Errorf("sweep uploads: list: %w", err)
		}
		for _, u := range out.Uploads {
			if !aws.ToTime(u.Initiated).Before(cutoff) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
				Bucket: aws.String(s.bucket), Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && !isNotFound(err) {
				return n, fmt.Errorf("sweep uploads: abort %s: %w", strings.TrimPrefix(aws.ToString(u.Key), s.prefix), err)
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// chunk yields s in pieces of at most n.
func chunk[T any](s []T, n int) func(yield func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// Ping implements blob.Store with HeadBucket: the server answers and the
// credentials may use the bucket.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return fmt.Errorf("ping s3 bucket %s: %w", s.bucket, err)
	}
	return nil
}

// PresignOptions are response headers a presigned download asks S3 to send.
type PresignOptions struct {
	ContentType        string // e.g. image/webp
	ContentDisposition string // e.g. attachment; filename="cat.webp"
}

// Presign returns a URL that lets anyone holding it GET key directly from the
// object store for ttl (at most MaxPresignTTL), so downloads need not pass through
// pixmill. It does not check that the object exists.
func (s *Store) Presign(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return s.PresignWith(ctx, key, ttl, PresignOptions{})
}

// PresignWith is Presign with response headers set by the URL.
func (s *Store) PresignWith(ctx context.Context, key string, ttl time.Duration, o PresignOptions) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if ttl <= 0 || ttl > MaxPresignTTL {
		return "", fmt.Errorf("presign %s: ttl %v must be positive and at most %v", key, ttl, MaxPresignTTL)
	}
	in := &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.prefix + key),
	}
	if o.ContentType != "" {
		in.ResponseContentType = aws.String(o.ContentType)
	}
	if o.ContentDisposition != "" {
		in.ResponseContentDisposition = aws.String(o.ContentDisposition)
	}
	req, err := s.presign.PresignGetObject(ctx, in, awss3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}

// isNotFound reports a 404 answer (NoSuchKey, NotFound, NoSuchBucket alike).
func isNotFound(err error) bool {
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// checkKey rejects keys pixmill never makes and some servers map to files badly:
// empty, absolute, ending in "/", with empty, "." or ".." segments, NUL or
// backslash.
func checkKey(key string) error {
	bad := func(why string) error { return fmt.Errorf("invalid blob key %q: %s", key, why) }
	switch {
	case key == "":
		return bad("empty")
	case strings.HasPrefix(key, "/"):
		return bad("absolute")
	case strings.HasSuffix(key, "/"):
		return bad("ends with /")
	case strings.ContainsAny(key, "\\\x00"):
		return bad("contains a backslash or NUL")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return bad("empty or dot segment")
		}
	}
	return nil
}
