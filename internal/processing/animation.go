package processing

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"io"

	"github.com/pixmill/pixmill/internal/job"
)

// decodeAnimation decodes every frame of a GIF whose frames header counted (and
// checked against MaxFrames and MaxAnimationPixels). Frames stay paletted, one
// byte a pixel, until they are composited one at a time.
func decodeAnimation(r io.Reader) (g *gif.GIF, err error) {
	defer func() {
		if v := recover(); v != nil {
			g, err = nil, decodeError(fmt.Errorf("decoder panic: %v", v))
		}
	}()
	g, err = gif.DecodeAll(r)
	if err != nil {
		return nil, decodeError(err)
	}
	if len(g.Image) == 0 || len(g.Delay) != len(g.Image) || len(g.Disposal) != len(g.Image) {
		return nil, job.Errorf(job.CodeCorruptImage, "the GIF has no frames")
	}
	return g, nil
}

// composite calls fn with each frame of g drawn onto the logical screen as a
// viewer shows it: the canvas starts transparent, each frame is drawn over it, and
// after fn the frame's disposal method is applied (none: keep; background: clear
// its rectangle to transparent, as browsers do; previous: restore what was under
// it). fn must not keep the canvas, which the next frame draws on.
func composite(g *gif.GIF, fn func(i int, frame *image.NRGBA) error) error {
	canvas := image.NewNRGBA(image.Rect(0, 0, g.Config.Width, g.Config.Height))
	var saved []byte
	for i, f := range g.Image {
		r := f.Bounds().Intersect(canvas.Rect)
		if g.Disposal[i] == gif.DisposalPrevious {
			saved = append(saved[:0], canvas.Pix...)
		}
		drawFrame(canvas, f, r)
		if err := fn(i, canvas); err != nil {
			return err
		}
		switch g.Disposal[i] {
		case gif.DisposalBackground:
			for y := r.Min.Y; y < r.Max.Y; y++ {
				clear(canvas.Pix[canvas.PixOffset(r.Min.X, y):canvas.PixOffset(r.Max.X, y)])
			}
		case gif.DisposalPrevious:
			copy(canvas.Pix, saved)
		}
	}
	return nil
}

// drawFrame draws the opaque pixels of f within r onto canvas. GIF colours are
// opaque or (the transparent index) fully transparent, so no blending is needed.
func drawFrame(canvas *image.NRGBA, f *image.Paletted, r image.Rectangle) {
	pal := make([]color.NRGBA, 256) // indices past the palette stay transparent
	for i, c := range f.Palette {
		if i < len(pal) {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := f.Pix[f.PixOffset(r.Min.X, y):f.PixOffset(r.Max.X, y)]
		dst := canvas.Pix[canvas.PixOffset(r.Min.X, y):]
		for x, idx := range src {
			if c := pal[idx]; c.A != 0 {
				dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = c.R, c.G, c.B, 0xff
			}
		}
	}
}

// firstFrame is g's first frame as a viewer shows it, on the full logical screen.
func firstFrame(g *gif.GIF) image.Image {
	var first *image.NRGBA
	_ = composite(&gif.GIF{Image: g.Image[:1], Delay: g.Delay[:1], Disposal: g.Disposal[:1], Config: g.Config},
		func(_ int, f *image.NRGBA) error { first = f; return nil })
	return first
}

// animate applies v's ops to every composited frame of g and encodes the results
// as an animated GIF with g's delays and loop count. Every output frame is a full
// picture: each is disposed to transparent when the next has transparent pixels,
// so nothing of one shows through the next. The output frames together are held
// to MaxAnimationPixels, like the source's.
func (p *Processor) animate(ctx context.Context, g *gif.GIF, ops []job.Op) ([]byte, image.Point, error) {
	out := &gif.GIF{LoopCount: g.LoopCount, Delay: append([]int(nil), g.Delay...)}
	var clearPix []bool // per output frame: has transparent pixels
	err := composite(g, func(i int, frame *image.NRGBA) error {
		img, err := p.apply(ctx, frame, ops)
		if err != nil {
			return err
		}
		if i == 0 {
			w, h := size(img)
			if err := p.checkFrames(w, h, len(g.Image)); err != nil {
				return err
			}
		} else if size0 := out.Image[0].Bounds().Size(); img.Bounds().Size() != size0 {
			return fmt.Errorf("frame %d came out %v, frame 1 %v", i+1, img.Bounds().Size(), size0)
		}
		pm := toPaletted(img)
		out.Image = append(out.Image, pm)
		clearPix = append(clearPix, hasTransparent(pm))
		return nil
	})
	if err != nil {
		return nil, image.Point{}, err
	}
	out.Disposal = make([]byte, len(out.Image))
	for i := range out.Disposal {
		out.Disposal[i] = gif.DisposalNone
		if i+1 < len(out.Image) && clearPix[i+1] {
			out.Disposal[i] = gif.DisposalBackground
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, image.Point{}, err
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, out); err != nil {
		return nil, image.Point{}, fmt.Errorf("encode gif: %w", err)
	}
	return buf.Bytes(), out.Image[0].Bounds().Size(), nil
}

// hasTransparent reports whether any pixel of pm has a transparent colour.
func hasTransparent(pm *image.Paletted) bool {
	var clearIdx [256]bool
	found := false
	for i, c := range pm.Palette {
		if _, _, _, a := c.RGBA(); a == 0 {
			clearIdx[i], found = true, true
		}
	}
	if !found {
		return false
	}
	for _, idx := range pm.Pix {
		if clearIdx[idx] {
			return true
		}
	}
	return false
}
