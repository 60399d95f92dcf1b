package processing

import (
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the current results")

// goldenDir holds one PNG per case of TestGolden.
var goldenDir = filepath.Join("..", "..", "testdata", "golden")

// goldenSource is a real photo (jpeg-progressive-999x999.jpg) scaled to 64×64
// with a box filter, so that the goldens stay a few KB each.
func goldenSource(t *testing.T) *image.NRGBA {
	t.Helper()
	img, err := decode(bytesReader(readImage(t, "jpeg-progressive-999x999.jpg")), job.FormatJPEG)
	if err != nil {
		t.Fatal(err)
	}
	return imaging.Resize(img, 64, 64, imaging.Box)
}

// TestGolden runs every operation on a real photo and compares the decoded pixels
// with testdata/golden/<case>.png, within a per-case tolerance: the mean and the
// largest absolute difference of any channel (alpha included), in 0–255. The
// tolerances allow for floating-point differences between machines, nothing more.
// Regenerate with: go test ./internal/processing -run Golden -update
func TestGolden(t *testing.T) {
	p := newTestProcessor(t, func(c *Config) {
		c.Watermarks = map[string]string{"dice": filepath.Join("..", "..", "testdata", "images", "png-rgba-transparency-200x150.png")}
	})
	src := goldenSource(t)
	exact, resampled, turned := tolerance{0, 0}, tolerance{0.5, 3}, tolerance{1, 8}
	tests := []struct {
		name string
		op   job.Op
		tol  tolerance
	}{
		{"resize", job.Op{Name: "resize", Width: 48}, resampled},
		{"resize-nearest", job.Op{Name: "resize", Width: 40, Height: 70, Filter: "nearest"}, exact},
		{"fit", job.Op{Name: "fit", Width: 50, Height: 30, Filter: "catmullrom"}, resampled},
		{"fill", job.Op{Name: "fill", Width: 56, Height: 28, Anchor: "top"}, resampled},
		{"thumbnail", job.Op{Name: "thumbnail", Width: 24, Height: 32}, resampled},
		{"crop", job.Op{Name: "crop", X: 10, Y: 15, Width: 32, Height: 24}, exact},
		{"crop-anchor", job.Op{Name: "crop", Width: 32, Height: 24, Anchor: "bottom-right"}, exact},
		{"rotate-90", job.Op{Name: "rotate", Angle: 90}, exact},
		{"rotate-30", job.Op{Name: "rotate", Angle: 30}, turned},
		{"rotate-12.5-background", job.Op{Name: "rotate", Angle: -12.5, Background: "336699"}, turned},
		{"flip-h", job.Op{Name: "flip", Direction: "h"}, exact},
		{"flip-v", job.Op{Name: "flip", Direction: "v"}, exact},
		{"transpose", job.Op{Name: "transpose"}, exact},
		{"transverse", job.Op{Name: "transverse"}, exact},
		{"blur", job.Op{Name: "blur", Sigma: 2}, resampled},
		{"sharpen", job.Op{Name: "sharpen", Sigma: 1.5}, resampled},
		{"grayscale", job.Op{Name: "grayscale"}, resampled},
		{"invert", job.Op{Name: "invert"}, exact},
		{"brightness", job.Op{Name: "brightness", Percent: -25}, resampled},
		{"contrast", job.Op{Name: "contrast", Percent: 40}, resampled},
		{"gamma", job.Op{Name: "gamma", Gamma: 1.8}, resampled},
		{"saturation", job.Op{Name: "saturation", Percent: 120}, resampled},
		{"watermark", job.Op{Name: "watermark", Image: "dice", Scale: 0.5, Margin: 2, Opacity: 0.7}, resampled},
		{"watermark-top-left-fit", job.Op{Name: "watermark", Image: "dice", Anchor: "top-left"}, resampled},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.op.Name] = true
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.apply(t.Context(), src, []job.Op{tt.op})
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(goldenDir, tt.name+".png")
			if *update {
				writeGolden(t, path, got)
				return
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (generate with -update)", err)
			}
			defer f.Close()
			want, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != dims(want) {
				t.Fatalf("size %v, golden %v", dims(got), dims(want))
			}
			mean, worst := diffRGBA(got, want)
			if mean > tt.tol.mean || worst > tt.tol.max {
				t.Errorf("differs from %s: mean %.3f (tolerance %.1f), max %d (tolerance %d)",
					path, mean, tt.tol.mean, worst, tt.tol.max)
			}
		})
	}
	for _, name := range job.OpNames() {
		if !seen[name] {
			t.Errorf("op %q has no golden case", name)
		}
	}
}

type tolerance struct {
	mean float64
	max  int
}

func writeGolden(t *testing.T, path string, img image.Image) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// diffRGBA returns the mean and the largest absolute difference over all four
// channels of two images of the same size, in 0–255.
func diffRGBA(a, b image.Image) (float64, int) {
	w, h := size(a)
	var sum, worst int
	for y := range h {
		for x := range w {
			p, q := at(a, x, y), at(b, x, y)
			for _, d := range [4]int{int(p.R) - int(q.R), int(p.G) - int(q.G), int(p.B) - int(q.B), int(p.A) - int(q.A)} {
				d = max(d, -d)
				sum += d
				worst = max(worst, d)
			}
		}
	}
	return float64(sum) / float64(w*h*4), worst
}
