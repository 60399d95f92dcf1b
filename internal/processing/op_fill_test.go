package processing

import (
	"image"
	"image/color"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestFill(t *testing.T) {
	tests := []struct {
		name   string
		op     job.Op
		want   image.Point
		colour color.NRGBA // of the whole result
	}{
		{"anchor left keeps the red half", job.Op{Name: "fill", Width: 50, Height: 100, Anchor: "left"}, image.Pt(50, 100), red},
		{"anchor right keeps the blue half", job.Op{Name: "fill", Width: 50, Height: 100, Anchor: "right"}, image.Pt(50, 100), blue},
		{"top-left", job.Op{Name: "fill", Width: 20, Height: 40, Anchor: "top-left"}, image.Pt(20, 40), red},
		{"bottom-right", job.Op{Name: "fill", Width: 20, Height: 40, Anchor: "bottom-right"}, image.Pt(20, 40), blue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fill(halves(400, 200), tt.op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != tt.want {
				t.Fatalf("size = %v, want %v", dims(got), tt.want)
			}
			for _, pt := range []image.Point{{0, 0}, {tt.want.X - 1, tt.want.Y - 1}, {tt.want.X / 2, tt.want.Y / 2}} {
				if c := at(got, pt.X, pt.Y); !near(c, tt.colour, 4) {
					t.Errorf("pixel %v = %v, want %v", pt, c, tt.colour)
				}
			}
		})
	}
}

func TestFillCenterIsDefault(t *testing.T) {
	// Centre of halves is the red/blue boundary: the result has both.
	got, err := fill(halves(400, 200), job.Op{Name: "fill", Width: 100, Height: 100}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if !near(at(got, 0, 50), red, 4) || !near(at(got, 99, 50), blue, 4) {
		t.Errorf("edges = %v, %v; want red, blue", at(got, 0, 50), at(got, 99, 50))
	}
}

func TestFillSmallSource(t *testing.T) {
	got, err := fill(solid(10, 20, red), job.Op{Name: "fill", Width: 30, Height: 30}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if dims(got) != image.Pt(30, 30) {
		t.Fatalf("size = %v, want 30x30", dims(got))
	}
}

func TestFillRefusesHugeIntermediate(t *testing.T) {
	// The 10000×10 result is small, but a 1×99 source is first scaled to 10000×990000.
	_, err := fill(solid(1, 99, red), job.Op{Name: "fill", Width: 10000, Height: 10}, 50_000_000)
	wantCode(t, err, job.CodeImageTooLarge)
}

func TestThumbnail(t *testing.T) {
	got, err := thumbnail(halves(200, 100), job.Op{Name: "thumbnail", Width: 40, Height: 40}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if dims(got) != image.Pt(40, 40) {
		t.Fatalf("size = %v, want 40x40", dims(got))
	}
	if !near(at(got, 0, 20), red, 4) || !near(at(got, 39, 20), blue, 4) {
		t.Errorf("edges = %v, %v; want red, blue (centre crop)", at(got, 0, 20), at(got, 39, 20))
	}
}
