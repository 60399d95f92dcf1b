package processing

import (
	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// filters maps job.Filters to imaging's resampling filters.
var filters = map[string]imaging.ResampleFilter{
	"":           imaging.Lanczos,
	"lanczos":    imaging.Lanczos,
	"nearest":    imaging.NearestNeighbor,
	"box":        imaging.Box,
	"linear":     imaging.Linear,
	"hermite":    imaging.Hermite,
	"mitchell":   imaging.MitchellNetravali,
	"catmullrom": imaging.CatmullRom,
	"bspline":    imaging.BSpline,
	"gaussian":   imaging.Gaussian,
	"bartlett":   imaging.Bartlett,
	"hann":       imaging.Hann,
	"hamming":    imaging.Hamming,
	"blackman":   imaging.Blackman,
	"welch":      imaging.Welch,
	"cosine":     imaging.Cosine,
}

// anchors maps job.Anchors to imaging's anchors.
var anchors = map[string]imaging.Anchor{
	"":             imaging.Center,
	"center":       imaging.Center,
	"top-left":     imaging.TopLeft,
	"top":          imaging.Top,
	"top-right":    imaging.TopRight,
	"left":         imaging.Left,
	"right":        imaging.Right,
	"bottom-left":  imaging.BottomLeft,
	"bottom":       imaging.Bottom,
	"bottom-right": imaging.BottomRight,
}

func resampleFilter(op job.Op) (imaging.ResampleFilter, error) {
	f, ok := filters[op.Filter]
	if !ok {
		return imaging.ResampleFilter{}, job.Errorf(job.CodeInvalid, "%s: unknown filter %q", op.Name, op.Filter)
	}
	return f, nil
}

func anchor(op job.Op) (imaging.Anchor, error) {
	a, ok := anchors[op.Anchor]
	if !ok {
		return 0, job.Errorf(job.CodeInvalid, "%s: unknown anchor %q", op.Name, op.Anchor)
	}
	return a, nil
}
