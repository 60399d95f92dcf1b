package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/requestid"
	"github.com/google/uuid"

	"github.com/pixmill/pixmill/internal/job"
)

const (
	maxFieldBytes  = 64 << 10 // one form field (ops, variants…)
	maxFields      = 32
	multipartSlack = 1 << 20 // headers, boundaries and fields around the file
	// uploadBuffer is the read buffer of an upload's body: mime/multipart's own is
	// 4 KiB, a read system call per 4 KiB of a photo (multipart uses a larger
	// *bufio.Reader it is given as is).
	uploadBuffer = 256 << 10
	// refusedBodyDrain is how much of a refused upload's unread body is read and
	// thrown away before the answer, so that the client, still sending, reads it.
	refusedBodyDrain = 4 << 20
	cleanupDeadline  = 10 * time.Second
)

// uploadForm holds the fields a POST /v1/jobs carried besides the file, by name.
type uploadForm map[string]string

// formFields are the fields an upload may carry besides the file.
var formFields = []string{"ops", "format", "quality", "lossless", "priority", "variants", "preset"}

// createJob streams the one file part to storage with its own byte limit, sniffs
// its format and reads its header, validates the requested work and commits the job
// as queued. It never decodes the image and never starts goroutines.
func (s *Server) createJob(c fiber.Ctx) (err error) {
	defer func() {
		if err != nil {
			// The body may be partly unread: the connection cannot carry another
			// request. Reading a bounded rest of it first lets a client that is
			// still sending get the answer instead of a reset connection.
			if body := c.Request().BodyStream(); body != nil {
				_, _ = io.CopyN(io.Discard, body, refusedBodyDrain)
			}
			c.RequestCtx().SetConnectionClose()
		}
	}()
	if s.isDraining() {
		return job.Errorf(job.CodeUnavailable, "shutting down; retry on another node or later")
	}
	ctx := c.Context()
	// Cheap early refusal before reading a byte of a possibly large body; Create
	// checks again atomically.
	if n, err := s.deps.Store.QueueDepth(ctx); err != nil {
		return job.Wrap(job.CodeUnavailable, err, "job store unavailable")
	} else if n >= s.cfg.QueueCapacity {
		return queueFull()
	}
	if n := int64(c.Request().Header.ContentLength()); n > s.cfg.MaxUploadBytes+multipartSlack {
		return tooLarge(s.cfg.MaxUploadBytes)
	}
	boundary, err := multipartBoundary(c.Get(fiber.HeaderContentType))
	if err != nil {
		return err
	}
	body := c.Request().BodyStream()
	if body == nil { // not streamed (small body, or in-memory tests)
		body = bytes.NewReader(c.Request().Body())
	}
	mr := multipart.NewReader(bufio.NewReaderSize(&limitedReader{r: body, left: s.cfg.MaxUploadBytes + multipartSlack}, uploadBuffer), boundary)

	id := uuid.NewString()
	// The file's first bytes, kept while it streams to storage: the header probe
	// reads them instead of reading the stored file back (a GET on S3).
	head := &headBuffer{b: make([]byte, 0, probeHead)}
	j := &job.Job{ID: id}
	form := uploadForm{}
	stored, committed := false, false
	defer func() {
		if stored && !committed { // refused: leave nothing behind
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupDeadline)
			defer cancel()
			if err := s.deps.Blob.Delete(cctx, job.SourceKey(id)); err != nil {
				s.deps.Log.Error("remove rejected upload", "job_id", id, "err", err)
			}
		}
	}()

	for parts := 0; ; parts++ {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s.bodyError(err, "read multipart body")
		}
		if parts >= maxFields {
			return job.Errorf(job.CodeInvalid, "too many form parts")
		}
		name := p.FormName()
		if name == "file" {
			if stored {
				return job.Errorf(job.CodeInvalid, "more than one file part; send exactly one part named \"file\"")
			}
			stored = true
			n, err := s.deps.Blob.Put(ctx, job.SourceKey(id), io.TeeReader(&limitedReader{r: p, left: s.cfg.MaxUploadBytes}, head))
			if err != nil {
				if errors.Is(err, errTooLarge) {
					return tooLarge(s.cfg.MaxUploadBytes)
				}
				return s.bodyError(err, "store upload")
			}
			j.Source.Bytes = n
			j.Source.Filename = cleanFilename(p.FileName())
			continue
		}
		if err := form.set(name, p); err != nil {
			return err
		}
	}
	if !stored {
		return job.Errorf(job.CodeInvalid, "no file part; send the image as a multipart part named \"file\"")
	}
	if j.Source.Bytes == 0 {
		return job.Errorf(job.CodeInvalid, "the file is empty")
	}
	spec, prio, err := form.spec(s.cfg.Presets)
	if err != nil {
		return err
	}
	j.Priority = prio
	if err := s.probe(ctx, j, head.b); err != nil {
		return err
	}
	for i := range spec.Variants {
		if spec.Variants[i].Format == "" && !s.deps.CanEncode(j.Source.Format) {
			// The input's format cannot be written: PNG keeps every pixel.
			spec.Variants[i].Format = job.FormatPNG
		}
		if f := spec.Variants[i].Format; f != "" && !s.deps.CanEncode(f) {
			return job.Errorf(job.CodeInvalid, "output format %s is not supported", f)
		}
	}
	if err := spec.Validate(s.cfg.Limits); err != nil {
		return err
	}
	if err := s.checkWatermarks(spec); err != nil {
		return err
	}
	j.Spec = spec

	if err := s.deps.Store.Create(ctx, j, s.cfg.QueueCapacity); err != nil {
		if job.ErrorCode(err) == job.CodeQueueFull {
			return queueFull()
		}
		return job.Wrap(job.CodeUnavailable, err, "job store unavailable")
	}
	committed = true
	s.deps.Notify()
	s.deps.Observer.Uploaded(j.Source.Bytes)
	s.deps.Log.Info("job accepted", "job_id", id, "request_id", requestid.FromContext(c),
		"bytes", j.Source.Bytes, "format", j.Source.Format, "priority", j.Priority.String())
	c.Location("/v1/jobs/" + id)
	return c.Status(http.StatusAccepted).JSON(toJSON(j))
}

