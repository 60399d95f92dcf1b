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
	"image/gif"
	"image/png"
	"io"
	"slices"

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
	// WebPQuality is used when a variant asks for lossy WebP without a quality (1–100).
	WebPQuality int
	// WebPMethod is libwebp's speed/size trade-off, 0 (fastest) to 6 (smallest).
	// BenchmarkEncodeWebP, 2.2 MP photo, WASM build, 2 busy cores: method 0 0.38 s
	// 372 KB, 2 0.52 s 346 KB, 4 1.2 s 337 KB, 6 1.9 s 327 KB. The default 2 gets
	// most of the size for little time; 3 and up cost 2–3× more.
	WebPMethod int
	// MaxFrames bounds the frames of an animated GIF, counted from its block
	// structure before anything is decoded.
	MaxFrames int
	// MaxAnimationPixels bounds frames × width × height of a GIF (the screen size is
	// counted for every frame, since each is composited to a full canvas when the
	// output is an animation). It applies to every GIF source, whatever the output.
	MaxAnimationPixels int
	// Watermarks names the images the watermark op may draw: name → file path. Each
	// file is read and decoded once, in New; names follow job's rules (1–64 letters,
	// digits, '.', '-', '_').
	Watermarks map[string]string
	// MaxWatermarkPixels bounds the width × height of each watermark file, checked
	// from its header before it is decoded; every watermark stays in memory as NRGBA
	// (4 bytes a pixel).
	MaxWatermarkPixels int
	// ShrinkOnLoad decodes JPEGs with libjpeg-turbo, at 1/8 to 6/8 scale
	// when every variant shrinks enough (shrink.go); it needs a build with
	// libjpeg-turbo (tags cgo and jpegturbo, which make sets) and is ignored
	// otherwise. Results have the same size either way and are within the quality
	// bar of docs/levers.md of Go's full-size decode. Off forces Go's decoder
	// (a switch for a libjpeg-turbo security problem, say).
	ShrinkOnLoad bool
	// TwoStageResize lets a resize, fit, fill or thumbnail that shrinks by
	// twoStageMin or more first reduce the image with a box filter to at least
	// twice its target, then resample with the op's filter (twostage.go). On by
	// default: within the quality bar, and faster on W1 (docs/levers.md).
	TwoStageResize bool
}

// DefaultConfig returns the settings pixmill uses when nothing is configured.
func DefaultConfig() Config {
	return Config{
		MaxPixels:       50_000_000,
		MaxOutputPixels: 50_000_000,
		JPEGQuality:     85,
		PNGCompression:  "speed",
		Background:      "ffffff",

		WebPQuality:        80,
		WebPMethod:         2,
		MaxFrames:          500,
		MaxAnimationPixels: 200_000_000,
		MaxWatermarkPixels: 4_000_000,
		ShrinkOnLoad:       true,
		// On: with the EXIF turn after the resize it saves W1 ~4.5 % CPU (+4.5 %
		// images/s) for 34 MB more allocated per job, within the quality bar; it
		// does not apply to W2–W4 (docs/levers.md).
		TwoStageResize: true,
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
	case c.WebPQuality < 1 || c.WebPQuality > 100:
		return fmt.Errorf("processing: webp quality must be in [1, 100], got %d", c.WebPQuality)
	case c.WebPMethod < 0 || c.WebPMethod > 6:
		return fmt.Errorf("processing: webp method must be in [0, 6], got %d", c.WebPMethod)
	case c.MaxFrames <= 0:
		return fmt.Errorf("processing: max frames must be positive, got %d", c.MaxFrames)
	case c.MaxAnimationPixels <= 0:
		return fmt.Errorf("processing: max animation pixels must be positive, got %d", c.MaxAnimationPixels)
	case c.MaxWatermarkPixels <= 0:
		return fmt.Errorf("processing: max watermark pixels must be positive, got %d", c.MaxWatermarkPixels)
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
	watermarks map[string]*image.NRGBA // decoded once; only read after New
	// earlyOrient turns every JPEG upright before its first op, as before
	// orient_late.go (tests compare the two orders).
	earlyOrient bool
}

// New returns a Processor for cfg, or an error if cfg is invalid.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bg, _ := parseHexColor(cfg.Background) // checked by Validate
	p := &Processor{cfg: cfg, pngLevel: pngLevels[cfg.PNGCompression], background: bg}
	wm, err := p.loadWatermarks(cfg.Watermarks)
	if err != nil {
		return nil, err
	}
	p.watermarks = wm
	return p, nil
}

