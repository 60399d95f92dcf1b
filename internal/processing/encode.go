package processing

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"io"

	"github.com/disintegration/imaging"
	"github.com/gen2brain/webp"

	"github.com/pixmill/pixmill/internal/job"
)

// encoders lists the output formats imaging writes; WebP is written by
// gen2brain/webp (see encodeWebP).
var encoders = map[job.Format]imaging.Format{
	job.FormatJPEG: imaging.JPEG,
	job.FormatPNG:  imaging.PNG,
	job.FormatGIF:  imaging.GIF,
	job.FormatTIFF: imaging.TIFF,
	job.FormatBMP:  imaging.BMP,
}

// outputFormat resolves a variant's format ("" is the source's) and checks that it
// can be written.
func outputFormat(want, source job.Format) (job.Format, error) {
	if want == "" {
		want = source
	}
	if !CanEncode(want) {
		return "", job.Errorf(job.CodeInvalid, "unknown output format %q", want)
	}
	return want, nil
}

// encode writes img in format f as v asks (quality, lossless); a zero quality is
// the configured default of the format. Formats without alpha get img flattened
// onto the background first, since their encoders would otherwise composite it
// onto black. No metadata (EXIF, ICC, XMP) is ever written.
func (p *Processor) encode(img image.Image, f job.Format, v job.Variant) ([]byte, error) {
	var buf bytes.Buffer
	var opts []imaging.EncodeOption
	switch f {
	case job.FormatWebP:
		if err := p.encodeWebP(&buf, img, v); err != nil {
			return nil, fmt.Errorf("encode %s: %w", f, err)
		}
		return buf.Bytes(), nil
	case job.FormatGIF:
		if err := gif.Encode(&buf, toPaletted(img), nil); err != nil {
			return nil, fmt.Errorf("encode %s: %w", f, err)
		}
		return buf.Bytes(), nil
	case job.FormatJPEG:
		quality := v.Quality
		if quality == 0 {
			quality = p.cfg.JPEGQuality
		}
		img = flatten(img, p.background)
		if data, ok, err := encodeJPEGTurbo(img, quality); ok {
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", f, err)
			}
			return data, nil
		}
		opts = append(opts, imaging.JPEGQuality(quality))
	case job.FormatBMP:
		img = flatten(img, p.background)
	case job.FormatPNG:
		opts = append(opts, imaging.PNGCompressionLevel(p.pngLevel))
	}
	if err := imaging.Encode(&buf, img, encoders[f], opts...); err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	return buf.Bytes(), nil
}

// encodeWebP writes img as WebP: lossy at v.Quality (default WebPQuality) or
// lossless, at the configured method.
func (p *Processor) encodeWebP(w io.Writer, img image.Image, v job.Variant) error {
	opts := webp.Options{Quality: v.Quality, Lossless: v.Lossless, Method: p.cfg.WebPMethod}
	if opts.Quality == 0 {
		opts.Quality = p.cfg.WebPQuality
	}
	// gen2brain/webp hands an *image.NRGBA's Pix to libwebp as is: it must start at
	// the origin with no row padding. (An *image.RGBA would be read as
	// non-premultiplied, so everything else is converted.)
	return webp.Encode(w, tightNRGBA(img), opts)
}

// tightNRGBA returns img as an *image.NRGBA at the origin whose rows are packed.
func tightNRGBA(img image.Image) *image.NRGBA {
	b := img.Bounds()
	if n, ok := img.(*image.NRGBA); ok && b.Min == (image.Point{}) && n.Stride == 4*b.Dx() {
		return n
	}
	dst := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// flatten composites img over an opaque bg and returns an opaque image; an image
// that is already opaque is returned as is.
func flatten(img image.Image, bg color.NRGBA) image.Image {
	if o, ok := img.(interface{ Opaque() bool }); ok && o.Opaque() {
		return img
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(bg), image.Point{}, draw.Src)
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Over)
	return dst
}
