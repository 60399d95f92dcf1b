package processing

import (
	"image"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestResize(t *testing.T) {
	tests := []struct {
		name string
		src  image.Point
		op   job.Op
		want image.Point
	}{
		{"both sides", image.Pt(200, 100), job.Op{Width: 30, Height: 70}, image.Pt(30, 70)},
		{"width keeps aspect", image.Pt(200, 100), job.Op{Width: 50}, image.Pt(50, 25)},
		{"height keeps aspect", image.Pt(200, 100), job.Op{Height: 50}, image.Pt(100, 50)},
		{"upscale", image.Pt(20, 10), job.Op{Width: 100}, image.Pt(100, 50)},
		{"rounds to at least 1", image.Pt(1000, 1), job.Op{Width: 10}, image.Pt(10, 1)},
		{"same size", image.Pt(20, 10), job.Op{Width: 20, Height: 10}, image.Pt(20, 10)},
		{"nearest filter", image.Pt(20, 10), job.Op{Width: 40, Filter: "nearest"}, image.Pt(40, 20)},
		{"mitchell filter", image.Pt(20, 10), job.Op{Width: 7, Filter: "mitchell"}, image.Pt(7, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.op.Name = "resize"
			got, err := resize(solid(tt.src.X, tt.src.Y, red), tt.op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != tt.want {
				t.Fatalf("size = %v, want %v", dims(got), tt.want)
			}
			// A solid colour stays that colour whatever the filter.
			if c := at(got, dims(got).X/2, dims(got).Y/2); !near(c, red, 2) {
				t.Errorf("centre pixel = %v, want red", c)
			}
		})
	}
}

func TestResizeNearestKeepsColours(t *testing.T) {
	got, err := resize(halves(4, 2), job.Op{Name: "resize", Width: 8, Filter: "nearest"}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if c := at(got, 0, 0); c != red {
		t.Errorf("left = %v, want red", c)
	}
	if c := at(got, 7, 3); c != blue {
		t.Errorf("right = %v, want blue", c)
	}
}

func TestResizeRefusesBeforeAllocating(t *testing.T) {
	// 1×1000 resized to width 20000 keeps the aspect: 20000×20000000.
	_, err := resize(solid(1, 1000, red), job.Op{Name: "resize", Width: 20000}, 50_000_000)
	wantCode(t, err, job.CodeImageTooLarge)
}

func TestResizeRejectsBadParameters(t *testing.T) {
	for _, op := range []job.Op{
		{Name: "resize"},
		{Name: "resize", Width: -1, Height: 5},
		{Name: "resize", Width: 5, Filter: "sinc"},
	} {
		_, err := resize(solid(4, 4, red), op, 1e6)
		wantCode(t, err, job.CodeInvalid)
	}
}
