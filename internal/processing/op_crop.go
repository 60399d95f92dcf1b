package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// crop cuts out width×height: at x,y from the top-left corner when no anchor is
// given, else at the anchor. The rectangle is clipped to the image; one entirely
// outside it is an error.
func crop(img image.Image, op job.Op, maxPixels int) (image.Image, error) {
	if op.Width <= 0 || op.Height <= 0 || op.X < 0 || op.Y < 0 {
		return nil, job.Errorf(job.CodeInvalid, "crop: width and height are required; x and y must not be negative")
	}
	b := img.Bounds()
	if op.Anchor != "" {
		a, err := anchor(op)
		if err != nil {
			return nil, err
		}
		w, h := min(op.Width, b.Dx()), min(op.Height, b.Dy())
		if err := checkPixels(w, h, maxPixels); err != nil {
			return nil, err
		}
		return imaging.CropAnchor(img, w, h, a), nil
	}
	r := image.Rect(op.X, op.Y, op.X+op.Width, op.Y+op.Height).Add(b.Min).Intersect(b)
	if r.Empty() {
		return nil, job.Errorf(job.CodeInvalid, "crop: %d×%d at %d,%d is outside the %d×%d image",
			op.Width, op.Height, op.X, op.Y, b.Dx(), b.Dy())
	}
	if err := checkPixels(r.Dx(), r.Dy(), maxPixels); err != nil {
		return nil, err
	}
	return imaging.Crop(img, r), nil
}
