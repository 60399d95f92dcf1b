package processing

import (
	"image"
	"image/color"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

func TestEncodeRoundTrip(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := pngOf(t, halves(64, 32))
	tests := []struct {
		format job.Format
		name   string // as image.Decode reports it
		tol    int
	}{
		{job.FormatJPEG, "jpeg", 40},
		{job.FormatPNG, "png", 0},
		{job.FormatGIF, "gif", 8},
		{job.FormatTIFF, "tiff", 0},
		{job.FormatBMP, "bmp", 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			r := runOne(t, p, src, job.Variant{Format: tt.format})
			if r.Format != tt.format {
				t.Errorf("Result.Format = %s, want %s", r.Format, tt.format)
			}
			img, name := decodeResult(t, r.Data)
			if name != tt.name || dims(img) != image.Pt(64, 32) {
				t.Fatalf("decoded %s %v, want %s 64x32", name, dims(img), tt.name)
			}
			if c := at(img, 8, 16); !near(c, red, tt.tol) {
				t.Errorf("left = %v, want red", c)
			}
			if c := at(img, 56, 16); !near(c, blue, tt.tol) {
				t.Errorf("right = %v, want blue", c)
			}
		})
	}
}

func TestEncodeKeepsSourceFormat(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, file := range []string{"jpeg-grayscale-128x128.jpg", "tiff-rgb-150x103.tiff", "bmp-8bit-palette.bmp"} {
		src := readImage(t, file)
		info, err := p.Probe(bytesReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if r := runOne(t, p, src, job.Variant{}); r.Format != info.Format {
			t.Errorf("%s: output %s, want the source's %s", file, r.Format, info.Format)
		}
	}
}

func TestEncodeWebPNotSupported(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, tt := range []struct {
		file   string
		format job.Format
	}{
		{"png-rgba-transparency-200x150.png", job.FormatWebP},
		{"webp-lossy-yellow-rose.webp", ""}, // "" keeps the source's format: webp
	} {
		_, err := p.Run(t.Context(), bytesReader(readImage(t, tt.file)),
			job.Spec{Variants: []job.Variant{{Name: "default", Format: tt.format}}})
		wantCode(t, err, job.CodeInvalid)
		if msg := job.ErrorMessage(err); msg != "webp output is not supported yet" {
			t.Errorf("message = %q", msg)
		}
	}
}

func TestEncodeJPEGQuality(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "webp-lossy-yellow-rose.webp")
	ops := []job.Op{{Name: "resize", Width: 200}}
	low := runOne(t, p, src, job.Variant{Ops: ops, Format: job.FormatJPEG, Quality: 10})
	def := runOne(t, p, src, job.Variant{Ops: ops, Format: job.FormatJPEG})
	high := runOne(t, p, src, job.Variant{Ops: ops, Format: job.FormatJPEG, Quality: 98})
	if len(low.Data) >= len(def.Data) || len(def.Data) >= len(high.Data) {
		t.Errorf("sizes q10=%d default=%d q98=%d, want increasing", len(low.Data), len(def.Data), len(high.Data))
	}
}

// TestEncodeFlattensAlpha: formats without alpha show transparent pixels on the
// configured background, not black.
func TestEncodeFlattensAlpha(t *testing.T) {
	src := solid(40, 20, color.NRGBA{}) // transparent
	half := color.NRGBA{R: 255, A: 128} // half-transparent red
	for y := range 20 {
		for x := 20; x < 40; x++ {
			src.SetNRGBA(x, y, half)
		}
	}
	data := pngOf(t, src)
	tests := []struct {
		format     job.Format
		background string
		clear      color.NRGBA // expected where src is transparent
		halfRed    color.NRGBA // expected where src is half red
		tol        int
	}{
		{job.FormatJPEG, "ffffff", white, color.NRGBA{R: 255, G: 127, B: 127, A: 255}, 12},
		{job.FormatBMP, "ffffff", white, color.NRGBA{R: 255, G: 127, B: 127, A: 255}, 1},
		{job.FormatJPEG, "#000", color.NRGBA{A: 255}, color.NRGBA{R: 128, A: 255}, 12},
		{job.FormatBMP, "0000ff", blue, color.NRGBA{R: 128, B: 127, A: 255}, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.format)+" on "+tt.background, func(t *testing.T) {
			p := newTestProcessor(t, func(c *Config) { c.Background = tt.background })
			r := runOne(t, p, data, job.Variant{Format: tt.format})
			img, _ := decodeResult(t, r.Data)
			if c := at(img, 5, 10); !near(c, tt.clear, tt.tol) {
				t.Errorf("transparent area = %v, want %v", c, tt.clear)
			}
			if c := at(img, 30, 10); !near(c, tt.halfRed, tt.tol) {
				t.Errorf("half-transparent red = %v, want %v", c, tt.halfRed)
			}
		})
	}
}

func TestEncodeKeepsAlphaInPNG(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "png-palette-interlaced-trns-162x150.png")
	r := runOne(t, p, src, job.Variant{Format: job.FormatPNG})
	img, _ := decodeResult(t, r.Data)
	if o, ok := img.(interface{ Opaque() bool }); !ok || o.Opaque() {
		t.Errorf("PNG output of a tRNS source lost its transparency")
	}
}

func TestEncodeRealPhotoWithAlphaToJPEG(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "png-rgba-transparency-200x150.png")
	plain, _ := decodeResult(t, src)
	r := runOne(t, p, src, job.Variant{Format: job.FormatJPEG})
	img, _ := decodeResult(t, r.Data)
	// Transparent areas of the source come out (near) white. JPEG's chroma
	// subsampling bleeds colour a few pixels, so only pixels well inside them count.
	clear := func(x, y int) bool {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				if at(plain, x+dx, y+dy).A != 0 {
					return false
				}
			}
		}
		return true
	}
	w, h := size(plain)
	var checked int
	for y := 4; y < h-4; y += 3 {
		for x := 4; x < w-4; x += 3 {
			if !clear(x, y) {
				continue
			}
			checked++
			if c := at(img, x, y); !near(c, white, 24) {
				t.Fatalf("transparent pixel (%d,%d) = %v, want white", x, y, c)
			}
		}
	}
	if checked == 0 {
		t.Fatal("the source has no transparent pixels to check")
	}
}

// TestCanEncodeAgreesWithRun: CanEncode (formats.go) and Run accept the same formats.
func TestCanEncodeAgreesWithRun(t *testing.T) {
	for _, f := range []job.Format{job.FormatJPEG, job.FormatPNG, job.FormatGIF, job.FormatTIFF, job.FormatBMP, job.FormatWebP} {
		_, err := outputFormat(f, job.FormatPNG)
		if CanEncode(f) != (err == nil) {
			t.Errorf("%s: CanEncode = %v, outputFormat error = %v", f, CanEncode(f), err)
		}
	}
}
