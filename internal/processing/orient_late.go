package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// Orienting after the first sizing op: turning a 12 MP photo upright is a full
// pass over 48 MB of pixels (22 % of W1's CPU). An EXIF turn is an exact pixel
// move that commutes with a separable resample once the target's sides are swapped
// (orientations 5–8) and a crop rectangle is mapped back to the stored frame, so
// the job can resample the stored image and turn only the small result. Results
// differ from turning first only by the order in which the resample's two passes
// round (TestLateOrientSameOutput). docs/levers.md has the measurements.

// lateOrientable reports whether every variant of spec can resample img, stored
// with EXIF orientation o, before turning it: o is a turn (2–8), img is NRGBA
// (cropped without a copy), and each variant's first op is a sizing op that
// shrinks (planSizing on the upright size; fill and thumbnail only where
// imaging.Fill crops before it resizes, ≥ 100 px both sides). Ops before the
// sizing op (flip, rotate…) keep the old order: the turn happens first.
func lateOrientable(img image.Image, spec job.Spec, o int) bool {
	if o < 2 || o > 8 {
		return false
	}
	if _, ok := img.(*image.NRGBA); !ok {
		return false
	}
	w, h := size(img)
	uw, uh := orientedSize(w, h, o)
	for _, v := range spec.Variants {
		s, ok := planSizing(v.Ops, uw, uh)
		if !ok || s.index != 0 || int64(s.tw)*int64(s.th) >= int64(uw)*int64(uh) {
			return false
		}
		if (s.op.Name == "fill" || s.op.Name == "thumbnail") && (uw < 100 || uh < 100) {
			return false
		}
	}
	return true
}

// sizeLate applies op, the first op of a variant that lateOrientable accepted, to
// img as stored, and returns the result turned upright by o: the same image, up to
// rounding, as op applied to orient(img, o).
func sizeLate(img *image.NRGBA, op job.Op, o int, twoStage bool, maxPixels int) (image.Image, error) {
	sw, sh := size(img)
	uw, uh := orientedSize(sw, sh, o)
	s, ok := planSizing([]job.Op{op}, uw, uh)
	if !ok {
		// Not reached (lateOrientable); the old order is always right.
		return steps[op.Name](orient(img, o), op, maxPixels)
	}
	var src image.Image = img
	r := s.op // resize with both sides pinned, or fill/thumbnail
	if r.Name == "fill" || r.Name == "thumbnail" {
		if r.Name == "thumbnail" {
			r.Anchor = ""
		}
		a, err := anchor(r)
		if err != nil {
			return nil, err
		}
		if _, err := resampleFilter(r); err != nil {
			return nil, err
		}
		if err := checkPixels(r.Width, r.Height, maxPixels); err != nil {
			return nil, err
		}
		crop := storedRect(fillCrop(uw, uh, r.Width, r.Height, a), sw, sh, o)
		src = img.SubImage(crop.Add(img.Rect.Min))
		r = job.Op{Name: "resize", Width: r.Width, Height: r.Height, Filter: op.Filter}
	}
	r.Width, r.Height = orientedSize(r.Width, r.Height, o)
	if twoStage {
		src, r = preshrink(src, r)
	}
	out, err := resize(src, r, maxPixels)
	if err != nil {
		return nil, err
	}
	return orient(out, o), nil
}

// fillCrop is the rectangle imaging.Fill (its crop-then-resize branch) cuts out of
// a w×h image for a dstW×dstH result at anchor a.
func fillCrop(w, h, dstW, dstH int, a imaging.Anchor) image.Rectangle {
	cw, ch := w, h
	if float64(w)/float64(h) < float64(dstW)/float64(dstH) {
		ch = int(max(1, float64(w)*float64(dstH)/float64(dstW)) + 0.5)
	} else {
		cw = int(max(1, float64(h)*float64(dstW)/float64(dstH)) + 0.5)
	}
	b := image.Rect(0, 0, w, h)
	var x, y int
	switch a {
	case imaging.TopLeft:
	case imaging.Top:
		x = (w - cw) / 2
	case imaging.TopRight:
		x = w - cw
	case imaging.Left:
		y = (h - ch) / 2
	case imaging.Right:
		x, y = w-cw, (h-ch)/2
	case imaging.BottomLeft:
		y = h - ch
	case imaging.Bottom:
		x, y = (w-cw)/2, h-ch
	case imaging.BottomRight:
		x, y = w-cw, h-ch
	default:
		x, y = (w-cw)/2, (h-ch)/2
	}
	return image.Rect(x, y, x+cw, y+ch).Intersect(b)
}

// storedRect maps r, a rectangle of the upright image, to the rectangle of the
// sw×sh stored image (EXIF orientation o) that orient turns into it.
func storedRect(r image.Rectangle, sw, sh, o int) image.Rectangle {
	uw, uh := orientedSize(sw, sh, o)
	p := storedPoint(r.Min.X, r.Min.Y, uw, uh, o)
	q := storedPoint(r.Max.X-1, r.Max.Y-1, uw, uh, o)
	return image.Rect(min(p.X, q.X), min(p.Y, q.Y), max(p.X, q.X)+1, max(p.Y, q.Y)+1)
}

// storedPoint is the stored pixel that orientation o moves to upright (u, v) of a
// uw×uh upright image.
func storedPoint(u, v, uw, uh, o int) image.Point {
	switch o {
	case 2: // flip horizontal
		return image.Pt(uw-1-u, v)
	case 3: // rotate 180
		return image.Pt(uw-1-u, uh-1-v)
	case 4: // flip vertical
		return image.Pt(u, uh-1-v)
	case 5: // transpose
		return image.Pt(v, u)
	case 6: // rotate 90 clockwise
		return image.Pt(v, uw-1-u)
	case 7: // transverse
		return image.Pt(uh-1-v, uw-1-u)
	case 8: // rotate 90 counter-clockwise
		return image.Pt(uh-1-v, u)
	}
	return image.Pt(u, v)
}
