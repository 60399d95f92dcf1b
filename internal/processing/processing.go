// Package processing owns everything pixmill does to pixels: it identifies a source
// from its bytes and checks its header against the pixel limit before anything is
// decoded, decodes it once (EXIF orientation applied), runs each variant's operations
// as an ordered list of small steps, and encodes the results. It is the only importer
// of github.com/disintegration/imaging.
package processing

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/pixmill/pixmill/internal/job"
)

// Config tunes a Processor. Start from DefaultConfig; New validates it.
type Config struct {
	// MaxPixels bounds width×height of a source, read from its header before any decode.
	MaxPixels int
	// MaxOutputPixels bounds width×height of every image a step would allocate
	// (intermediate or final), checked before it is allocated.
	MaxOutputPixels int
	// JPEGQuality is used when a variant asks for JPEG without a quality (1–100).
	JPEGQuality int
	// PNGCompression is "default", "speed", "best" or "none". "best" is very slow.
	PNGCompression string
	// Background is the opaque hex colour (rgb or rrggbb, "#" optional) that alpha is
	// flattened onto for output formats without alpha (jpeg, bmp).
	Background string
}

// DefaultConfig returns the settings pixmill uses when nothing is configured.
func DefaultConfig() Config {
	return Config{
		MaxPixels:       50_000_000,
		MaxOutputPixels: 50_000_000,
		JPEGQuality:     85,
		PNGCompression:  "speed",
		Background:      "ffffff",
	}
}

// pngLevels maps Config.PNGCompression to the encoder's levels.
var pngLevels = map[string]png.CompressionLevel{
	"default": png.DefaultCompression,
	"speed":   png.BestSpeed,
	"best":    png.BestCompression,
	"none":    png.NoCompression,
}

// Validate reports the first setting that is out of range.
func (c Config) Validate() error {
	switch {
	case c.MaxPixels <= 0:
		return fmt.Errorf("processing: max pixels must be positive, got %d", c.MaxPixels)
	case c.MaxOutputPixels <= 0:
		return fmt.Errorf("processing: max output pixels must be positive, got %d", c.MaxOutputPixels)
	case c.JPEGQuality < 1 || c.JPEGQuality > 100:
		return fmt.Errorf("processing: jpeg quality must be in [1, 100], got %d", c.JPEGQuality)
	}
	if _, ok := pngLevels[c.PNGCompression]; !ok {
		return fmt.Errorf("processing: png compression %q: want default, speed, best or none", c.PNGCompression)
	}
	bg, err := parseHexColor(c.Background)
	if err != nil {
		return fmt.Errorf("processing: background: %w", err)
	}
	if bg.A != 0xff {
		return fmt.Errorf("processing: background %q must be opaque", c.Background)
	}
	return nil
}

// Processor decodes, transforms and encodes images. It holds no per-job state and is
// safe for concurrent use.
type Processor struct {
	cfg        Config
	pngLevel   png.CompressionLevel
	background color.NRGBA
}

// New returns a Processor for cfg, or an error if cfg is invalid.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bg, _ := parseHexColor(cfg.Background) // checked by Validate
	return &Processor{cfg: cfg, pngLevel: pngLevels[cfg.PNGCompression], background: bg}, nil
}

// Info is what a source's header says about it.
type Info struct {
	Format job.Format // sniffed from the bytes
	Width  int        // as stored, before EXIF orientation
	Height int
}

// Result is one encoded output of Run.
type Result struct {
	Variant string     // the job.Variant's name
	Format  job.Format // the format Data is encoded in
	Width   int        // of the encoded image
	Height  int
	Data    []byte // the encoded file
}

// Run decodes src once and produces one Result per variant of spec, in order. The
// source header is checked against MaxPixels before decoding, so Run is safe on
// input that was never probed. ctx is checked before decoding, between steps and
// before each encode.
//
// Errors are *job.Error, with two exceptions: a canceled or expired ctx returns
// ctx.Err(), and an error from reading src is returned wrapped, not disguised as a
// corrupt image, so that the caller can retry it.
func (p *Processor) Run(ctx context.Context, src io.Reader, spec job.Spec) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := spec.Validate(job.Limits{}); err != nil {
		return nil, err
	}
	in := &sourceReader{r: src}
	info, body, err := p.open(in)
	if err != nil {
		return nil, readError(in, err)
	}
	// Refuse impossible outputs before paying for the decode.
	formats := make([]job.Format, len(spec.Variants))
	for i, v := range spec.Variants {
		if formats[i], err = outputFormat(v.Format, info.Format); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	img, err := decode(body)
	if err != nil {
		return nil, readError(in, err)
	}

	results := make([]Result, 0, len(spec.Variants))
	for i, v := range spec.Variants {
		out, err := p.apply(ctx, img, v.Ops)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := p.encode(out, formats[i], v.Quality)
		if err != nil {
			return nil, err
		}
		b := out.Bounds()
		results = append(results, Result{
			Variant: v.Name, Format: formats[i], Width: b.Dx(), Height: b.Dy(), Data: data,
		})
	}
	return results, nil
}

// readError prefers the source's own read error, if it had one, to err.
func readError(src *sourceReader, err error) error {
	if src.err != nil {
		return fmt.Errorf("read source: %w", src.err)
	}
	return err
}

// checkPixels refuses a w×h image over limit before anything allocates it.
func checkPixels(w, h, limit int) error {
	if w <= 0 || h <= 0 {
		return job.Errorf(job.CodeInvalid, "the result would be empty (%d×%d)", w, h)
	}
	if int64(w)*int64(h) > int64(limit) {
		return job.Errorf(job.CodeImageTooLarge, "the result would be %d×%d, over the limit of %d pixels", w, h, limit)
	}
	return nil
}

// size returns the width and height of img.
func size(img image.Image) (int, int) {
	b := img.Bounds()
	return b.Dx(), b.Dy()
}
