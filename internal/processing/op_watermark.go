package processing

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"regexp"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// watermarkName is job's rule for the image parameter of the watermark op, so that
// every configured name can be asked for.
var watermarkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// loadWatermarks reads and decodes every configured watermark file once, each
// checked against MaxWatermarkPixels from its header before it is decoded.
func (p *Processor) loadWatermarks(files map[string]string) (map[string]*image.NRGBA, error) {
	wm := make(map[string]*image.NRGBA, len(files))
	guard := &Processor{cfg: p.cfg}
	guard.cfg.MaxPixels = p.cfg.MaxWatermarkPixels
	for name, path := range files {
		if !watermarkName.MatchString(name) {
			return nil, fmt.Errorf("processing: watermark name %q: use 1-64 letters, digits, '.', '-' or '_'", name)
		}
		img, err := guard.loadImage(path)
		if err != nil {
			return nil, fmt.Errorf("processing: watermark %q: %w", name, err)
		}
		wm[name] = img
	}
	return wm, nil
}

// loadImage decodes the image file at path after checking its header.
func (p *Processor) loadImage(path string) (*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read only: a close error changes nothing
	info, body, err := p.open(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	img, err := decode(body, info.Format)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return imaging.Clone(img), nil
}

// HasWatermark reports whether name is a configured watermark, so that a job
// asking for another can be refused when it is submitted.
func (p *Processor) HasWatermark(name string) bool {
	_, ok := p.watermarks[name]
	return ok
}

// checkWatermarks refuses a spec naming a watermark that is not configured, before
// anything is decoded.
func (p *Processor) checkWatermarks(spec job.Spec) error {
	for _, v := range spec.Variants {
		for _, op := range v.Ops {
			if op.Name == "watermark" && !p.HasWatermark(op.Image) {
				return job.Errorf(job.CodeInvalid, "unknown watermark %q", op.Image)
			}
		}
	}
	return nil
}

// watermark draws the configured image op.Image over img at op.Anchor (default
// bottom-right), op.Margin pixels from the anchored edges, at op.Opacity (0 means
// 1). op.Scale sizes it to that fraction of img's width (0: its own size). A
// watermark that would not fit inside the margins is scaled down to fit, keeping
// its aspect ratio.
func (p *Processor) watermark(img image.Image, op job.Op, _ int) (image.Image, error) {
	wm, ok := p.watermarks[op.Image]
	if !ok {
		return nil, job.Errorf(job.CodeInvalid, "unknown watermark %q", op.Image)
	}
	if op.Margin < 0 || !(op.Opacity >= 0 && op.Opacity <= 1) || !(op.Scale >= 0 && op.Scale <= 1) {
		return nil, job.Errorf(job.CodeInvalid, "watermark: margin, opacity or scale out of range")
	}
	a := op.Anchor
	if a == "" {
		a = "bottom-right"
	}
	if _, ok := anchors[a]; !ok {
		return nil, job.Errorf(job.CodeInvalid, "watermark: unknown anchor %q", op.Anchor)
	}
	w, h := size(img)
	ww, wh := watermarkSize(wm.Bounds().Dx(), wm.Bounds().Dy(), w, h, op.Margin, op.Scale)
	var mark image.Image = wm
	if ww != wm.Bounds().Dx() || wh != wm.Bounds().Dy() {
		mark = imaging.Resize(wm, ww, wh, imaging.Lanczos) // at most img's size
	}
	x, y := place(a, w, h, ww, wh, op.Margin)

	opacity := op.Opacity
	if opacity == 0 {
		opacity = 1
	}
	dst := imaging.Clone(img) // same size as img: nothing new to check
	r := image.Rect(x, y, x+ww, y+wh)
	mask := image.NewUniform(color.Alpha{A: uint8(math.Round(opacity * 255))})
	draw.DrawMask(dst, r, mark, image.Point{}, mask, image.Point{}, draw.Over)
	return dst, nil
}

// watermarkSize is the size a ww×wh watermark is drawn at on a w×h image.
func watermarkSize(ww, wh, w, h, margin int, scale float64) (int, int) {
	fw, fh := float64(ww), float64(wh)
	if scale > 0 {
		fw, fh = scale*float64(w), scale*float64(w)*fh/fw
	}
	availW, availH := float64(max(w-2*margin, 1)), float64(max(h-2*margin, 1))
	if k := math.Min(availW/fw, availH/fh); k < 1 {
		fw, fh = fw*k, fh*k
	}
	return max(1, int(math.Round(fw))), max(1, int(math.Round(fh)))
}

// place is the top-left corner of a ww×wh box at anchor a on a w×h image, margin
// pixels from the anchored edges, kept inside the image.
func place(a string, w, h, ww, wh, margin int) (int, int) {
	pos := func(side string, size, box int) int {
		switch side {
		case "start":
			return margin
		case "end":
			return size - box - margin
		}
		return (size - box) / 2
	}
	col, row := "middle", "middle"
	switch a {
	case "top-left", "left", "bottom-left":
		col = "start"
	case "top-right", "right", "bottom-right":
		col = "end"
	}
	switch a {
	case "top-left", "top", "top-right":
		row = "start"
	case "bottom-left", "bottom", "bottom-right":
		row = "end"
	}
	x := min(max(pos(col, w, ww), 0), max(w-ww, 0))
	y := min(max(pos(row, h, wh), 0), max(h-wh, 0))
	return x, y
}