// Info is what a source's header says about it.
type Info struct {
	Format job.Format // sniffed from the bytes
	Width  int        // as stored, before EXIF orientation
	Height int
	Frames int // 1, or an animated GIF's frame count
}

// Result is one encoded output of Run.
type Result struct {
	Variant string     // the job.Variant's name
	Format  job.Format // the format Data is encoded in
	Width   int        // of the encoded image
	Height  int
	Frames  int    // 1, or the frame count of an animated GIF output
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
	if err := p.checkWatermarks(spec); err != nil {
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
	// An animated GIF is decoded whole only when some output is a GIF; every other
	// output is made from its first frame.
	var (
		img    image.Image
		anim   *gif.GIF
		shrunk bool // decoded smaller than stored (shrink-on-load)
		late   int  // EXIF orientation still to apply after each first op
	)
	if info.Format == job.FormatGIF && info.Frames > 1 && slices.Contains(formats, job.FormatGIF) {
		if anim, err = decodeAnimation(body); err == nil {
			img = firstFrame(anim)
		}
	} else if info.Format == job.FormatJPEG {
		var d decodedJPEG
		d, err = p.decodeJPEG(body, info, spec)
		img, spec, shrunk, late = d.img, d.spec, d.shrunk, d.late
		if d.pooled {
			// Outputs are encoded bytes: nothing refers to img once Run returns.
			defer recycle(d.img.(*image.NRGBA))
		}
	} else {
		img, err = decode(body, info.Format)
	}
	if err != nil {
		return nil, readError(in, err)
	}
	if screen := image.Rect(0, 0, info.Width, info.Height); info.Format == job.FormatGIF && img.Bounds() != screen {
		// A GIF frame may cover part of the screen only: show it as a viewer does.
		if pm, ok := img.(*image.Paletted); ok {
			canvas := image.NewNRGBA(screen)
			drawFrame(canvas, pm, pm.Rect.Intersect(screen))
			img = canvas
		}
	}

	results := make([]Result, 0, len(spec.Variants))
	for i, v := range spec.Variants {
		var r Result
		if anim != nil && formats[i] == job.FormatGIF {
			r, err = p.runAnimation(ctx, anim, v)
		} else {
			// The levers do not stack: each is measured against a full-size
			// decode on its own (docs/levers.md), together they fall short.
			r, err = p.runStill(ctx, img, v, formats[i], p.cfg.TwoStageResize && !shrunk, late)
		}
		if err != nil {
			return nil, err
		}
		results = append(results, r)
	}
	return results, nil
}

// runStill makes one variant's output from a single image. late, when not 0, is
// the EXIF orientation img still needs, applied after the variant's first op
// (sizeLate).
func (p *Processor) runStill(ctx context.Context, img image.Image, v job.Variant, f job.Format, twoStage bool, late int) (Result, error) {
	ops := v.Ops
	if late != 0 {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		var err error
		if img, err = sizeLate(img.(*image.NRGBA), ops[0], late, twoStage, p.cfg.MaxOutputPixels); err != nil {
			return Result{}, err
		}
		ops = ops[1:]
	}
	out, err := p.applyOps(ctx, img, ops, twoStage)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	data, err := p.encode(out, f, v)
	if err != nil {
		return Result{}, err
	}
	b := out.Bounds()
	return Result{Variant: v.Name, Format: f, Width: b.Dx(), Height: b.Dy(), Frames: 1, Data: data}, nil
}

// runAnimation makes one variant's output, a GIF, from every frame of anim.
func (p *Processor) runAnimation(ctx context.Context, anim *gif.GIF, v job.Variant) (Result, error) {
	data, size, err := p.animate(ctx, anim, v.Ops)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Variant: v.Name, Format: job.FormatGIF, Width: size.X, Height: size.Y,
		Frames: len(anim.Image), Data: data,
	}, nil
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
