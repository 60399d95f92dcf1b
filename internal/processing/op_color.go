package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// grayscale removes colour, keeping luminance and alpha.
func grayscale(img image.Image, _ job.Op, _ int) (image.Image, error) {
	return imaging.Grayscale(img), nil
}

// invert turns each colour channel into its negative, keeping alpha.
func invert(img image.Image, _ job.Op, _ int) (image.Image, error) {
	return imaging.Invert(img), nil
}
