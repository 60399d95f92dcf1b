package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v3"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/job"
)

// getResult streams one output of a completed job with its content type, a strong
// ETag (304 on If-None-Match), single byte ranges (206/416) and a download name.
func (s *Server) getResult(c fiber.Ctx) error {
	j, err := s.lookup(c)
	if err != nil {
		return err
	}
	ctx, id := c.Context(), j.ID
	switch j.Status {
	case job.StatusCompleted:
	case job.StatusQueued, job.StatusProcessing:
		return job.Errorf(job.CodeNotReady, "job is %s; poll /v1/jobs/%s until it is completed", j.Status, id)
	default:
		return job.Errorf(job.CodeConflict, "job is %s; it has no result", j.Status)
	}
	variant := c.Params("variant")
	out, ok := j.Output(variant)
	if !ok {
		return job.Errorf(job.CodeNotFound, "job has no variant %q", variant)
	}

	disposition := fmt.Sprintf(`inline; filename="%s"`, downloadName(j, out))
	if s.deps.Presign != nil {
		url, err := s.deps.Presign(ctx, job.ResultKey(id, out.Variant), out.Format.ContentType(), disposition)
		if err != nil {
			return job.Wrap(job.CodeUnavailable, err, "file storage unavailable")
		}
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Redirect().Status(http.StatusTemporaryRedirect).To(url)
	}
	etag := `"` + out.ETag + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "private, max-age=86400")
	c.Set(fiber.HeaderContentDisposition, disposition)
	c.Set(fiber.HeaderAcceptRanges, "bytes")
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
		return c.SendStatus(http.StatusNotModified)
	}

	obj, err := s.deps.Blob.Open(ctx, job.ResultKey(id, out.Variant))
	if errors.Is(err, blob.ErrNotFound) {
		return job.Wrap(job.CodeInternal, err, "result file missing")
	}
	if err != nil {
		return job.Wrap(job.CodeUnavailable, err, "file storage unavailable")
	}
	size := obj.Size()
	start, length, partial, err := parseRange(c.Get(fiber.HeaderRange), size)
	if err != nil {
		obj.Close()
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes */%d", size))
		return err
	}
	if partial {
		if _, err := obj.Seek(start, io.SeekStart); err != nil {
			obj.Close()
			return job.Wrap(job.CodeUnavailable, err, "file storage unavailable")
		}
		c.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, size))
		c.Status(http.StatusPartialContent)
	}
	c.Set(fiber.HeaderContentType, out.Format.ContentType())
	// fasthttp closes the stream (an io.Closer) once the response is written.
	return c.SendStream(readCloser{io.LimitReader(obj, length), obj}, int(length))
}

type readCloser struct {
	io.Reader
	io.Closer
}

// parseRange reads a Range header for a body of size bytes. It serves one range;
// a header it does not understand, or several ranges, get the whole body, as HTTP
// allows. An unsatisfiable range is an error (416).
func parseRange(h string, size int64) (start, length int64, partial bool, err error) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if h == "" || !ok || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0, size, false, nil
	}
	unsatisfiable := job.Errorf(job.CodeRangeNotSatisfiable, "range %s is outside the %d-byte result", spec, size)
	if first == "" { // suffix: the last n bytes
		n, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || n < 0 {
			return 0, size, false, nil
		}
		if n == 0 || size == 0 {
			return 0, 0, false, unsatisfiable
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	s, perr := strconv.ParseInt(first, 10, 64)
	if perr != nil || s < 0 {
		return 0, size, false, nil
	}
	if s >= size {
		return 0, 0, false, unsatisfiable
	}
	e := size - 1
	if last != "" {
		le, perr := strconv.ParseInt(last, 10, 64)
		if perr != nil || le < s {
			return 0, size, false, nil
		}
		e = min(le, size-1)
	}
	return s, e - s + 1, true, nil
}

func etagMatches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// downloadName builds a file name like photo_800w.jpg: the uploaded name's stem, the
// variant when it is not the default, the size the first sizing op asked for, and the
// output format's extension. Only safe characters are kept.
func downloadName(j *job.Job, out job.Output) string {
	stem := strings.TrimSuffix(j.Source.Filename, path.Ext(j.Source.Filename))
	stem = safeName(stem)
	if stem == "" {
		stem = "image"
	}
	if out.Variant != job.DefaultVariant {
		stem += "_" + safeName(out.Variant)
	}
	for _, v := range j.Spec.Variants {
		if v.Name == out.Variant {
			stem += sizeSuffix(v.Ops)
		}
	}
	return stem + out.Format.Ext()
}

// sizeSuffix describes the first op that asks for a size: _800w, _600h or _200x200.
func sizeSuffix(ops []job.Op) string {
	for _, op := range ops {
		switch {
		case op.Width == 0 && op.Height == 0:
			continue
		case op.Height == 0:
			return fmt.Sprintf("_%dw", op.Width)
		case op.Width == 0:
			return fmt.Sprintf("_%dh", op.Height)
		default:
			return fmt.Sprintf("_%dx%d", op.Width, op.Height)
		}
	}
	return ""
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('_')
		}
		if b.Len() >= 100 {
			break
		}
	}
	return strings.Trim(b.String(), "._")
}