// probe reads the upload's format and size from its header: from head, the
// file's first bytes, when they are enough to tell (a header within them, or the
// whole file), else from the stored file (a JPEG with large metadata before its
// frame header, a GIF, whose frames are counted to the end).
func (s *Server) probe(ctx context.Context, j *job.Job, head []byte) error {
	whole := int64(len(head)) == j.Source.Bytes
	r := &headReader{b: head, whole: whole}
	f, w, h, err := s.deps.Probe(r)
	if err != nil && r.short && !whole {
		obj, oerr := s.deps.Blob.Open(ctx, job.SourceKey(j.ID))
		if oerr != nil {
			return job.Wrap(job.CodeUnavailable, oerr, "file storage unavailable")
		}
		defer obj.Close()
		f, w, h, err = s.deps.Probe(obj)
	}
	if err != nil {
		return err
	}
	j.Source.Format, j.Source.Width, j.Source.Height = f, w, h
	return nil
}

// probeHead is how much of an upload is kept for the header probe: the frame
// header of a camera JPEG follows up to ~64 KiB of EXIF and ICC data.
const probeHead = 128 << 10

// headBuffer keeps the first cap(b) bytes written to it and drops the rest.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := cap(h.b) - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// headReader reads b, then io.EOF if b is the whole file (whole), else
// io.ErrUnexpectedEOF, remembering that it was asked for more than b (short): the
// probe's verdict then may be the head's, not the file's.
type headReader struct {
	b     []byte
	whole bool
	short bool
}

