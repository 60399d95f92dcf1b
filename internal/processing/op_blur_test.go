package processing

import (
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestBlurSharpen(t *testing.T) {
	for _, name := range []string{"blur", "sharpen"} {
		t.Run(name, func(t *testing.T) {
			op := job.Op{Name: name, Sigma: 2}
			// A flat colour stays flat.
			got, err := steps[name](solid(30, 20, grey), op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != dims(solid(30, 20, grey)) || !near(at(got, 15, 10), grey, 1) {
				t.Fatalf("flat image: size %v, pixel %v", dims(got), at(got, 15, 10))
			}
			op.Sigma = 0
			_, err = steps[name](solid(3, 3, grey), op, 1e6)
			wantCode(t, err, job.CodeInvalid)
		})
	}
}

func TestBlurSoftensEdge(t *testing.T) {
	got, err := blur(halves(40, 10), job.Op{Name: "blur", Sigma: 3}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	// Next to the red|blue edge both colours mix; far from it they stay pure.
	if c := at(got, 19, 5); c.R < 60 || c.B < 60 {
		t.Errorf("edge pixel = %v, want a red/blue mix", c)
	}
	if c := at(got, 0, 5); !near(c, red, 4) {
		t.Errorf("far pixel = %v, want red", c)
	}
}

func TestSharpenIncreasesEdgeContrast(t *testing.T) {
	img := solid(40, 10, grey)
	for y := range 10 {
		for x := 20; x < 40; x++ {
			img.SetNRGBA(x, y, white)
		}
	}
	got, err := sharpen(img, job.Op{Name: "sharpen", Sigma: 2}, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	// Unsharp masking overshoots: the grey side of the edge gets darker.
	if c := at(got, 19, 5); c.R >= grey.R {
		t.Errorf("pixel beside the edge = %v, want darker than %v", c, grey)
	}
}
