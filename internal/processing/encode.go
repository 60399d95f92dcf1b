package processing

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// encoders lists the output formats pixmill can write.
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
	if want == job.FormatWebP {
		return "", job.Errorf(job.CodeInvalid, "webp output is not supported yet")
	}
	if _, ok := encoders[want]; !ok {
		return "", job.Errorf(job.CodeInvalid, "unknown output format %q", want)
	}
	return want, nil
}

// encode writes img in format f. quality applies to JPEG only; 0 is the configured
// default. Formats without alpha get img flattened onto the background first, since
// their encoders would otherwise composite it onto black.
func (p *Processor) encode(img image.Image, f job.Format, quality int) ([]byte, error) {
	var opts []imaging.EncodeOption
	switch f {
	case job.FormatJPEG:
		if quality == 0 {
			quality = p.cfg.JPEGQuality
		}
		opts = append(opts, imaging.JPEGQuality(quality))
		img = flatten(img, p.background)
	case job.FormatBMP:
		img = flatten(img, p.background)
	case job.FormatPNG:
		opts = append(opts, imaging.PNGCompressionLevel(p.pngLevel))
	}
	var buf bytes.Buffer
	if err := imaging.Encode(&buf, img, encoders[f], opts...); err != nil {
		return nil, fmt.Errorf("encode %s: %w", f, err)
	}
	return buf.Bytes(), nil
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
