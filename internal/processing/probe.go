package processing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	// WebP is decoded with x/image (pure Go, no WASM runtime to start for a probe)
	// and encoded with gen2brain/webp (encode.go); imaging registers the others.
	xwebp "golang.org/x/image/webp"

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

// header reads r's header and checks it against the limits. Errors carry the codes
// a job fails with: CodeUnsupportedImage, CodeCorruptImage or CodeImageTooLarge.
//
// The format is sniffed here rather than by image.DecodeConfig for two reasons: GIF
// frames must be counted (scanGIF), and two WebP decoders register the same magic
// (x/image and gen2brain's, linked for encoding), so the registry's choice for WebP
// would depend on package initialisation order.
func (p *Processor) header(r io.Reader) (info Info, err error) {
	defer func() {
		// Header parsers have panicked on crafted input before (CVE-2023-36308).
		if v := recover(); v != nil {
			info, err = Info{}, decodeError(fmt.Errorf("header parser panic: %v", v))
		}
	}()
	br := bufio.NewReaderSize(r, 4096)
	magic, _ := br.Peek(vp8xFlagsOffset + 1) // short files are judged by what is there
	info.Frames = 1
	switch {
	case bytes.HasPrefix(magic, []byte("GIF87a")) || bytes.HasPrefix(magic, []byte("GIF89a")):
		info.Format = job.FormatGIF
		info.Width, info.Height, info.Frames, err = p.scanGIF(br)
		if err != nil {
			return Info{}, err
		}
	case len(magic) >= 12 && string(magic[:4]) == "RIFF" && string(magic[8:12]) == "WEBP":
		if animatedWebP(magic) {
			return Info{}, job.Errorf(job.CodeUnsupportedImage, "animated WebP is not supported")
		}
		info.Format = job.FormatWebP
		cfg, err := xwebp.DecodeConfig(br)
		if err != nil {
			return Info{}, decodeError(err)
		}
		info.Width, info.Height = cfg.Width, cfg.Height
	default:
		cfg, name, err := image.DecodeConfig(br)
		if errors.Is(err, image.ErrFormat) {
			return Info{}, job.Wrap(job.CodeUnsupportedImage, err,
				"not an image in a supported format (jpeg, png, gif, tiff, bmp or webp)")
		}
		if err != nil {
			return Info{}, decodeError(err)
		}
		format, ok := sourceFormats[name]
		if !ok || format == job.FormatGIF || format == job.FormatWebP {
			// GIF and WebP were sniffed above; a match here is some other decoder's.
			return Info{}, job.Errorf(job.CodeUnsupportedImage, "%s images are not supported", name)
		}
		info.Format, info.Width, info.Height = format, cfg.Width, cfg.Height
	}
	if err := p.checkSize(info.Width, info.Height); err != nil {
		return Info{}, err
	}
	return info, nil
}

// checkSize refuses a source whose header says w×h is over MaxPixels.
func (p *Processor) checkSize(w, h int) error {
	if w <= 0 || h <= 0 || int64(w)*int64(h) > int64(p.cfg.MaxPixels) {
		return job.Errorf(job.CodeImageTooLarge,
			"image is %d×%d, over the limit of %d pixels", w, h, p.cfg.MaxPixels)
	}
	return nil
}

// vp8xFlagsOffset is where the flags byte of a WebP file's VP8X chunk is: RIFF
// header (12 bytes), chunk id and size (8).
const vp8xFlagsOffset = 20

// animatedWebP reports whether a WebP file's first bytes are an extended (VP8X)
// header with the animation flag. Neither decoder pixmill uses reads animations
// correctly (x/image sees no frame, gen2brain's would be the first only), so they
// are refused by name instead of failing as "corrupt".
func animatedWebP(head []byte) bool {
	const animationFlag = 1 << 1
	return len(head) > vp8xFlagsOffset && string(head[12:16]) == "VP8X" && head[vp8xFlagsOffset]&animationFlag != 0
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
