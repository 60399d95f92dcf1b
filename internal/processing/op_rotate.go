package processing

import (
	"image"
	"image/color"
	"math"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// rotate turns the image CLOCKWISE by op.Angle degrees (negative is counter-
// clockwise), as most image services do; imaging turns counter-clockwise, so the
// angle is mirrored here. Multiples of 90 are exact pixel moves; any other angle
// resamples onto a canvas that holds the whole turned image, filled with
// op.Background (default transparent).
func rotate(img image.Image, op job.Op, maxPixels int) (image.Image, error) {
	if math.IsNaN(op.Angle) || math.IsInf(op.Angle, 0) {
		return nil, job.Errorf(job.CodeInvalid, "rotate: angle must be a finite number")
	}
	cw := math.Mod(op.Angle, 360)
	if cw < 0 {
		cw += 360
	}
	switch cw {
	case 0:
		return img, nil
	case 90:
		return imaging.Rotate270(img), nil
	case 180:
		return imaging.Rotate180(img), nil
	case 270:
		return imaging.Rotate90(img), nil
	}
	var bg color.Color = color.Transparent
	if op.Background != "" {
		c, err := parseHexColor(op.Background)
		if err != nil {
			return nil, job.Errorf(job.CodeInvalid, "rotate: background: %v", err)
		}
		bg = c
	}
	w, h := rotatedBound(img, cw)
	if err := checkPixels(w, h, maxPixels); err != nil {
		return nil, err
	}
	return imaging.Rotate(img, 360-cw, bg), nil
}

// rotatedBound is an upper bound of the canvas size imaging.Rotate allocates: the
// bounding box of the turned image plus the pixel it may round up on each side.
func rotatedBound(img image.Image, degrees float64) (int, int) {
	w, h := size(img)
	sin, cos := math.Sincos(degrees * math.Pi / 180)
	sin, cos = math.Abs(sin), math.Abs(cos)
	bw := math.Ceil(float64(w)*cos+float64(h)*sin) + 2
	bh := math.Ceil(float64(w)*sin+float64(h)*cos) + 2
	return int(bw), int(bh)
}
