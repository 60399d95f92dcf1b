package processing

import (
	"image"
	"math"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// preshrink is the first stage of a two-stage resize. When op resamples img down
// by twoStageMin or more in both dimensions, it returns img reduced with a box
// (area-average) filter to shrinkMargin times op's target, and op pinned to the
// output size it gives the full image (planSizing); the op, with its own filter,
// is the second stage. A box tap costs a sixth of a Lanczos one (support 0.5
// against 3), so most of the work moves to the cheap filter while the final,
// quality-defining resample stays the op's. Anything else is returned as is.
func preshrink(img image.Image, op job.Op) (image.Image, job.Op) {
	w, h := size(img)
	s, ok := planSizing([]job.Op{op}, w, h)
	if !ok {
		return img, op
	}
	f := min(float64(w)/float64(s.tw), float64(h)/float64(s.th))
	if f < twoStageMin {
		return img, op
	}
	f /= shrinkMargin
	rw := max(1, int(math.Ceil(float64(w)/f)))
	rh := max(1, int(math.Ceil(float64(h)/f)))
	return imaging.Resize(img, rw, rh, imaging.Box), s.op
}
