package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// blur applies a Gaussian blur of standard deviation sigma pixels.
func blur(img image.Image, op job.Op, _ int) (image.Image, error) {
	if op.Sigma <= 0 {
		return nil, job.Errorf(job.CodeInvalid, "blur: sigma must be positive")
	}
	return imaging.Blur(img, op.Sigma), nil
}

// sharpen applies an unsharp mask whose blur has standard deviation sigma.
func sharpen(img image.Image, op job.Op, _ int) (image.Image, error) {
	if op.Sigma <= 0 {
		return nil, job.Errorf(job.CodeInvalid, "sharpen: sigma must be positive")
	}
	return imaging.Sharpen(img, op.Sigma), nil
}