func (r *headReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		if r.whole {
			return 0, io.EOF
		}
		r.short = true
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (f uploadForm) set(name string, p *multipart.Part) error {
	if !slices.Contains(formFields, name) {
		return job.Errorf(job.CodeInvalid, "unknown field %q (want file or one of %s)", name, strings.Join(formFields, ", "))
	}
	if _, dup := f[name]; dup {
		return job.Errorf(job.CodeInvalid, "field %q given twice", name)
	}
	b, err := io.ReadAll(io.LimitReader(p, maxFieldBytes+1))
	if err != nil {
		return job.Wrap(job.CodeInvalid, err, "read field "+name)
	}
	if len(b) > maxFieldBytes {
		return job.Errorf(job.CodeInvalid, "field %q is longer than %d bytes", name, maxFieldBytes)
	}
	f[name] = strings.TrimSpace(string(b))
	return nil
}

// spec turns the form fields into the Spec and priority they ask for. A preset gives
// the ops, format and quality; format and quality fields override its own.
func (f uploadForm) spec(presets map[string]job.Variant) (job.Spec, job.Priority, error) {
	prio, err := job.ParsePriority(f["priority"])
	if err != nil {
		return job.Spec{}, 0, err
	}
	if f["variants"] != "" {
		if f["ops"] != "" || f["format"] != "" || f["quality"] != "" || f["lossless"] != "" || f["preset"] != "" {
			return job.Spec{}, 0, job.Errorf(job.CodeInvalid, "give either variants or ops/preset/format/quality, not both")
		}
		spec, err := parseVariants(f["variants"])
		return spec, prio, err
	}
	v := job.Variant{Name: job.DefaultVariant}
	if f["preset"] != "" {
		p, ok := presets[f["preset"]]
		if !ok {
			return job.Spec{}, 0, job.Errorf(job.CodeInvalid, "unknown preset %q (have %s)", f["preset"], presetNames(presets))
		}
		if f["ops"] != "" {
			return job.Spec{}, 0, job.Errorf(job.CodeInvalid, "give either preset or ops, not both")
		}
		v.Ops, v.Format, v.Quality = p.Ops, p.Format, p.Quality
	} else if v.Ops, err = job.ParseOps(f["ops"]); err != nil {
		return job.Spec{}, 0, err
	}
	if f["format"] != "" {
		if v.Format, err = job.ParseFormat(f["format"]); err != nil {
			return job.Spec{}, 0, err
		}
	}
	if f["quality"] != "" {
		q, err := strconv.Atoi(f["quality"])
		if err != nil || q < 1 || q > 100 {
			return job.Spec{}, 0, job.Errorf(job.CodeInvalid, "quality must be an integer from 1 to 100")
		}
		v.Quality = q
	}
	if f["lossless"] != "" {
		b, err := strconv.ParseBool(f["lossless"])
		if err != nil {
			return job.Spec{}, 0, job.Errorf(job.CodeInvalid, "lossless must be true or false")
		}
		v.Lossless = b
	}
	return job.Spec{Variants: []job.Variant{v}}, prio, nil
}

// parseVariants reads the variants field: a JSON object, name → {ops, format, quality},
// where ops is an array or a compact string. Variants come out sorted by name so a
// job's outputs have a stable order.
func parseVariants(s string) (job.Spec, error) {
	var raw map[string]struct {
		Ops      json.RawMessage `json:"ops"`
		Format   string          `json:"format"`
		Quality  int             `json:"quality"`
		Lossless bool            `json:"lossless"`
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return job.Spec{}, job.Errorf(job.CodeInvalid, "variants: invalid JSON object: %v", err)
	}
	var spec job.Spec
	for _, n := range slices.Sorted(maps.Keys(raw)) {
		r := raw[n]
		ops, err := job.UnmarshalOps(r.Ops)
		if err != nil {
			return job.Spec{}, err
		}
		f, err := job.ParseFormat(r.Format)
		if err != nil {
			return job.Spec{}, err
		}
		spec.Variants = append(spec.Variants, job.Variant{Name: n, Ops: ops, Format: f, Quality: r.Quality, Lossless: r.Lossless})
	}
	return spec, nil
}

func multipartBoundary(contentType string) (string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", job.Errorf(job.CodeInvalid, "send the upload as multipart/form-data with a part named \"file\"")
	}
	return params["boundary"], nil
}

func queueFull() error {
	return job.Errorf(job.CodeQueueFull, "the queue is full; retry later")
}

func tooLarge(limit int64) error {
	return job.Errorf(job.CodeTooLarge, "the upload is larger than %d bytes", limit)
}

// bodyError classifies a failure while reading the request body: the body limit,
// a malformed body, or the storage failing.
func (s *Server) bodyError(err error, what string) error {
	var mpErr interface{ Timeout() bool }
	switch {
	case errors.Is(err, errTooLarge):
		return tooLarge(s.cfg.MaxUploadBytes)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &mpErr):
		return job.Wrap(job.CodeInvalid, err, "the request body ended early or timed out")
	case strings.HasPrefix(err.Error(), "multipart:"):
		return job.Errorf(job.CodeInvalid, "malformed multipart body: %v", err)
	}
	return job.Wrap(job.CodeUnavailable, err, what+" failed")
}

var errTooLarge = errors.New("upload over the byte limit")

// limitedReader fails with errTooLarge once more than left bytes are read, so that
// an oversized upload is refused while it streams, not after.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// cleanFilename keeps the base name of what the client called its file, for
// download names only.
func cleanFilename(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if len(name) > 255 {
		name = name[:255]
	}
	return strings.ToValidUTF8(name, "")
}

func presetNames(presets map[string]job.Variant) string {
	if len(presets) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(presets)), ", ")
}

// checkWatermarks refuses a watermark op naming an image the node does not have.
func (s *Server) checkWatermarks(spec job.Spec) error {
	for _, v := range spec.Variants {
		for _, op := range v.Ops {
			if op.Name == "watermark" && !s.deps.HasWatermark(op.Image) {
				return job.Errorf(job.CodeInvalid, "watermark: unknown image %q", op.Image)
			}
		}
	}
	return nil
}
