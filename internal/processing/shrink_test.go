package processing

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"image"

	"github.com/pixmill/pixmill/internal/job"
)

func TestJPEGScale(t *testing.T) {
	resize := func(w, h int) job.Op { return job.Op{Name: "resize", Width: w, Height: h} }
	fill := func(w, h int, a string) job.Op { return job.Op{Name: "fill", Width: w, Height: h, Anchor: a} }
	one := func(ops ...job.Op) job.Spec {
		return job.Spec{Variants: []job.Variant{{Name: "v", Ops: ops}}}
	}
	tests := []struct {
		name string
		spec job.Spec
		w, h int // upright source
		want int // eighths
	}{
		// The reference workloads (12 MP photo upright 3024×4032, 2 MP 1920×1080).
		{"W1 resize 800w: 3.8x", one(resize(800, 0)), 3024, 4032, 4},
		{"W2 fill 200: cover 200x267, 15x", one(fill(200, 200, "center")), 3024, 4032, 1},
		{"W3 resize 800w: 2.4x", one(resize(800, 0)), 1920, 1080, 5},
		{"W4 fill 200: cover 356x200, 5.4x", one(fill(200, 200, "center")), 1920, 1080, 4},

		{"exactly the margin at 1/8", one(resize(133, 0)), 1600, 1200, 1},
		{"just under the margin at 1/8", one(resize(134, 0)), 1600, 1200, 2},
		{"height only", one(resize(0, 75)), 1600, 1200, 1},
		{"both sides, squashed: the larger ratio decides", one(resize(800, 75)), 1600, 1200, 6},
		{"upscale", one(resize(4000, 0)), 1600, 1200, 8},
		{"fit shrinks", one(job.Op{Name: "fit", Width: 200, Height: 200}), 1600, 1200, 2},
		{"fit inside the box: no-op", one(job.Op{Name: "fit", Width: 2000, Height: 2000}), 1600, 1200, 8},
		{"thumbnail", one(job.Op{Name: "thumbnail", Width: 100, Height: 100}), 1600, 1200, 1},
		{"fill the same size", one(fill(1600, 1200, "")), 1600, 1200, 8},
		{"fill under 100 px at 1/8 would resize before cropping", one(fill(40, 40, "")), 800, 600, 2},
		{"lanczos by name", one(job.Op{Name: "resize", Width: 100, Filter: "lanczos"}), 1600, 1200, 1},
		{"catmullrom", one(job.Op{Name: "resize", Width: 100, Filter: "catmullrom"}), 1600, 1200, 1},
		{"nearest keeps its look", one(job.Op{Name: "resize", Width: 100, Filter: "nearest"}), 1600, 1200, 8},
		{"box keeps its look", one(job.Op{Name: "resize", Width: 100, Filter: "box"}), 1600, 1200, 8},
		{"linear keeps its look", one(job.Op{Name: "resize", Width: 100, Filter: "linear"}), 1600, 1200, 8},

		// Exactness: the scaled image must be the full one at exactly m/8.
		{"odd sides: only the full size is exact", one(resize(100, 0)), 999, 999, 8},
		{"1050/8 and 1050/4 are not whole", one(resize(100, 0)), 1680, 1050, 4},
		{"tiny target, odd source", one(resize(1, 1)), 9, 9, 8},
		{"fill whose crop starts between scaled pixels", one(fill(200, 200, "center")), 1680, 1050, 8},
		{"the same fill anchored left crops exactly", one(fill(200, 200, "left")), 1680, 1050, 4},
		{"5/8 when 1/2 leaves too little", one(resize(1200, 0)), 3200, 2400, 5},
		{"6/8 when 5/8 leaves too little", one(resize(1200, 0)), 2600, 1600, 6},
		{"3/8 is never used: 4/8", one(resize(1000, 0)), 4000, 3000, 4},
		{"7/8 is never used: full size", one(resize(900, 0)), 1600, 1200, 8},

		{"flip and grayscale first", one(job.Op{Name: "flip", Direction: "h"}, job.Op{Name: "grayscale"}, resize(100, 0)), 1600, 1200, 1},
		{"rotate 90 first swaps the sides", one(job.Op{Name: "rotate", Angle: 90}, resize(0, 200)), 1600, 1200, 2},
		{"rotate -90 first", one(job.Op{Name: "rotate", Angle: -90}, resize(300, 0)), 1600, 1200, 4},
		{"rotate 180 first", one(job.Op{Name: "rotate", Angle: 180}, resize(100, 0)), 1600, 1200, 1},
		{"transpose first", one(job.Op{Name: "transpose"}, resize(0, 100)), 1600, 1200, 1},
		{"free rotation first", one(job.Op{Name: "rotate", Angle: 30}, resize(100, 0)), 1600, 1200, 8},
		{"crop x/y first", one(job.Op{Name: "crop", X: 10, Y: 10, Width: 800, Height: 600}, resize(100, 0)), 1600, 1200, 8},
		{"crop anchor first", one(job.Op{Name: "crop", Anchor: "center", Width: 800, Height: 600}, resize(100, 0)), 1600, 1200, 8},
		{"blur first", one(job.Op{Name: "blur", Sigma: 2}, resize(100, 0)), 1600, 1200, 8},
		{"gamma first", one(job.Op{Name: "gamma", Gamma: 2}, resize(100, 0)), 1600, 1200, 8},
		{"watermark first", one(job.Op{Name: "watermark", Image: "logo"}, resize(100, 0)), 1600, 1200, 8},
		{"anything after the sizing op", one(resize(100, 0), job.Op{Name: "crop", X: 1, Y: 1, Width: 10, Height: 10}, job.Op{Name: "blur", Sigma: 1}), 1600, 1200, 1},
		{"no ops: full image", one(), 1600, 1200, 8},
		{"only a crop", one(job.Op{Name: "crop", Anchor: "center", Width: 100, Height: 100}), 1600, 1200, 8},
		{"two variants: the larger target decides", job.Spec{Variants: []job.Variant{
			{Name: "a", Ops: []job.Op{resize(100, 0)}}, {Name: "b", Ops: []job.Op{resize(300, 0)}},
		}}, 1600, 1200, 4},
		{"a variant that needs the full image", job.Spec{Variants: []job.Variant{
			{Name: "a", Ops: []job.Op{resize(100, 0)}}, {Name: "b"},
		}}, 1600, 1200, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegScale(tt.spec, tt.w, tt.h); got != tt.want {
				t.Errorf("jpegScale(%dx%d) = %d/8, want %d/8", tt.w, tt.h, got, tt.want)
			}
		})
	}
}

