package processing

import (
	"image"
	"math"
	"runtime"
	"sync"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// preshrink is the first stage of a two-stage resize. When op resamples img down
// by twoStageMin or more in both dimensions, it returns img reduced with a box
// (area-average) filter to at least boxMargin times op's target, and op pinned
// to the output size it gives the full image (planSizing); the op, with its own
// filter, is the second stage. A box tap costs a sixth of a Lanczos one (support
// 0.5 against 3), so most of the work moves to the cheap filter while the final,
// quality-defining resample stays the op's. An NRGBA image (libjpeg-turbo's, or
// any after a first op) is reduced by boxShrink, an integer k×k average, where
// k = ⌊shrink/boxMargin⌋ ≥ 2; below that (shrink 3–4: W1) and for other
// images, by a Box resize (resample: fixed point for opaque NRGBA), whose
// fractional factor lands on exactly boxMargin. Anything else is returned as
// is.
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
	f /= boxMargin
	if m, ok := img.(*image.NRGBA); ok && f >= 2 {
		return boxShrink(m, int(f)), s.op
	}
	rw := max(1, int(math.Ceil(float64(w)/f)))
	rh := max(1, int(math.Ceil(float64(h)/f)))
	return resample(img, rw, rh, imaging.Box), s.op
}

// maxBoxK bounds k so that a block's sums fit in uint32 (k²·255·255 < 2³²).
const maxBoxK = 64

// boxShrink averages every k×k block of src into one pixel, ⌈w/k⌉×⌈h/k⌉ (the last
// row and column average the pixels they have), weighting colour by alpha as
// imaging's filters do. Integer arithmetic, straight on the pixel buffer,
// output rows spread over GOMAXPROCS goroutines.
func boxShrink(src *image.NRGBA, k int) *image.NRGBA {
	k = min(k, maxBoxK)
	w, h := size(src)
	dw, dh := (w+k-1)/k, (h+k-1)/k
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	procs := min(runtime.GOMAXPROCS(0), dh)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sums := make([]uint32, dw*4)
			for dy := p * dh / procs; dy < (p+1)*dh/procs; dy++ {
				clear(sums)
				y0, y1 := dy*k, min(dy*k+k, h)
				for y := y0; y < y1; y++ {
					row := src.Pix[y*src.Stride : y*src.Stride+w*4]
					for dx := range dw {
						x0, x1 := dx*k, min(dx*k+k, w)
						var r, g, b, a uint32
						{
							px := row[x0*4 : x1*4]
							for i := 0; i+3 < len(px); i += 4 {
								pa := uint32(px[i+3])
								r += uint32(px[i]) * pa
								g += uint32(px[i+1]) * pa
								b += uint32(px[i+2]) * pa
								a += pa
							}
						}
						s := sums[dx*4 : dx*4+4 : dx*4+4]
						s[0] += r
						s[1] += g
						s[2] += b
						s[3] += a
					}
				}
				out := dst.Pix[dy*dst.Stride : dy*dst.Stride+dw*4]
				for dx := range dw {
					s := sums[dx*4 : dx*4+4 : dx*4+4]
					n := uint32((min(dx*k+k, w) - dx*k) * (y1 - y0))
					d := out[dx*4 : dx*4+4 : dx*4+4]
					if a := s[3]; a != 0 {
						d[0] = uint8((s[0] + a/2) / a)
						d[1] = uint8((s[1] + a/2) / a)
						d[2] = uint8((s[2] + a/2) / a)
						d[3] = uint8((a + n/2) / n)
					}
				}
			}
		}()
	}
	wg.Wait()
	return dst
}
