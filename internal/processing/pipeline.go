package processing

import (
	"context"
	"image"

	"github.com/pixmill/pixmill/internal/job"
)

// step applies one operation to img and returns the result; img is never modified.
// A step computes the size of every image it would allocate first and refuses
// with CodeImageTooLarge when it is over maxPixels.
type step func(img image.Image, op job.Op, maxPixels int) (image.Image, error)

// steps maps each operation name of job.Op to its step; each lives in op_<name>.go.
// watermark is the one step that needs the Processor (op_watermark.go).
var steps = map[string]step{
	"resize":     resize,
	"fit":        fit,
	"fill":       fill,
	"thumbnail":  thumbnail,
	"crop":       crop,
	"rotate":     rotate,
	"flip":       flip,
	"transpose":  transpose,
	"transverse": transverse,
	"blur":       blur,
	"sharpen":    sharpen,
	"grayscale":  grayscale,
	"invert":     invert,
	"brightness": brightness,
	"contrast":   contrast,
	"gamma":      gamma,
	"saturation": saturation,
}

// apply runs ops in order on img, checking ctx before each one.
func (p *Processor) apply(ctx context.Context, img image.Image, ops []job.Op) (image.Image, error) {
	return p.applyOps(ctx, img, ops, p.cfg.TwoStageResize)
}

// applyOps is apply with the two-stage resize (preshrink) on or off.
func (p *Processor) applyOps(ctx context.Context, img image.Image, ops []job.Op, twoStage bool) (image.Image, error) {
	for i, op := range ops {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if twoStage {
			img, op = preshrink(img, op) // may turn a fit into a resize
		}
		s, ok := steps[op.Name]
		if op.Name == "watermark" {
			s, ok = p.watermark, true // needs the configured images
		}
		if !ok {
			return nil, job.Errorf(job.CodeInvalid, "op %d: unknown op %q", i+1, op.Name)
		}
		out, err := s(img, op, p.cfg.MaxOutputPixels)
		if err != nil {
			return nil, err
		}
		img = out
	}
	return img, nil
}
