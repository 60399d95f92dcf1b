package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// brightness lightens (positive percent) or darkens (negative) by percent of full
// scale; -100 is black, 100 is white.
func brightness(img image.Image, op job.Op, _ int) (image.Image, error) {
	return imaging.AdjustBrightness(img, op.Percent), nil
}

// contrast raises (positive percent) or lowers (negative) contrast around the
// midtone; -100 is flat grey.
func contrast(img image.Image, op job.Op, _ int) (image.Image, error) {
	return imaging.AdjustContrast(img, op.Percent), nil
}

// gamma applies gamma correction: above 1 lightens, below 1 darkens, 1 is unchanged.
func gamma(img image.Image, op job.Op, _ int) (image.Image, error) {
	if op.Gamma <= 0 {
		return nil, job.Errorf(job.CodeInvalid, "gamma: gamma must be positive")
	}
	return imaging.AdjustGamma(img, op.Gamma), nil
}

// saturation raises (positive percent) or lowers (negative) colour saturation;
// -100 is grey.
func saturation(img image.Image, op job.Op, _ int) (image.Image, error) {
	return imaging.AdjustSaturation(img, op.Percent), nil
}
