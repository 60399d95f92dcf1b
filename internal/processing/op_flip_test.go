package processing

import (
	"image"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestFlipTransposeTransverse(t *testing.T) {
	// marked(4, 3) has its red pixel at (1, 0).
	tests := []struct {
		name   string
		op     job.Op
		size   image.Point
		marker image.Point
	}{
		{"flip h", job.Op{Name: "flip", Direction: "h"}, image.Pt(4, 3), image.Pt(2, 0)},
		{"flip v", job.Op{Name: "flip", Direction: "v"}, image.Pt(4, 3), image.Pt(1, 2)},
		{"transpose", job.Op{Name: "transpose"}, image.Pt(3, 4), image.Pt(0, 1)},
		{"transverse", job.Op{Name: "transverse"}, image.Pt(3, 4), image.Pt(2, 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := steps[tt.op.Name](marked(4, 3), tt.op, 1e6)
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != tt.size {
				t.Errorf("size = %v, want %v", dims(got), tt.size)
			}
			if pts := find(got, red); len(pts) != 1 || pts[0] != tt.marker {
				t.Errorf("red at %v, want %v", pts, tt.marker)
			}
		})
	}
}

func TestFlipBadDirection(t *testing.T) {
	_, err := flip(marked(4, 3), job.Op{Name: "flip", Direction: "x"}, 1e6)
	wantCode(t, err, job.CodeInvalid)
}
