package processing_test

// Micro-benchmarks of the processing pipeline on real photos, for `make bench` and
// benchstat. They use only the package's exported API (New, DefaultConfig, Run), so
// every number is the cost of a Processor.Run call; each group isolates one stage by
// making the others negligible, and carries its own baseline to subtract:
//
//   - BenchmarkDecode/<codec>-<size>: decode (EXIF orientation applied) followed by a
//     1×1 crop encoded as PNG, which costs microseconds. SetBytes is the file size,
//     so MB/s is compressed input read per second.
//   - BenchmarkEncode/<codec>-2mp: decode of an uncompressed BMP of the 2 MP photo
//     (see BenchmarkDecode/bmp-2mp, the baseline) followed by the full-size encode.
//     SetBytes is width×height×4, the pixels encoded; out-bytes is the file size.
//   - BenchmarkOp/<op>: decode of the 2 MP JPEG, the operation, a 1×1 crop encoded as
//     PNG. BenchmarkOp/none is the baseline (decode and the crop only); the
//     operation's own cost is the difference. SetBytes is width×height×4 of the
//     source.
//   - BenchmarkWorkload/W1..W5: the reference workloads of cmd/pixmill-bench, one Run
//     at a time (imaging spreads each operation over every core). SetBytes is the
//     file size.
//
// The large photos are not in the repository: they are read from
// $PIXMILL_BENCH_IMAGES (default ../../../shared/testdata/images, relative to this
// package), and a benchmark whose photo is absent is skipped. Sources in other
// formats (PNG, BMP, TIFF, WebP, GIF of the 2 MP photo) are made from it once per
// process, deterministically; small files come from testdata/images.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/processing"
)

// Photos of the shared image set (see its MANIFEST.tsv).
const (
	photo2MP  = "photo-2mp-1920x1080-road.jpg"
	photo12MP = "photo-12mp-4032x3024-iphone-displayp3-orient6.jpg"
	photo24MP = "photo-24mp-4000x6000-milkyway-srgb.jpg"
)

// benchSource is one input of the benchmarks: a file that is read, or a file made
// from the 2 MP photo.
type benchSource struct {
	file   string       // name in the large-image or the small-image folder
	small  bool         // file is in testdata/images rather than the large-image folder
	encode job.Format   // if set, the 2 MP photo re-encoded in this format by Run
	stdPNG bool         // the 2 MP photo re-encoded as PNG by image/png (W5's source)
	cache  *sourceCache // filled on first use
}

type sourceCache struct {
	once sync.Once
	data []byte
	err  error
}

// sources names every input by the size label used in benchmark names.
var sources = map[string]*benchSource{
	"jpeg-2mp":             {file: photo2MP},
	"jpeg-12mp":            {file: photo12MP},
	"jpeg-24mp":            {file: photo24MP},
	"jpeg-progressive-1mp": {file: "jpeg-progressive-999x999.jpg", small: true},
	"png-2mp":              {stdPNG: true},
	"bmp-2mp":              {encode: job.FormatBMP},
	"tiff-2mp":             {encode: job.FormatTIFF},
	"webp-2mp":             {encode: job.FormatWebP},
	"gif-2mp":              {encode: job.FormatGIF},
	"webp-lossless-small":  {file: "webp-lossless-yellow-rose.webp", small: true},
	"gif-animated-small":   {file: "gif-animated-42frames-local-palettes-245x245.gif", small: true},
}

func init() {
	for _, s := range sources {
		s.cache = &sourceCache{}
	}
}

// largeImageDir is where the photos too large for the repository are.
func largeImageDir() string {
	if d := os.Getenv("PIXMILL_BENCH_IMAGES"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "testdata", "images")
}