func TestPinSizes(t *testing.T) {
	spec := job.Spec{Variants: []job.Variant{
		{Name: "r", Ops: []job.Op{{Name: "grayscale"}, {Name: "resize", Width: 800}, {Name: "resize", Width: 10}}},
		{Name: "f", Ops: []job.Op{{Name: "rotate", Angle: 90}, {Name: "fit", Width: 500, Height: 500, Filter: "catmullrom"}}},
		{Name: "t", Ops: []job.Op{{Name: "thumbnail", Width: 64, Height: 64}}},
		{Name: "n", Ops: []job.Op{{Name: "resize", Width: 64, Filter: "nearest"}}},
	}}
	got := pinSizes(spec, 3024, 4032)
	want := job.Spec{Variants: []job.Variant{
		{Name: "r", Ops: []job.Op{{Name: "grayscale"}, {Name: "resize", Width: 800, Height: 1067}, {Name: "resize", Width: 10}}},
		{Name: "f", Ops: []job.Op{{Name: "rotate", Angle: 90}, {Name: "resize", Width: 500, Height: 375, Filter: "catmullrom"}}},
		{Name: "t", Ops: []job.Op{{Name: "thumbnail", Width: 64, Height: 64}}},
		{Name: "n", Ops: []job.Op{{Name: "resize", Width: 64, Filter: "nearest"}}},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pinSizes (-want +got):\n%s", d)
	}
	if spec.Variants[0].Ops[1].Height != 0 {
		t.Error("pinSizes changed its argument")
	}
}

// TestShrunkSourceSameSize: whatever the levers decode or reduce to, every sizing
// op, pinned, gives exactly the size it gives the full image. Sources of every
// size from odd to even, as libjpeg rounds a scaled size up.
func TestShrunkSourceSameSize(t *testing.T) {
	ops := []job.Op{
		{Name: "resize", Width: 101},
		{Name: "resize", Height: 37},
		{Name: "resize", Width: 90, Height: 40},
		{Name: "fit", Width: 77, Height: 77},
		{Name: "fit", Width: 300, Height: 20},
		{Name: "fill", Width: 50, Height: 30, Anchor: "top-left"},
		{Name: "thumbnail", Width: 33, Height: 33},
	}
	for _, src := range [][2]int{{997, 601}, {1000, 600}, {1001, 1003}, {403, 2001}} {
		w, h := src[0], src[1]
		full := image1(w, h)
		for _, op := range ops {
			t.Run(fmt.Sprintf("%dx%d/%s-%dx%d", w, h, op.Name, op.Width, op.Height), func(t *testing.T) {
				want, err := steps[op.Name](full, op, 1e8)
				if err != nil {
					t.Fatal(err)
				}
				s, ok := planSizing([]job.Op{op}, w, h)
				if !ok {
					t.Fatal("planSizing: not a shrink")
				}
				for _, n := range []int{2, 4, 8} {
					small := image1((w+n-1)/n, (h+n-1)/n)
					got, err := steps[s.op.Name](small, s.op, 1e8)
					if err != nil {
						t.Fatal(err)
					}
					if dims(got) != dims(want) {
						t.Errorf("1/%d: %v, full size gives %v", n, dims(got), dims(want))
					}
				}
				got, _ := preshrink(full, op)
				if out, _ := steps[s.op.Name](got, s.op, 1e8); dims(out) != dims(want) {
					t.Errorf("two-stage: %v, single pass %v", dims(out), dims(want))
				}
			})
		}
	}
}

// image1 is a w×h image whose content does not matter (sizes only).
func image1(w, h int) image.Image { return solid(w, h, grey) }
