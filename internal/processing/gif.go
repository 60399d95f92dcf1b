package processing

import (
	"image"
	"image/color"
	"image/color/palette"
	"sync"
)

// gifPalette is palette.Plan9, the palette image/gif quantizes to by default, for
// images without transparency.
var gifPalette = color.Palette(palette.Plan9)

// gifPaletteAlpha is Plan9 with one colour given up for transparency: the one
// closest to another entry, so the least is lost.
var gifPaletteAlpha = func() color.Palette {
	drop, best := 0, uint32(1<<32-1)
	for i, c := range gifPalette {
		others := append(append(color.Palette{}, gifPalette[:i]...), gifPalette[i+1:]...)
		if d := sqDist(c, others.Convert(c)); d < best {
			drop, best = i, d
		}
	}
	p := append(color.Palette{}, gifPalette...)
	p[drop] = color.NRGBA{}
	return p
}()

func sqDist(a, b color.Color) uint32 {
	ar, ag, ab, _ := a.RGBA()
	br, bg, bb, _ := b.RGBA()
	d := func(x, y uint32) uint32 { x, y = x>>8, y>>8; return (x - y) * (x - y) }
	return d(ar, br) + d(ag, bg) + d(ab, bb)
}

// toPaletted converts img for GIF. GIF transparency is on or off, so pixels under
// half alpha become transparent and the rest opaque. An image of at most 256 such
// colours (a GIF frame that was only cut, turned or flipped, a flat graphic) keeps
// them exactly; any other is dithered (Floyd–Steinberg) to Plan9 like image/gif's
// default, but with one entry given to transparency when some pixels need it:
// image/gif's default would dither transparent areas to black.
func toPaletted(img image.Image) *image.Paletted {
	src := tightNRGBA(img)
	b := src.Bounds()
	if dst := exactPaletted(src); dst != nil {
		return dst
	}
	transparent := false
	for i := 3; i < len(src.Pix); i += 4 {
		if src.Pix[i] < 0x80 {
			transparent = true
			break
		}
	}
	if !transparent {
		dst := image.NewPaletted(b, gifPalette)
		dither(dst, src, plan9LUT())
		return dst
	}
	pal := gifPaletteAlpha
	dst := image.NewPaletted(b, pal)
	dither(dst, src, plan9AlphaLUT()) // the colour channels only: alpha is ignored
	clear := uint8(pal.Index(color.NRGBA{}))
	for i := range dst.Pix {
		if src.Pix[4*i+3] < 0x80 {
			dst.Pix[i] = clear
		}
	}
	return dst
}

// colourLUT maps a colour with 5 bits a channel (r<<10 | g<<5 | b) to the index of
// the nearest opaque entry of a palette: palette.Index searches all 256 entries
// for every pixel, which made a 42-frame GIF take seconds.
type colourLUT struct {
	index [1 << 15]uint8
	rgb   [256][3]int32
}

func newColourLUT(pal color.Palette) *colourLUT {
	lut := &colourLUT{}
	var opaque []int
	for i, c := range pal {
		r, g, b, a := c.RGBA()
		lut.rgb[i] = [3]int32{int32(r >> 8), int32(g >> 8), int32(b >> 8)}
		if a == 0xffff {
			opaque = append(opaque, i)
		}
	}
	for cell := range lut.index {
		r, g, b := int32(cell>>10)<<3|4, int32(cell>>5&31)<<3|4, int32(cell&31)<<3|4
		best, bestD := 0, int32(1<<31-1)
		for _, i := range opaque {
			c := lut.rgb[i]
			if d := (r-c[0])*(r-c[0]) + (g-c[1])*(g-c[1]) + (b-c[2])*(b-c[2]); d < bestD {
				best, bestD = i, d
			}
		}
		lut.index[cell] = uint8(best)
	}
	return lut
}

var (
	plan9LUT      = sync.OnceValue(func() *colourLUT { return newColourLUT(gifPalette) })
	plan9AlphaLUT = sync.OnceValue(func() *colourLUT { return newColourLUT(gifPaletteAlpha) })
)

// dither sets dst (same bounds as src, at the origin) to src's colours through lut
// with Floyd–Steinberg error diffusion.
func dither(dst *image.Paletted, src *image.NRGBA, lut *colourLUT) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	cur, next := make([][3]int32, w+2), make([][3]int32, w+2) // error ×16, offset by 1
	for y := range h {
		row := src.Pix[y*src.Stride:]
		out := dst.Pix[y*dst.Stride:]
		for x := range w {
			var c [3]int32
			for k := range 3 {
				c[k] = min(max(int32(row[4*x+k])+(cur[x+1][k]+8)>>4, 0), 255)
			}
			idx := lut.index[c[0]>>3<<10|c[1]>>3<<5|c[2]>>3]
			out[x] = idx
			p := lut.rgb[idx]
			for k := range 3 {
				e := c[k] - p[k]
				cur[x+2][k] += 7 * e
				next[x][k] += 3 * e
				next[x+1][k] += 5 * e
				next[x+2][k] += e
			}
		}
		cur, next = next, cur
		clear(next)
	}
}

// exactPaletted returns src as a Paletted image of its own colours (alpha made 0 or
// opaque), or nil if it has more than 256 of them.
func exactPaletted(src *image.NRGBA) *image.Paletted {
	index := make(map[color.NRGBA]uint8, 256)
	var pal color.Palette
	dst := image.NewPaletted(src.Bounds(), nil)
	for i := range dst.Pix {
		p := src.Pix[4*i : 4*i+4 : 4*i+4]
		c := color.NRGBA{}
		if p[3] >= 0x80 {
			c = color.NRGBA{R: p[0], G: p[1], B: p[2], A: 0xff}
		}
		n, ok := index[c]
		if !ok {
			if len(pal) == 256 {
				return nil
			}
			n = uint8(len(pal))
			index[c] = n
			pal = append(pal, c)
		}
		dst.Pix[i] = n
	}
	dst.Palette = pal
	return dst
}