// source returns the bytes of the named input, skipping b if its photo is absent.
func source(b *testing.B, name string) []byte {
	b.Helper()
	s, ok := sources[name]
	if !ok {
		b.Fatalf("no benchmark source %q", name)
	}
	s.cache.once.Do(func() { s.cache.data, s.cache.err = s.load() })
	if errors.Is(s.cache.err, fs.ErrNotExist) {
		b.Skipf("%v (set PIXMILL_BENCH_IMAGES to the shared image folder)", s.cache.err)
	}
	if s.cache.err != nil {
		b.Fatalf("source %s: %v", name, s.cache.err)
	}
	return s.cache.data
}

func (s *benchSource) load() ([]byte, error) {
	if s.file != "" {
		dir := largeImageDir()
		if s.small {
			dir = filepath.Join("..", "..", "testdata", "images")
		}
		return os.ReadFile(filepath.Join(dir, s.file))
	}
	photo, err := os.ReadFile(filepath.Join(largeImageDir(), photo2MP))
	if err != nil {
		return nil, err
	}
	if s.stdPNG {
		return stdPNG(photo)
	}
	p := newProcessor()
	res, err := p.Run(context.Background(), bytes.NewReader(photo), spec(nil, s.encode, 0))
	if err != nil {
		return nil, fmt.Errorf("re-encode %s as %s: %w", photo2MP, s.encode, err)
	}
	return res[0].Data, nil
}

// stdPNG re-encodes a JPEG as a PNG with the standard library's default
// compression: a deterministic large PNG, like the one cmd/pixmill-bench makes for W5.
func stdPNG(jpg []byte) ([]byte, error) {
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", photo2MP, err)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return out.Bytes(), nil
}

func newProcessor() *processing.Processor {
	p, err := processing.New(processing.DefaultConfig())
	if err != nil {
		panic(err) // the defaults are valid
	}
	return p
}

// spec is a one-output job.
func spec(ops []job.Op, f job.Format, quality int) job.Spec {
	if ops == nil {
		ops = []job.Op{}
	}
	return job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant, Ops: ops, Format: f, Quality: quality}}}
}

// pixel is the 1×1 crop that makes a benchmark's output cost nothing to encode.
var pixel = job.Op{Name: "crop", Width: 1, Height: 1}

// runLoop runs spec on src until b is done and returns the last result.
func runLoop(b *testing.B, p *processing.Processor, src []byte, s job.Spec) processing.Result {
	b.Helper()
	b.ReportAllocs()
	ctx := context.Background()
	var last processing.Result
	for b.Loop() {
		res, err := p.Run(ctx, bytes.NewReader(src), s)
		if err != nil {
			b.Fatal(err)
		}
		last = res[0]
	}
	return last
}

// pixelBytes is width×height×4 of src's header.
func pixelBytes(b *testing.B, p *processing.Processor, src []byte) int64 {
	b.Helper()
	info, err := p.Probe(bytes.NewReader(src))
	if err != nil {
		b.Fatal(err)
	}
	return int64(info.Width) * int64(info.Height) * 4
}

// BenchmarkDecode measures decoding each codec (see the file comment).
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{
		"jpeg-2mp", "jpeg-12mp", "jpeg-24mp", "jpeg-progressive-1mp",
		"png-2mp", "bmp-2mp", "tiff-2mp", "webp-2mp", "gif-2mp",
		"webp-lossless-small", "gif-animated-small",
	} {
		b.Run(name, func(b *testing.B) {
			src := source(b, name)
			b.SetBytes(int64(len(src)))
			runLoop(b, newProcessor(), src, spec([]job.Op{pixel}, job.FormatPNG, 0))
		})
	}
}

