package processing

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/job"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"zero max pixels", func(c *Config) { c.MaxPixels = 0 }, false},
		{"zero max output pixels", func(c *Config) { c.MaxOutputPixels = 0 }, false},
		{"quality 0", func(c *Config) { c.JPEGQuality = 0 }, false},
		{"quality 101", func(c *Config) { c.JPEGQuality = 101 }, false},
		{"quality 100", func(c *Config) { c.JPEGQuality = 100 }, true},
		{"png best", func(c *Config) { c.PNGCompression = "best" }, true},
		{"png none", func(c *Config) { c.PNGCompression = "none" }, true},
		{"png fast", func(c *Config) { c.PNGCompression = "fast" }, false},
		{"background #000", func(c *Config) { c.Background = "#000" }, true},
		{"background translucent", func(c *Config) { c.Background = "ffffff80" }, false},
		{"background not hex", func(c *Config) { c.Background = "white" }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			_, err := New(cfg)
			if (err == nil) != tt.ok {
				t.Errorf("New error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestRunVariants(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "png-rgba-transparency-200x150.png")
	spec := job.Spec{Variants: []job.Variant{
		{Name: "default"},
		{Name: "small", Ops: []job.Op{{Name: "resize", Width: 100}, {Name: "grayscale"}}, Format: job.FormatJPEG, Quality: 70},
		{Name: "square", Ops: []job.Op{{Name: "thumbnail", Width: 32, Height: 32}}, Format: job.FormatGIF},
	}}
	res, err := p.Run(context.Background(), bytes.NewReader(src), spec)
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Variant       string
		Format        job.Format
		Width, Height int
	}
	var got []summary
	for _, r := range res {
		got = append(got, summary{r.Variant, r.Format, r.Width, r.Height})
		img, _ := decodeResult(t, r.Data)
		if dims(img) != image.Pt(r.Width, r.Height) {
			t.Errorf("%s: data is %v, result says %dx%d", r.Variant, dims(img), r.Width, r.Height)
		}
	}
	want := []summary{
		{"default", job.FormatPNG, 200, 150},
		{"small", job.FormatJPEG, 100, 75},
		{"square", job.FormatGIF, 32, 32},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

// TestRunEveryOpOnRealImage runs each operation, one variant each, on a real photo
// with transparency.
func TestRunEveryOpOnRealImage(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "png-rgba-transparency-200x150.png")
	tests := []struct {
		op   job.Op
		want image.Point
	}{
		{job.Op{Name: "resize", Width: 100, Filter: "catmullrom"}, image.Pt(100, 75)},
		{job.Op{Name: "fit", Width: 50, Height: 50}, image.Pt(50, 37)},
		{job.Op{Name: "fill", Width: 50, Height: 80, Anchor: "top"}, image.Pt(50, 80)},
		{job.Op{Name: "thumbnail", Width: 40, Height: 40}, image.Pt(40, 40)},
		{job.Op{Name: "crop", X: 150, Y: 100, Width: 100, Height: 100}, image.Pt(50, 50)},
		{job.Op{Name: "crop", Anchor: "bottom-right", Width: 20, Height: 10}, image.Pt(20, 10)},
		{job.Op{Name: "rotate", Angle: 90}, image.Pt(150, 200)},
		{job.Op{Name: "rotate", Angle: -180}, image.Pt(200, 150)},
		{job.Op{Name: "rotate", Angle: 12.5, Background: "336699"}, image.Pt(228, 190)},
		{job.Op{Name: "flip", Direction: "h"}, image.Pt(200, 150)},
		{job.Op{Name: "flip", Direction: "v"}, image.Pt(200, 150)},
		{job.Op{Name: "transpose"}, image.Pt(150, 200)},
		{job.Op{Name: "transverse"}, image.Pt(150, 200)},
		{job.Op{Name: "blur", Sigma: 1.5}, image.Pt(200, 150)},
		{job.Op{Name: "sharpen", Sigma: 1}, image.Pt(200, 150)},
		{job.Op{Name: "grayscale"}, image.Pt(200, 150)},
		{job.Op{Name: "invert"}, image.Pt(200, 150)},
		{job.Op{Name: "brightness", Percent: 10}, image.Pt(200, 150)},
		{job.Op{Name: "contrast", Percent: -20}, image.Pt(200, 150)},
		{job.Op{Name: "gamma", Gamma: 1.4}, image.Pt(200, 150)},
		{job.Op{Name: "saturation", Percent: 150}, image.Pt(200, 150)},
	}
	for _, tt := range tests {
		t.Run(tt.op.Name, func(t *testing.T) {
			r := runOne(t, p, src, job.Variant{Ops: []job.Op{tt.op}, Format: job.FormatBMP})
			img, format := decodeResult(t, r.Data)
			if format != "bmp" || dims(img) != tt.want {
				t.Errorf("got %s %v, want bmp %v", format, dims(img), tt.want)
			}
		})
	}
}

func TestRunRejectsInvalidSpec(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "jpeg-grayscale-128x128.jpg")
	for _, spec := range []job.Spec{
		{},
		{Variants: []job.Variant{{Name: "default", Ops: []job.Op{{Name: "explode"}}}}},
		{Variants: []job.Variant{{Name: "default", Ops: []job.Op{{Name: "blur"}}}}},
	} {
		_, err := p.Run(context.Background(), bytes.NewReader(src), spec)
		wantCode(t, err, job.CodeInvalid)
	}
}

func TestRunCanceled(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "jpeg-grayscale-128x128.jpg")
	spec := job.Spec{Variants: []job.Variant{{Name: "default"}}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Run(ctx, bytes.NewReader(src), spec); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with canceled ctx = %v, want context.Canceled", err)
	}

	ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := p.Run(ctx, bytes.NewReader(src), spec); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run past deadline = %v, want context.DeadlineExceeded", err)
	}
}

