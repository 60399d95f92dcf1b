package processing

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// TestStoredRect: cropping the stored image at storedRect and turning the crop
// upright is exactly cropping the upright image, for every orientation.
func TestStoredRect(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	stored := image.NewNRGBA(image.Rect(0, 0, 13, 7))
	for i := range stored.Pix {
		stored.Pix[i] = uint8(rng.IntN(256))
	}
	for o := 1; o <= 8; o++ {
		up := orient(stored, o)
		uw, uh := size(up)
		for range 200 {
			x0, y0 := rng.IntN(uw), rng.IntN(uh)
			r := image.Rect(x0, y0, x0+1+rng.IntN(uw-x0), y0+1+rng.IntN(uh-y0))
			want := imaging.Crop(up, r)
			sr := storedRect(r, 13, 7, o)
			got := orient(stored.SubImage(sr), o)
			if !sameImage(want, got) {
				t.Fatalf("orientation %d, rect %v: stored rect %v turns into a different crop", o, r, sr)
			}
		}
	}
}

func sameImage(a, b image.Image) bool {
	if dims(a) != dims(b) {
		return false
	}
	w, h := size(a)
	for y := range h {
		for x := range w {
			if at(a, x, y) != at(b, x, y) {
				return false
			}
		}
	}
	return true
}

// lateOrientCases are the first ops orient-after-resize handles, with every fill
// anchor and both crop directions.
func lateOrientCases() [][]job.Op {
	cases := [][]job.Op{
		{{Name: "resize", Width: 400}},
		{{Name: "resize", Height: 100}},
		{{Name: "resize", Width: 300, Height: 250}},
		{{Name: "fit", Width: 240, Height: 240}},
		{{Name: "fit", Width: 500, Height: 150}},
		{{Name: "thumbnail", Width: 100, Height: 100}},
		{{Name: "fill", Width: 300, Height: 100}},
		{{Name: "fill", Width: 100, Height: 300, Anchor: "left"}},
		{{Name: "resize", Width: 300, Filter: "catmullrom"}, {Name: "sharpen", Sigma: 0.5}, {Name: "crop", Width: 100, Height: 50, X: 10, Y: 20}},
	}
	for a := range anchors {
		cases = append(cases, []job.Op{{Name: "fill", Width: 200, Height: 150, Anchor: a}})
	}
	return cases
}

// TestLateOrientSameOutput: for all eight EXIF orientations, turning the image
// after the first sizing op gives the output of turning it first (the rounding
// of the resample's two passes aside), and the late path is taken.
func TestLateOrientSameOutput(t *testing.T) {
	if !scaledJPEG {
		t.Skip("built without libjpeg-turbo: the Go decode path turns first")
	}
	late := newTestProcessor(t, nil)
	early := newTestProcessor(t, nil)
	early.earlyOrient = true
	for o := 1; o <= 8; o++ {
		file := fmt.Sprintf("exif-orientation-%d.jpg", o)
		src := readImage(t, file)
		for _, ops := range lateOrientCases() {
			t.Run(fmt.Sprintf("%d/%v", o, ops), func(t *testing.T) {
				v := job.Variant{Ops: ops, Format: job.FormatPNG}
				info, err := late.Probe(bytes.NewReader(src))
				if err != nil {
					t.Fatal(err)
				}
				d, err := late.decodeJPEG(bytes.NewReader(src), info, job.Spec{Variants: []job.Variant{v}})
				if lo := d.late; err != nil || lo != lateWant(o) {
					t.Fatalf("decodeJPEG: late orientation %d (%v), want %d", lo, err, o)
				}
				a, _ := decodeResult(t, runOne(t, early, src, v).Data)
				b, _ := decodeResult(t, runOne(t, late, src, v).Data)
				q := psnr(t, a, b)
				t.Logf("PSNR %.1f dB", q)
				if q < 50 {
					t.Errorf("late orientation: PSNR %.1f dB against turning first, want >= 50", q)
				}
				if o == 1 && !math.IsInf(q, 1) {
					t.Errorf("orientation 1 changed: PSNR %.1f dB", q)
				}
			})
		}
	}
}

// TestLateOrientable: which jobs take the late path.
func TestLateOrientable(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 400, 300))
	spec := func(vs ...[]job.Op) job.Spec {
		var s job.Spec
		for _, ops := range vs {
			s.Variants = append(s.Variants, job.Variant{Ops: ops})
		}
		return s
	}
	resize := []job.Op{{Name: "resize", Width: 100}}
	for _, c := range []struct {
		name string
		img  image.Image
		spec job.Spec
		o    int
		want bool
	}{
		{"resize, orientation 6", img, spec(resize), 6, true},
		{"resize, orientation 1", img, spec(resize), 1, false},
		{"no orientation", img, spec(resize), 0, false},
		{"two variants", img, spec(resize, []job.Op{{Name: "fill", Width: 50, Height: 50}}), 3, true},
		{"one variant needs the turn first", img, spec(resize, []job.Op{{Name: "flip", Direction: "h"}, {Name: "resize", Width: 100}}), 8, false},
		{"crop first", img, spec([]job.Op{{Name: "crop", Width: 10, Height: 10}, {Name: "resize", Width: 5}}), 6, false},
		{"enlarges", img, spec([]job.Op{{Name: "resize", Width: 800}}), 6, false},
		{"nearest", img, spec([]job.Op{{Name: "resize", Width: 100, Filter: "nearest"}}), 6, false},
		{"not NRGBA", image.NewRGBA(img.Rect), spec(resize), 6, false},
		{"small fill", image.NewNRGBA(image.Rect(0, 0, 99, 300)), spec([]job.Op{{Name: "fill", Width: 50, Height: 50}}), 6, false},
	} {
		if got := lateOrientable(c.img, c.spec, c.o); got != c.want {
			t.Errorf("%s: lateOrientable = %v, want %v", c.name, got, c.want)
		}
	}
}

// lateWant is the orientation decodeJPEG leaves for after the first op.
func lateWant(o int) int {
	if o >= 2 {
		return o
	}
	return 0
}
