package processing

import (
	"context"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

// writePNG writes img as a PNG file in a test directory and returns its path.
func writePNG(t *testing.T, img image.Image) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mark.png")
	if err := os.WriteFile(path, pngOf(t, img), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// watermarkProcessor has one watermark, "logo": 20×10 opaque red.
func watermarkProcessor(t *testing.T) *Processor {
	t.Helper()
	path := writePNG(t, solid(20, 10, red))
	return newTestProcessor(t, func(c *Config) { c.Watermarks = map[string]string{"logo": path} })
}

func TestWatermark(t *testing.T) {
	p := watermarkProcessor(t)
	tests := []struct {
		name string
		op   job.Op
		box  image.Rectangle // where the watermark must be, on a 100×50 grey image
		want color.NRGBA     // inside box
	}{
		{"default bottom-right", job.Op{}, image.Rect(80, 40, 100, 50), red},
		{"top-left with margin", job.Op{Anchor: "top-left", Margin: 5}, image.Rect(5, 5, 25, 15), red},
		{"center ignores margin", job.Op{Anchor: "center", Margin: 5}, image.Rect(40, 20, 60, 30), red},
		{"bottom with margin", job.Op{Anchor: "bottom", Margin: 3}, image.Rect(40, 37, 60, 47), red},
		{"right", job.Op{Anchor: "right"}, image.Rect(80, 20, 100, 30), red},
		{"half opacity", job.Op{Opacity: 0.5}, image.Rect(80, 40, 100, 50), color.NRGBA{R: 192, G: 64, B: 64, A: 255}},
		{"scale to half the width", job.Op{Scale: 0.5}, image.Rect(50, 25, 100, 50), red},
		{"too big for the margins is shrunk", job.Op{Scale: 1, Margin: 10, Anchor: "top-left"}, image.Rect(10, 10, 70, 40), red},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := tt.op
			op.Name, op.Image = "watermark", "logo"
			got, err := p.watermark(solid(100, 50, grey), op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != image.Pt(100, 50) {
				t.Fatalf("size %v, want 100x50", dims(got))
			}
			for y := range 50 {
				for x := range 100 {
					want := grey
					if image.Pt(x, y).In(tt.box) {
						want = tt.want
					}
					if c := at(got, x, y); !near(c, want, 2) {
						t.Fatalf("pixel (%d,%d) = %v, want %v (watermark at %v)", x, y, c, want, tt.box)
					}
				}
			}
		})
	}
}

// TestWatermarkAlpha: the watermark's own transparency shows the image through.
func TestWatermarkAlpha(t *testing.T) {
	mark := solid(10, 10, color.NRGBA{})
	mark.SetNRGBA(0, 0, blue)
	path := writePNG(t, mark)
	p := newTestProcessor(t, func(c *Config) { c.Watermarks = map[string]string{"dot": path} })
	got, err := p.watermark(solid(30, 30, grey), job.Op{Name: "watermark", Image: "dot", Anchor: "top-left"}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if c := at(got, 0, 0); !near(c, blue, 0) {
		t.Errorf("opaque watermark pixel = %v, want blue", c)
	}
	if c := at(got, 5, 5); !near(c, grey, 0) {
		t.Errorf("transparent watermark pixel = %v, want the image's grey", c)
	}
}

func TestWatermarkUnknownName(t *testing.T) {
	p := watermarkProcessor(t)
	if !p.HasWatermark("logo") || p.HasWatermark("other") || p.HasWatermark("") {
		t.Errorf("HasWatermark: logo=%v other=%v", p.HasWatermark("logo"), p.HasWatermark("other"))
	}
	// Refused before the source is read: these bytes are not an image.
	_, err := p.Run(context.Background(), strings.NewReader("not an image"), job.Spec{Variants: []job.Variant{
		{Name: "default", Ops: []job.Op{{Name: "watermark", Image: "other"}}},
	}})
	wantCode(t, err, job.CodeInvalid)
	if msg := job.ErrorMessage(err); msg != `unknown watermark "other"` {
		t.Errorf("message = %q", msg)
	}
}

func TestWatermarkOnRealImage(t *testing.T) {
	p := newTestProcessor(t, func(c *Config) {
		c.Watermarks = map[string]string{"dice": filepath.Join("..", "..", "testdata", "images", "png-rgba-transparency-200x150.png")}
	})
	src := readImage(t, "jpeg-progressive-999x999.jpg")
	r := runOne(t, p, src, job.Variant{
		Ops:    []job.Op{{Name: "resize", Width: 400}, {Name: "watermark", Image: "dice", Scale: 0.25, Margin: 8, Opacity: 0.8}},
		Format: job.FormatPNG,
	})
	if r.Width != 400 || r.Height != 400 {
		t.Fatalf("result %dx%d, want 400x400", r.Width, r.Height)
	}
}

func TestNewWatermarkErrors(t *testing.T) {
	good := writePNG(t, solid(20, 10, red))
	tests := []struct {
		name  string
		files map[string]string
		max   int
		msg   string
	}{
		{"missing file", map[string]string{"logo": filepath.Join(t.TempDir(), "nope.png")}, 0, "no such file"},
		{"not an image", map[string]string{"logo": writeFile(t, []byte("hello"))}, 0, "supported format"},
		{"over MaxWatermarkPixels", map[string]string{"logo": good}, 199, "over the limit of 199 pixels"},
		{"bad name", map[string]string{"../logo": good}, 0, "watermark name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Watermarks = tt.files
			if tt.max > 0 {
				cfg.MaxWatermarkPixels = tt.max
			}
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("New = %v, want an error mentioning %q", err, tt.msg)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.Watermarks = map[string]string{"logo": good}
	cfg.MaxWatermarkPixels = 200
	if _, err := New(cfg); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
