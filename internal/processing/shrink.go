package processing

import (
	"image"
	"math"
	"slices"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// Shrinking before the resample: two levers make a smaller image first and let the
// variant's own resampling op (Lanczos by default) finish the job, which is where
// most of the time of a thumbnail of a large photo went.
//
//   - Shrink-on-load (Run, jpeg_turbo.go): a JPEG is decoded at a reduced scale
//     (jpegScales) in the DCT domain when every variant only shrinks.
//   - Two-stage resize (apply): an image still at least twoStageMin times larger
//     than what a sizing op makes is first reduced with a box (area) filter.
//
// Each leaves a margin: the image the sizing op resamples stays at least that many
// times its target in both dimensions, so the op's own filter still does the
// final, quality-defining step. The DCT-domain reduction keeps jpegMargin, the
// box keeps boxMargin (libvips's 2). docs/levers.md has the measurements.
const (
	jpegMargin  = 1.5
	boxMargin   = 2.0
	twoStageMin = 3.0
)

// jpegScales are the scales, in eighths, that shrink-on-load decodes at, smallest
// first. libjpeg-turbo has SIMD IDCTs for 1/8, 1/4, 1/2 and 1/1 only; 5/8 and 6/8
// cost more than a full decode but leave a 1.5–2.5× shrink half the pixels to
// resample; 3/8 decodes slower than 4/8 and 7/8 much slower than 8/8 for little
// gain, so neither is used.
var jpegScales = []int{1, 2, 4, 5, 6}

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

// fitsAt reports whether s's op can run on the source decoded at eighths/8 and
// give the result it gives on the full source: the op still receives jpegMargin
// times its target in both dimensions, the scaled size is exact (libjpeg rounds a
// side up: a partial pixel at the edge would stretch the image by a fraction of a
// pixel), and a fill or thumbnail crops exactly the scaled rectangle it crops of
// the full image (a rectangle between two scaled pixels would shift the result).
func (s sizing) fitsAt(eighths int) bool {
	if s.w*eighths%8 != 0 || s.h*eighths%8 != 0 {
		return false
	}
	sw, sh := s.w*eighths/8, s.h*eighths/8
	if float64(sw) < jpegMargin*float64(s.tw) || float64(sh) < jpegMargin*float64(s.th) {
		return false
	}
	if s.op.Name != "fill" && s.op.Name != "thumbnail" {
		return true
	}
	a := imaging.Center
	if s.op.Name == "fill" {
		var err error
		if a, err = anchor(s.op); err != nil {
			return false
		}
	}
	// fill crops first only from 100 px up (the full source is at least that).
	if sw < 100 || sh < 100 {
		return false
	}
	full, scaled := fillCrop(s.w, s.h, s.op.Width, s.op.Height, a), fillCrop(sw, sh, s.op.Width, s.op.Height, a)
	for _, v := range []int{full.Min.X, full.Min.Y, full.Max.X, full.Max.Y} {
		if v*eighths%8 != 0 {
			return false
		}
	}
	return scaled == image.Rect(full.Min.X*eighths/8, full.Min.Y*eighths/8, full.Max.X*eighths/8, full.Max.Y*eighths/8)
}

// jpegScale is the scale, in eighths, to decode an upright w×h JPEG at for spec:
// the smallest of jpegScales at which every variant's first sizing op fits
// (sizing.fitsAt), else 8 (full size). One variant that needs the full image
// makes it 8.
func jpegScale(spec job.Spec, w, h int) int {
	var ss []sizing
	for _, v := range spec.Variants {
		s, ok := planSizing(v.Ops, w, h)
		if !ok {
			return 8
		}
		ss = append(ss, s)
	}
	for _, m := range jpegScales {
		if !slices.ContainsFunc(ss, func(s sizing) bool { return !s.fitsAt(m) }) {
			return m
		}
	}
	return 8
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
