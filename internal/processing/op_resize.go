package processing

import (
	"image"
	"math"

	"github.com/pixmill/pixmill/internal/job"
)

// resize scales to width×height; a zero side follows the aspect ratio.
func resize(img image.Image, op job.Op, maxPixels int) (image.Image, error) {
	if op.Width < 0 || op.Height < 0 || (op.Width == 0 && op.Height == 0) {
		return nil, job.Errorf(job.CodeInvalid, "resize: width or height is required and neither may be negative")
	}
	filter, err := resampleFilter(op)
	if err != nil {
		return nil, err
	}
	srcW, srcH := size(img)
	w, h := resizeSize(srcW, srcH, op.Width, op.Height)
	if err := checkPixels(w, h, maxPixels); err != nil {
		return nil, err
	}
	return resample(img, w, h, filter), nil
}

// resizeSize is the size imaging.Resize gives a srcW×srcH source for width×height:
// a zero side is rounded from the aspect ratio, at least 1.
func resizeSize(srcW, srcH, width, height int) (int, int) {
	if width == 0 {
		width = int(math.Max(1, math.Floor(float64(height)*float64(srcW)/float64(srcH)+0.5)))
	}
	if height == 0 {
		height = int(math.Max(1, math.Floor(float64(width)*float64(srcH)/float64(srcW)+0.5)))
	}
	return width, height
}
