package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// flip mirrors left-right (direction h) or top-bottom (direction v).
func flip(img image.Image, op job.Op, _ int) (image.Image, error) {
	switch op.Direction {
	case "h":
		return imaging.FlipH(img), nil
	case "v":
		return imaging.FlipV(img), nil
	}
	return nil, job.Errorf(job.CodeInvalid, "flip: direction must be h or v")
}

// transpose mirrors across the top-left to bottom-right diagonal.
func transpose(img image.Image, _ job.Op, _ int) (image.Image, error) {
	return imaging.Transpose(img), nil
}

// transverse mirrors across the top-right to bottom-left diagonal.
func transverse(img image.Image, _ job.Op, _ int) (image.Image, error) {
	return imaging.Transverse(img), nil
}
