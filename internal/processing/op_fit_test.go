package processing

import (
	"image"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestFit(t *testing.T) {
	tests := []struct {
		name string
		src  image.Point
		box  image.Point
		want image.Point
	}{
		{"wide into square", image.Pt(200, 100), image.Pt(50, 50), image.Pt(50, 25)},
		{"tall into square", image.Pt(100, 200), image.Pt(50, 50), image.Pt(25, 50)},
		{"never scales up", image.Pt(200, 100), image.Pt(400, 400), image.Pt(200, 100)},
		{"exact aspect", image.Pt(300, 200), image.Pt(150, 100), image.Pt(150, 100)},
		{"thin line", image.Pt(1000, 1), image.Pt(10, 10), image.Pt(10, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := solid(tt.src.X, tt.src.Y, blue)
			w, h := fitSize(img, tt.box.X, tt.box.Y)
			if image.Pt(w, h) != tt.want {
				t.Errorf("fitSize = %dx%d, want %v", w, h, tt.want)
			}
			got, err := fit(img, job.Op{Name: "fit", Width: tt.box.X, Height: tt.box.Y}, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != tt.want {
				t.Fatalf("size = %v, want %v", dims(got), tt.want)
			}
			if c := at(got, 0, 0); !near(c, blue, 2) {
				t.Errorf("pixel = %v, want blue", c)
			}
		})
	}
}
