package processing

import (
	"image"

	"github.com/pixmill/pixmill/internal/job"
)

// fit scales down, keeping the aspect ratio, to fit inside width×height. It never
// scales up.
func fit(img image.Image, op job.Op, maxPixels int) (image.Image, error) {
	if op.Width <= 0 || op.Height <= 0 {
		return nil, job.Errorf(job.CodeInvalid, "fit: width and height are required")
	}
	filter, err := resampleFilter(op)
	if err != nil {
		return nil, err
	}
	// The result is never larger than the source, which passed the limits already;
	// still check, so every step follows the same rule.
	w, h := fitSize(img, op.Width, op.Height)
	if err := checkPixels(w, h, maxPixels); err != nil {
		return nil, err
	}
	return resample(img, w, h, filter), nil // the source's own size: a clone, as imaging.Fit
}

// fitSize is the size imaging.Fit gives img for a width×height box.
func fitSize(img image.Image, maxW, maxH int) (int, int) {
	srcW, srcH := size(img)
	return fitSizeOf(srcW, srcH, maxW, maxH)
}

// fitSizeOf is the size imaging.Fit gives a srcW×srcH image for a maxW×maxH box.
func fitSizeOf(srcW, srcH, maxW, maxH int) (int, int) {
	if srcW <= maxW && srcH <= maxH {
		return srcW, srcH
	}
	srcAspect := float64(srcW) / float64(srcH)
	if srcAspect > float64(maxW)/float64(maxH) {
		return resizeSize(srcW, srcH, maxW, int(float64(maxW)/srcAspect))
	}
	return resizeSize(srcW, srcH, int(float64(maxH)*srcAspect), maxH)
}
