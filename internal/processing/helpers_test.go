package processing

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

// Colours used by the synthetic images.
var (
	red   = color.NRGBA{R: 255, A: 255}
	blue  = color.NRGBA{B: 255, A: 255}
	grey  = color.NRGBA{R: 128, G: 128, B: 128, A: 255}
	white = color.NRGBA{R: 255, G: 255, B: 255, A: 255}
)

func newTestProcessor(t *testing.T, edit func(*Config)) *Processor {
	t.Helper()
	cfg := DefaultConfig()
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// readImage returns a file of testdata/images (see its MANIFEST.tsv).
func readImage(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "images", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func solid(w, h int, c color.NRGBA) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// marked is a grey w×h image with one red pixel at (1, 0), so that every flip and
// turn moves it somewhere else.
func marked(w, h int) *image.NRGBA {
	img := solid(w, h, grey)
	img.SetNRGBA(1, 0, red)
	return img
}

// halves is a w×h image whose left half is red and right half blue.
func halves(w, h int) *image.NRGBA {
	img := solid(w, h, blue)
	for y := range h {
		for x := range w / 2 {
			img.SetNRGBA(x, y, red)
		}
	}
	return img
}

// at returns the pixel at x, y counted from img's top-left corner.
func at(img image.Image, x, y int) color.NRGBA {
	b := img.Bounds()
	return color.NRGBAModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
}

func near(a, b color.NRGBA, tol int) bool {
	d := func(x, y uint8) int { return max(int(x)-int(y), int(y)-int(x)) }
	return d(a.R, b.R) <= tol && d(a.G, b.G) <= tol && d(a.B, b.B) <= tol && d(a.A, b.A) <= tol
}

// find returns the positions of the pixels of img near c.
func find(img image.Image, c color.NRGBA) []image.Point {
	var pts []image.Point
	w, h := size(img)
	for y := range h {
		for x := range w {
			if near(at(img, x, y), c, 8) {
				pts = append(pts, image.Pt(x, y))
			}
		}
	}
	return pts
}

// meanAbsDiff is the mean absolute difference of the RGB channels of two images of
// the same size, in 0–255.
func meanAbsDiff(t *testing.T, a, b image.Image) float64 {
	t.Helper()
	aw, ah := size(a)
	bw, bh := size(b)
	if aw != bw || ah != bh {
		t.Fatalf("sizes differ: %dx%d vs %dx%d", aw, ah, bw, bh)
	}
	var sum float64
	for y := range ah {
		for x := range aw {
			p, q := at(a, x, y), at(b, x, y)
			for _, d := range [3]int{int(p.R) - int(q.R), int(p.G) - int(q.G), int(p.B) - int(q.B)} {
				sum += float64(max(d, -d))
			}
		}
	}
	return sum / float64(aw*ah*3)
}

// decodeResult decodes an encoded result with the standard registry.
func decodeResult(t *testing.T, data []byte) (image.Image, string) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode result: %v", err)
	}
	return img, format
}

// runOne runs a single variant named "default" on src and returns its result.
func runOne(t *testing.T, p *Processor, src []byte, v job.Variant) Result {
	t.Helper()
	v.Name = job.DefaultVariant
	res, err := p.Run(context.Background(), bytes.NewReader(src), job.Spec{Variants: []job.Variant{v}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res) != 1 {
		t.Fatalf("Run returned %d results, want 1", len(res))
	}
	return res[0]
}

// wantCode fails t unless err is a *job.Error with code.
func wantCode(t *testing.T, err error, code job.Code) {
	t.Helper()
	var e *job.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *job.Error with code %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%v), want %s", e.Code, err, code)
	}
}

// dims returns the size of img as a point, for comparisons.
func dims(img image.Image) image.Point { return img.Bounds().Size() }

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
