package processing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	// WebP is decoded (never encoded) with x/image; imaging registers the others.
	_ "golang.org/x/image/webp"

	"github.com/pixmill/pixmill/internal/job"
)

// sourceFormats maps the names image.DecodeConfig reports to the formats pixmill
// accepts; a decoder someone else registers is not accepted by accident.
var sourceFormats = map[string]job.Format{
	"jpeg": job.FormatJPEG,
	"png":  job.FormatPNG,
	"gif":  job.FormatGIF,
	"tiff": job.FormatTIFF,
	"bmp":  job.FormatBMP,
	"webp": job.FormatWebP,
}

// Probe identifies a source from its bytes (never from a name) and reads its header
// only, so it allocates no pixels. Bytes that are not jpeg, png, gif, tiff, bmp or
// webp, or whose header Go cannot read (an arithmetic-coded JPEG, say), are an
// *job.Error with CodeUnsupportedMedia; a header over MaxPixels is CodeImageTooLarge.
func (p *Processor) Probe(r io.Reader) (Info, error) {
	src := &sourceReader{r: r}
	info, err := p.header(src)
	if err != nil {
		if src.err != nil {
			return Info{}, fmt.Errorf("read source: %w", src.err)
		}
		var e *job.Error
		if errors.As(err, &e) && e.Code != job.CodeImageTooLarge {
			return Info{}, job.Wrap(job.CodeUnsupportedMedia, e.Err, e.Message)
		}
		return Info{}, err
	}
	return info, nil
}

// open checks the header of src like Probe does and returns a reader that yields
// all of src again: the header bytes, kept while they were read, then the rest.
func (p *Processor) open(src io.Reader) (Info, io.Reader, error) {
	var head bytes.Buffer
	info, err := p.header(io.TeeReader(src, &head))
	if err != nil {
		return Info{}, nil, err
	}
	return info, io.MultiReader(&head, src), nil
}

// header reads r's header and checks it against MaxPixels. Errors carry the codes a
// job fails with: CodeUnsupportedImage, CodeCorruptImage or CodeImageTooLarge.
func (p *Processor) header(r io.Reader) (Info, error) {
	cfg, name, err := image.DecodeConfig(r)
	if errors.Is(err, image.ErrFormat) {
		return Info{}, job.Wrap(job.CodeUnsupportedImage, err,
			"not an image in a supported format (jpeg, png, gif, tiff, bmp or webp)")
	}
	if err != nil {
		return Info{}, decodeError(err)
	}
	format, ok := sourceFormats[name]
	if !ok {
		return Info{}, job.Errorf(job.CodeUnsupportedImage, "%s images are not supported", name)
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 || int64(w)*int64(h) > int64(p.cfg.MaxPixels) {
		return Info{}, job.Errorf(job.CodeImageTooLarge,
			"image is %d×%d, over the limit of %d pixels", w, h, p.cfg.MaxPixels)
	}
	return Info{Format: format, Width: w, Height: h}, nil
}

// decodeError classifies a decoder error: features Go does not implement are
// CodeUnsupportedImage, anything else means the bytes are damaged.
func decodeError(err error) *job.Error {
	var (
		jpegErr jpeg.UnsupportedError
		pngErr  png.UnsupportedError
		tiffErr tiff.UnsupportedError
	)
	if errors.As(err, &jpegErr) || errors.As(err, &pngErr) || errors.As(err, &tiffErr) ||
		errors.Is(err, bmp.ErrUnsupported) {
		return job.Wrap(job.CodeUnsupportedImage, err, "the image uses a feature that is not supported")
	}
	return job.Wrap(job.CodeCorruptImage, err, "image data is corrupt or truncated")
}

// sourceReader remembers the first read error other than io.EOF, so that a source
// that could not be read (a storage failure, worth retrying) is not reported as a
// corrupt image (permanent): decoders turn any read error into a format error.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
		s.err = err
	}
	return n, err
}