// BenchmarkEncode measures encoding the 2 MP photo in each output format, from an
// uncompressed BMP (subtract BenchmarkDecode/bmp-2mp for the encoder alone).
func BenchmarkEncode(b *testing.B) {
	for _, tc := range []struct {
		name    string
		format  job.Format
		quality int
	}{
		{"jpeg-q80-2mp", job.FormatJPEG, 80},
		{"jpeg-q85-2mp", job.FormatJPEG, 0}, // the configured default
		{"png-2mp", job.FormatPNG, 0},
		{"webp-q80-2mp", job.FormatWebP, 0},
		{"tiff-2mp", job.FormatTIFF, 0},
		{"bmp-2mp", job.FormatBMP, 0},
		{"gif-2mp", job.FormatGIF, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := source(b, "bmp-2mp")
			p := newProcessor()
			b.SetBytes(pixelBytes(b, p, src))
			r := runLoop(b, p, src, spec(nil, tc.format, tc.quality))
			b.ReportMetric(float64(len(r.Data)), "out-bytes")
		})
	}
}

// BenchmarkOp measures each operation on the 2 MP photo; Op/none is the baseline.
func BenchmarkOp(b *testing.B) {
	for _, tc := range []struct {
		name string
		op   *job.Op
	}{
		{"none", nil},
		{"resize-800w", &job.Op{Name: "resize", Width: 800}},
		{"resize-800w-linear", &job.Op{Name: "resize", Width: 800, Filter: "linear"}},
		{"resize-3840w", &job.Op{Name: "resize", Width: 3840}},
		{"fit-1600x1600", &job.Op{Name: "fit", Width: 1600, Height: 1600}},
		{"fill-200x200", &job.Op{Name: "fill", Width: 200, Height: 200, Anchor: "center"}},
		{"thumbnail-200x200", &job.Op{Name: "thumbnail", Width: 200, Height: 200}},
		{"crop-800x600", &job.Op{Name: "crop", Width: 800, Height: 600, Anchor: "center"}},
		{"rotate-90", &job.Op{Name: "rotate", Angle: 90}},
		{"rotate-30", &job.Op{Name: "rotate", Angle: 30, Background: "ffffff"}},
		{"flip-h", &job.Op{Name: "flip", Direction: "h"}},
		{"transpose", &job.Op{Name: "transpose"}},
		{"blur-sigma2", &job.Op{Name: "blur", Sigma: 2}},
		{"sharpen-sigma1", &job.Op{Name: "sharpen", Sigma: 1}},
		{"grayscale", &job.Op{Name: "grayscale"}},
		{"invert", &job.Op{Name: "invert"}},
		{"brightness-20", &job.Op{Name: "brightness", Percent: 20}},
		{"contrast-20", &job.Op{Name: "contrast", Percent: 20}},
		{"saturation-50", &job.Op{Name: "saturation", Percent: 50}},
		{"gamma-1.5", &job.Op{Name: "gamma", Gamma: 1.5}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := source(b, "jpeg-2mp")
			p := newProcessor()
			b.SetBytes(pixelBytes(b, p, src))
			ops := []job.Op{pixel}
			if tc.op != nil {
				ops = []job.Op{*tc.op, pixel}
			}
			runLoop(b, p, src, spec(ops, job.FormatPNG, 0))
		})
	}
}

// BenchmarkWorkload runs the reference workloads W1–W5 of cmd/pixmill-bench in
// process, one at a time.
func BenchmarkWorkload(b *testing.B) {
	resize800 := []job.Op{{Name: "resize", Width: 800}}
	fill200 := []job.Op{{Name: "fill", Width: 200, Height: 200, Anchor: "center"}}
	for _, tc := range []struct {
		name, source string
		spec         job.Spec
	}{
		{"W1", "jpeg-12mp", spec(resize800, job.FormatJPEG, 80)},
		{"W2", "jpeg-12mp", spec(fill200, job.FormatJPEG, 80)},
		{"W3", "jpeg-2mp", spec(resize800, job.FormatJPEG, 80)},
		{"W4", "jpeg-2mp", spec(fill200, job.FormatJPEG, 80)},
		{"W5", "png-2mp", spec(resize800, "", 0)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src := source(b, tc.source)
			b.SetBytes(int64(len(src)))
			r := runLoop(b, newProcessor(), src, tc.spec)
			b.ReportMetric(float64(len(r.Data)), "out-bytes")
		})
	}
}
