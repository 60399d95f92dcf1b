package processing

import (
	"math"

	"github.com/pixmill/pixmill/internal/job"
)

// Shrinking before the resample: two levers make a smaller image first and let the
// variant's own resampling op (Lanczos by default) finish the job, which is where
// most of the time of a thumbnail of a large photo went.
//
//   - Shrink-on-load (Run, jpeg_turbo.go): a JPEG is decoded at 1/2, 1/4 or 1/8
//     scale in the DCT domain when every variant only shrinks.
//   - Two-stage resize (apply): an image still at least twoStageMin times larger
//     than what a sizing op makes is first reduced with a box (area) filter.
//
// Both keep shrinkMargin: the image the sizing op resamples stays at least that
// many times its target in both dimensions, so Lanczos still does the final,
// quality-defining step (libvips's rule too). docs/levers.md has the measurements.
const (
	shrinkMargin = 2.0
	twoStageMin  = 3.0
)

// sizing is a variant's first resampling op, as planned on an upright w×h source.
type sizing struct {
	index  int    // position in the ops
	op     job.Op // the op, its output size made independent of the input's size
	w, h   int    // size of the image that op receives from the ops before it
	tw, th int    // size it resamples the whole image to (fill: before cropping)
}

// minLeverSupport is the narrowest resampling filter (its support, in output
// pixels) that either lever applies to: Lanczos and the other smooth filters (2 or
// 3). Nearest, box, linear and hermite (≤ 1) are asked for by name for their look,
// which a prior reduction would change, and have few taps to save anyway.
const minLeverSupport = 2

// planSizing follows ops from an upright w×h image to the first op that resamples
// the whole image (resize, fit, fill, thumbnail) and reports it, if the ops before
// it are exact pixel moves or linear colour ops, which give the same result
// whether they run before or after a shrink. Anything else first (a crop, a free
// rotation, a blur, a watermark: all measured in source pixels), a narrow filter
// (minLeverSupport), a sizing op that does not shrink, or no sizing op at all:
// false, the variant needs the full-size image.
func planSizing(ops []job.Op, w, h int) (sizing, bool) {
	for i, op := range ops {
		switch op.Name {
		case "flip", "grayscale", "invert":
			continue
		case "transpose", "transverse":
			w, h = h, w
			continue
		case "rotate":
			switch cw := math.Mod(op.Angle, 360); cw {
			case 180, -180:
				continue
			case 90, 270, -90, -270:
				w, h = h, w
				continue
			}
			return sizing{}, false
		case "resize", "fit", "fill", "thumbnail":
		default:
			return sizing{}, false
		}
		if f, ok := filters[op.Filter]; !ok || f.Support < minLeverSupport || w <= 0 || h <= 0 {
			return sizing{}, false
		}
		s := sizing{index: i, op: op, w: w, h: h}
		switch op.Name {
		case "resize":
			if op.Width < 0 || op.Height < 0 || (op.Width == 0 && op.Height == 0) {
				return sizing{}, false
			}
			// A zero side follows the aspect ratio, which a shrunk source rounds
			// differently: pin both sides to what the full-size image gives.
			s.tw, s.th = resizeSize(w, h, op.Width, op.Height)
			s.op.Width, s.op.Height = s.tw, s.th
		case "fit":
			if op.Width <= 0 || op.Height <= 0 || (w <= op.Width && h <= op.Height) {
				return sizing{}, false
			}
			s.tw, s.th = fitSizeOf(w, h, op.Width, op.Height)
			// fit of the full image is this resize; of a shrunk one it could
			// round a pixel differently.
			s.op = job.Op{Name: "resize", Width: s.tw, Height: s.th, Filter: op.Filter}
		default: // fill, thumbnail: the output size is the op's own
			if op.Width <= 0 || op.Height <= 0 || (w == op.Width && h == op.Height) {
				return sizing{}, false
			}
			s.tw, s.th = coverSize(w, h, op.Width, op.Height)
		}
		if s.tw >= w && s.th >= h {
			return sizing{}, false // not a shrink
		}
		return s, true
	}
	return sizing{}, false
}

// coverSize is the smallest size with w×h's aspect ratio that covers width×height.
func coverSize(w, h, width, height int) (int, int) {
	if float64(w)/float64(h) < float64(width)/float64(height) {
		return resizeSize(w, h, width, 0)
	}
	return resizeSize(w, h, 0, height)
}

// shrinkFactor is the largest power-of-two reduction, at most maxDenom, after which
// s's op still receives an image margin times its target in both dimensions.
func (s sizing) shrinkFactor(maxDenom int, margin float64) int {
	n := maxDenom
	for n > 1 && (float64(s.w)/float64(n) < margin*float64(s.tw) || float64(s.h)/float64(n) < margin*float64(s.th)) {
		n /= 2
	}
	return n
}

// jpegShrink is the JPEG DCT scale denominator (1, 2, 4 or 8) for decoding an
// upright w×h source for spec: the largest that leaves every variant's first
// sizing op shrinkMargin times its target. One variant that needs the full image
// makes it 1.
func jpegShrink(spec job.Spec, w, h int, margin float64) int {
	denom := 8
	for _, v := range spec.Variants {
		s, ok := planSizing(v.Ops, w, h)
		if !ok {
			return 1
		}
		denom = min(denom, s.shrinkFactor(denom, margin))
	}
	return denom
}

// pinSizes returns spec with each variant's first sizing op made independent of
// the size of its input (see planSizing), as planned for an upright w×h source,
// so that a source decoded smaller gives results of exactly the same size.
func pinSizes(spec job.Spec, w, h int) job.Spec {
	out := job.Spec{Variants: make([]job.Variant, len(spec.Variants))}
	for i, v := range spec.Variants {
		if s, ok := planSizing(v.Ops, w, h); ok {
			v.Ops = append([]job.Op(nil), v.Ops...)
			v.Ops[s.index] = s.op
		}
		out.Variants[i] = v
	}
	return out
}
