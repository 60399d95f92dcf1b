package processing

import (
	"image"
	"image/color"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestCrop(t *testing.T) {
	tests := []struct {
		name      string
		op        job.Op
		want      image.Point
		topLeft   color.NRGBA
		lastPixel color.NRGBA
	}{
		{"rect in the red half", job.Op{X: 10, Y: 10, Width: 20, Height: 30}, image.Pt(20, 30), red, red},
		{"rect across both halves", job.Op{X: 40, Y: 0, Width: 20, Height: 10}, image.Pt(20, 10), red, blue},
		{"rect clipped to the image", job.Op{X: 90, Y: 40, Width: 50, Height: 50}, image.Pt(10, 10), blue, blue},
		{"anchor top-left", job.Op{Anchor: "top-left", Width: 10, Height: 10}, image.Pt(10, 10), red, red},
		{"anchor right", job.Op{Anchor: "right", Width: 10, Height: 10}, image.Pt(10, 10), blue, blue},
		{"anchor crop larger than image", job.Op{Anchor: "center", Width: 500, Height: 10}, image.Pt(100, 10), red, blue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.op.Name = "crop"
			got, err := crop(halves(100, 50), tt.op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != tt.want {
				t.Fatalf("size = %v, want %v", dims(got), tt.want)
			}
			if c := at(got, 0, 0); c != tt.topLeft {
				t.Errorf("top-left = %v, want %v", c, tt.topLeft)
			}
			if c := at(got, tt.want.X-1, tt.want.Y-1); c != tt.lastPixel {
				t.Errorf("bottom-right = %v, want %v", c, tt.lastPixel)
			}
		})
	}
}

func TestCropOffsetBounds(t *testing.T) {
	// x, y count from the image's own corner even when its bounds do not start at 0.
	img := halves(100, 50).SubImage(image.Rect(40, 0, 100, 50))
	got, err := crop(img, job.Op{Name: "crop", X: 0, Y: 0, Width: 20, Height: 10}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if c := at(got, 9, 0); c != red {
		t.Errorf("x=9 = %v, want red", c)
	}
	if c := at(got, 10, 0); c != blue {
		t.Errorf("x=10 = %v, want blue", c)
	}
}

func TestCropOutside(t *testing.T) {
	_, err := crop(halves(100, 50), job.Op{Name: "crop", X: 100, Y: 0, Width: 10, Height: 10}, 1e6)
	wantCode(t, err, job.CodeInvalid)
	_, err = crop(halves(100, 50), job.Op{Name: "crop", X: 0, Y: 60, Width: 10, Height: 10}, 1e6)
	wantCode(t, err, job.CodeInvalid)
}
