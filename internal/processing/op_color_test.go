package processing

import (
	"image/color"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestGrayscale(t *testing.T) {
	img := halves(10, 4)
	img.SetNRGBA(0, 0, color.NRGBA{R: 200, G: 30, B: 90, A: 77})
	got, err := grayscale(img, job.Op{Name: "grayscale"}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	for y := range 4 {
		for x := range 10 {
			if c := at(got, x, y); c.R != c.G || c.G != c.B {
				t.Fatalf("pixel (%d,%d) = %v, want r == g == b", x, y, c)
			}
		}
	}
	if a := at(got, 0, 0).A; a != 77 {
		t.Errorf("alpha = %d, want 77 kept", a)
	}
}

func TestInvert(t *testing.T) {
	img := solid(3, 3, color.NRGBA{R: 10, G: 100, B: 250, A: 255})
	got, err := invert(img, job.Op{Name: "invert"}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	want := color.NRGBA{R: 245, G: 155, B: 5, A: 255}
	if c := at(got, 1, 1); c != want {
		t.Errorf("pixel = %v, want %v", c, want)
	}
}
