package processing

import (
	"image"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// fill scales and crops to exactly width×height, keeping the part of the image at
// anchor (default center).
func fill(img image.Image, op job.Op, maxPixels int) (image.Image, error) {
	if op.Width <= 0 || op.Height <= 0 {
		return nil, job.Errorf(job.CodeInvalid, "%s: width and height are required", op.Name)
	}
	filter, err := resampleFilter(op)
	if err != nil {
		return nil, err
	}
	a, err := anchor(op)
	if err != nil {
		return nil, err
	}
	if err := checkPixels(op.Width, op.Height, maxPixels); err != nil {
		return nil, err
	}
	// For a small source imaging.Fill scales first to cover the box, then crops: a
	// 1×100 source filled to 10000×10 would scale to 10000×1000000 on the way.
	if w, h := fillIntermediate(img, op.Width, op.Height); w > 0 {
		if err := checkPixels(w, h, maxPixels); err != nil {
			return nil, err
		}
	}
	srcW, srcH := size(img)
	if m, ok := img.(*image.NRGBA); ok && srcW >= 100 && srcH >= 100 && (srcW != op.Width || srcH != op.Height) {
		// imaging.Fill's crop-then-resize branch, the crop as a sub-image (no copy).
		crop := fillCrop(srcW, srcH, op.Width, op.Height, a).Add(m.Rect.Min)
		return resample(m.SubImage(crop), op.Width, op.Height, filter), nil
	}
	return imaging.Fill(img, op.Width, op.Height, a, filter), nil
}

// thumbnail is fill anchored at the center.
func thumbnail(img image.Image, op job.Op, maxPixels int) (image.Image, error) {
	op.Anchor = ""
	return fill(img, op, maxPixels)
}

// fillIntermediate is the size of the scaled image imaging.Fill makes before it
// crops, or 0, 0 when it crops first (then nothing is larger than the source).
func fillIntermediate(img image.Image, w, h int) (int, int) {
	srcW, srcH := size(img)
	if (srcW == w && srcH == h) || (srcW >= 100 && srcH >= 100) {
		return 0, 0
	}
	if float64(srcW)/float64(srcH) < float64(w)/float64(h) {
		return resizeSize(srcW, srcH, w, 0)
	}
	return resizeSize(srcW, srcH, 0, h)
}