func TestApplyChecksContextBetweenSteps(t *testing.T) {
	p := newTestProcessor(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ops := []job.Op{{Name: "invert"}, {Name: "invert"}}
	// The first step cancels ctx (by reading the image); the second must not run.
	img := &cancelOnRead{Image: solid(4, 4, grey), cancel: cancel}
	_, err := p.apply(ctx, img, ops)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("apply = %v, want context.Canceled", err)
	}
}

// cancelOnRead cancels a context the first time a step reads its bounds.
type cancelOnRead struct {
	image.Image
	cancel context.CancelFunc
}

func (c *cancelOnRead) Bounds() image.Rectangle {
	c.cancel()
	return c.Image.Bounds()
}

// pngOf encodes img as PNG, to feed synthetic images to Run.
func pngOf(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRunRefusesOversizedOutput(t *testing.T) {
	p := newTestProcessor(t, nil)
	line := pngOf(t, solid(1, 1000, grey))
	// Width 20000 keeps the aspect ratio: 20000×20000000, refused before allocating.
	var err error
	n := allocated(func() {
		_, err = p.Run(context.Background(), bytes.NewReader(line), job.Spec{Variants: []job.Variant{
			{Name: "default", Ops: []job.Op{{Name: "resize", Width: 20000}}},
		}})
	})
	wantCode(t, err, job.CodeImageTooLarge)
	if n > 1<<20 {
		t.Errorf("Run allocated %d bytes refusing the output", n)
	}

	// The limit is the configured one.
	small := newTestProcessor(t, func(c *Config) { c.MaxOutputPixels = 100 * 100 })
	_, err = small.Run(context.Background(), bytes.NewReader(line), job.Spec{Variants: []job.Variant{
		{Name: "default", Ops: []job.Op{{Name: "resize", Width: 1, Height: 1000}, {Name: "resize", Width: 101, Height: 100}}},
	}})
	wantCode(t, err, job.CodeImageTooLarge)
}
