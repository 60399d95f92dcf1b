package processing

import (
	"image/color"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestAdjust(t *testing.T) {
	mid := color.NRGBA{R: 100, G: 150, B: 200, A: 255}
	dark := color.NRGBA{R: 60, G: 60, B: 60, A: 255}
	tests := []struct {
		name  string
		op    job.Op
		src   color.NRGBA
		check func(c color.NRGBA) bool
	}{
		{"brightness up", job.Op{Name: "brightness", Percent: 20}, dark, func(c color.NRGBA) bool { return near(c, color.NRGBA{111, 111, 111, 255}, 1) }},
		{"brightness -100 is black", job.Op{Name: "brightness", Percent: -100}, mid, func(c color.NRGBA) bool { return c == color.NRGBA{0, 0, 0, 255} }},
		{"brightness 100 is white", job.Op{Name: "brightness", Percent: 100}, mid, func(c color.NRGBA) bool { return c == white }},
		{"contrast up darkens a dark tone", job.Op{Name: "contrast", Percent: 50}, dark, func(c color.NRGBA) bool { return c.R < 60 }},
		{"contrast -100 is flat grey", job.Op{Name: "contrast", Percent: -100}, mid, func(c color.NRGBA) bool { return near(c, color.NRGBA{128, 128, 128, 255}, 1) }},
		{"gamma above 1 lightens", job.Op{Name: "gamma", Gamma: 2}, dark, func(c color.NRGBA) bool { return c.R > 100 }},
		{"gamma below 1 darkens", job.Op{Name: "gamma", Gamma: 0.5}, dark, func(c color.NRGBA) bool { return c.R < 30 }},
		{"saturation -100 is grey", job.Op{Name: "saturation", Percent: -100}, mid, func(c color.NRGBA) bool { return c.R == c.G && c.G == c.B }},
		{"saturation up spreads channels", job.Op{Name: "saturation", Percent: 50}, mid, func(c color.NRGBA) bool { return c.B-c.R > mid.B-mid.R }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := steps[tt.op.Name](solid(4, 4, tt.src), tt.op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != dims(solid(4, 4, tt.src)) {
				t.Fatalf("size = %v, want 4x4", dims(got))
			}
			if c := at(got, 2, 2); !tt.check(c) {
				t.Errorf("pixel %v -> %v", tt.src, c)
			}
		})
	}
}

func TestGammaRejectsZero(t *testing.T) {
	_, err := gamma(solid(2, 2, grey), job.Op{Name: "gamma"}, 1e6)
	wantCode(t, err, job.CodeInvalid)
}
