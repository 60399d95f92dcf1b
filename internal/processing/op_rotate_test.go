package processing

import (
	"image"
	"image/color"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestRotateExact(t *testing.T) {
	// marked(4, 3) has its red pixel at (1, 0). Angles are clockwise.
	tests := []struct {
		angle  float64
		size   image.Point
		marker image.Point
	}{
		{90, image.Pt(3, 4), image.Pt(2, 1)},
		{180, image.Pt(4, 3), image.Pt(2, 2)},
		{270, image.Pt(3, 4), image.Pt(0, 2)},
		{-90, image.Pt(3, 4), image.Pt(0, 2)},
		{-180, image.Pt(4, 3), image.Pt(2, 2)},
		{-270, image.Pt(3, 4), image.Pt(2, 1)},
	}
	for _, tt := range tests {
		got, err := rotate(marked(4, 3), job.Op{Name: "rotate", Angle: tt.angle}, 1e6)
		if err != nil {
			t.Fatal(err)
		}
		if dims(got) != tt.size {
			t.Errorf("rotate %v: size = %v, want %v", tt.angle, dims(got), tt.size)
		}
		if pts := find(got, red); len(pts) != 1 || pts[0] != tt.marker {
			t.Errorf("rotate %v: red at %v, want %v", tt.angle, pts, tt.marker)
		}
	}
}

func TestRotate90MovesTopLeftToTopRight(t *testing.T) {
	img := solid(6, 4, grey)
	img.SetNRGBA(0, 0, red)
	got, err := rotate(img, job.Op{Name: "rotate", Angle: 90}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	if c := at(got, 3, 0); c != red {
		t.Errorf("top-right = %v, want red (clockwise)", c)
	}
}

func TestRotateAnyAngleIsClockwise(t *testing.T) {
	// A red top-left block turned 45° clockwise ends up at the top centre; turned
	// counter-clockwise it would be at the left middle.
	img := solid(41, 41, blue)
	for y := range 8 {
		for x := range 8 {
			img.SetNRGBA(x, y, red)
		}
	}
	got, err := rotate(img, job.Op{Name: "rotate", Angle: 45, Background: "ffffff"}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	w, h := size(got)
	if w < 57 || w > 61 || h < 57 || h > 61 {
		t.Fatalf("size = %dx%d, want about 58x58", w, h)
	}
	if c := at(got, w/2, 5); !near(c, red, 40) {
		t.Errorf("top centre = %v, want red", c)
	}
	if c := at(got, 5, h/2); !near(c, blue, 40) {
		t.Errorf("left middle = %v, want blue", c)
	}
	if c := at(got, 0, 0); c != white {
		t.Errorf("corner = %v, want the white background", c)
	}
}

func TestRotateBackground(t *testing.T) {
	tests := []struct {
		background string
		want       color.NRGBA
	}{
		{"", color.NRGBA{}},
		{"ff0000", red},
		{"#00f", blue},
		{"ffffff80", color.NRGBA{R: 255, G: 255, B: 255, A: 128}},
	}
	for _, tt := range tests {
		got, err := rotate(solid(20, 10, grey), job.Op{Name: "rotate", Angle: 30, Background: tt.background}, 1e6)
		if err != nil {
			t.Fatal(err)
		}
		if c := at(got, 0, 0); c != tt.want {
			t.Errorf("background %q: corner = %v, want %v", tt.background, c, tt.want)
		}
	}
}

func TestRotateBoundHoldsCanvas(t *testing.T) {
	for _, angle := range []float64{1, 30, 45, 89.5, 135, 200, 359} {
		img := solid(37, 23, grey)
		bw, bh := rotatedBound(img, angle)
		got, err := rotate(img, job.Op{Name: "rotate", Angle: angle}, 1e6)
		if err != nil {
			t.Fatal(err)
		}
		if w, h := size(got); w > bw || h > bh {
			t.Errorf("angle %v: canvas %dx%d exceeds bound %dx%d", angle, w, h, bw, bh)
		}
	}
}

func TestRotateRefusesHugeCanvas(t *testing.T) {
	// A 10000×1 line turned 45° needs a ~7072×7072 canvas.
	_, err := rotate(solid(10000, 1, grey), job.Op{Name: "rotate", Angle: 45}, 1_000_000)
	wantCode(t, err, job.CodeImageTooLarge)
}
