package processing

import (
	"bytes"
	"fmt"
	"image"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// TestRunEveryInputKind decodes each kind of source through Run (header replayed
// after the guard) and compares the result with a plain decode of the same file.
func TestRunEveryInputKind(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, s := range sources {
		t.Run(s.file, func(t *testing.T) {
			if s.file == "exif-orientation-1.jpg" {
				t.Skip("baseline colour JPEGs go through Run in TestEXIFOrientation")
			}
			t.Parallel()
			src := readImage(t, s.file)
			r := runOne(t, p, src, job.Variant{
				Ops:    []job.Op{{Name: "resize", Width: 64, Filter: "box"}},
				Format: job.FormatPNG,
			})
			got, format := decodeResult(t, r.Data)
			wantH := int(float64(64*s.height)/float64(s.width) + 0.5)
			if format != "png" || dims(got) != image.Pt(64, wantH) || r.Width != 64 || r.Height != wantH {
				t.Fatalf("got %s %v (result %dx%d), want png 64x%d", format, dims(got), r.Width, r.Height, wantH)
			}
			plain, _, err := image.Decode(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			if s.format == job.FormatWebP {
				plain = vp8ToNRGBA(plain) // see TestDecodeWebPColours
			}
			want := imaging.Resize(plain, 64, wantH, imaging.Box)
			if d := meanAbsDiff(t, got, want); d > 1 {
				t.Errorf("differs from a plain decode by %.2f", d)
			}
			if flat(got) {
				t.Errorf("result is a single flat colour")
			}
		})
	}
}

// flat reports whether every pixel of img has the same colour.
func flat(img image.Image) bool {
	first := at(img, 0, 0)
	w, h := size(img)
	for y := range h {
		for x := range w {
			if at(img, x, y) != first {
				return false
			}
		}
	}
	return true
}

// TestEXIFOrientation: every orientation of the same photo decodes upright to
// 1800×1200 and looks like orientation 1.
func TestEXIFOrientation(t *testing.T) {
	p := newTestProcessor(t, nil)
	small := func(t *testing.T, name string) image.Image {
		t.Helper()
		// Only the width is given: a sideways decode would come out 360×540.
		// Nearest neighbour keeps the test fast under -race; the box filter below
		// then evens out its sampling noise.
		r := runOne(t, p, readImage(t, name), job.Variant{
			Ops:    []job.Op{{Name: "resize", Width: 360, Filter: "nearest"}},
			Format: job.FormatBMP,
		})
		img, _ := decodeResult(t, r.Data)
		if dims(img) != image.Pt(360, 240) {
			t.Fatalf("%s: %v, want 360x240 (upright 1800x1200)", name, dims(img))
		}
		return imaging.Resize(img, 90, 60, imaging.Box)
	}
	ref := small(t, "exif-orientation-1.jpg")
	names := []string{"exif-orientation-0-no-tag.jpg"}
	for n := 2; n <= 8; n++ {
		names = append(names, fmt.Sprintf("exif-orientation-%d.jpg", n))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := meanAbsDiff(t, small(t, name), ref)
			t.Logf("mean difference %.2f", d)
			if d > 4 {
				t.Errorf("mean difference from orientation 1 = %.2f, want <= 4", d)
			}
		})
	}

	// The tolerance must be able to fail: a mirrored photo is far from the original.
	d := meanAbsDiff(t, imaging.FlipH(ref), ref)
	t.Logf("mirrored: mean difference %.2f", d)
	if d <= 4 {
		t.Fatalf("a mirrored photo differs by only %.2f; the check is too weak", d)
	}
}
