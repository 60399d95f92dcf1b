package processing

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"testing"

	xwebp "golang.org/x/image/webp"

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
		{job.FormatWebP, "webp", 40},
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

// decodeWebP decodes WebP with x/image (independent of the encoder, libwebp), with
// the colour conversion TestEncodeWebPLossy checks, and fails unless data is WebP.
func decodeWebP(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := xwebp.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode webp: %v", err)
	}
	return vp8ToNRGBA(img)
}

func TestEncodeWebPLossy(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "jpeg-progressive-999x999.jpg")
	ops := []job.Op{{Name: "resize", Width: 300}}
	res, err := p.Run(t.Context(), bytesReader(src), job.Spec{Variants: []job.Variant{
		{Name: "png", Ops: ops, Format: job.FormatPNG},
		{Name: "q20", Ops: ops, Format: job.FormatWebP, Quality: 20},
		{Name: "default", Ops: ops, Format: job.FormatWebP},
		{Name: "q95", Ops: ops, Format: job.FormatWebP, Quality: 95},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeResult(t, res[0].Data)
	low, def, high := res[1], res[2], res[3]
	if def.Format != job.FormatWebP || def.Width != 300 || def.Height != 300 {
		t.Fatalf("result %s %dx%d, want webp 300x300", def.Format, def.Width, def.Height)
	}
	if len(low.Data) >= len(def.Data) || len(def.Data) >= len(high.Data) {
		t.Errorf("sizes q20=%d default=%d q95=%d, want increasing", len(low.Data), len(def.Data), len(high.Data))
	}
	for _, r := range []Result{low, def, high} {
		img := decodeWebP(t, r.Data)
		if dims(img) != image.Pt(300, 300) {
			t.Fatalf("decoded %v, want 300x300", dims(img))
		}
		d := meanAbsDiff(t, img, want)
		t.Logf("%s: %d bytes, mean difference %.2f", r.Variant, len(r.Data), d)
		if d > 5 {
			t.Errorf("%s: %d bytes: differs from the PNG result by %.2f", r.Variant, len(r.Data), d)
		}
	}

	// Read back as a source, the q95 file keeps the photo's colours (see vp8ToNRGBA).
	back, _ := decodeResult(t, runOne(t, p, high.Data, job.Variant{Format: job.FormatPNG}).Data)
	d := meanAbsDiff(t, back, want)
	t.Logf("mean difference through lossy WebP as a source: %.2f", d)
	if d > 3 {
		t.Errorf("a q95 lossy WebP source differs from the original by %.2f", d)
	}
	plain, err := xwebp.Decode(bytes.NewReader(high.Data))
	if err != nil {
		t.Fatal(err)
	}
	if d := meanAbsDiff(t, plain, want); d <= 6 {
		t.Errorf("read as full-range YCbCr it differs by only %.2f; the check is too weak", d)
	}
}

// TestEncodeWebPLosslessAlpha: lossless WebP keeps every visible pixel and every
// alpha value of a real photo with transparency.
func TestEncodeWebPLosslessAlpha(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "png-rgba-transparency-200x150.png")
	plain, _ := decodeResult(t, src)
	r := runOne(t, p, src, job.Variant{Format: job.FormatWebP, Lossless: true})
	img := decodeWebP(t, r.Data)
	if dims(img) != image.Pt(200, 150) {
		t.Fatalf("decoded %v, want 200x150", dims(img))
	}
	w, h := size(plain)
	var partial int
	for y := range h {
		for x := range w {
			want, got := at(plain, x, y), at(img, x, y)
			if want.A == 0 {
				// libwebp may change the colour under fully transparent pixels.
				want.R, want.G, want.B, got.R, got.G, got.B = 0, 0, 0, 0, 0, 0
			}
			if want != got {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
			if want.A != 0 && want.A != 255 {
				partial++
			}
		}
	}
	if partial == 0 {
		t.Fatal("the source has no partly transparent pixels to check")
	}
}

func TestEncodeWebPLossyKeepsAlpha(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "webp-lossy-alpha-yellow-rose.webp")
	plain := decodeWebP(t, src)
	r := runOne(t, p, src, job.Variant{}) // "" keeps the source's format: webp
	if r.Format != job.FormatWebP {
		t.Fatalf("format %s, want webp", r.Format)
	}
	img := decodeWebP(t, r.Data)
	var alphaDiff, n float64
	w, h := size(plain)
	for y := range h {
		for x := range w {
			a, b := int(at(plain, x, y).A), int(at(img, x, y).A)
			alphaDiff += float64(max(a-b, b-a))
			n++
		}
	}
	if d := alphaDiff / n; d > 1 {
		t.Errorf("alpha differs by %.2f on average", d)
	}
	// Colours under full transparency are the encoder's to choose: compare on white.
	if d := meanAbsDiff(t, flatten(img, white), flatten(plain, white)); d > 3 {
		t.Errorf("colour differs by %.2f", d)
	}
}

// TestEncodeGIFTransparency: transparent source pixels stay transparent in GIF
// output (image/gif's default quantizer would make them black).
func TestEncodeGIFTransparency(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "png-rgba-transparency-200x150.png")
	plain, _ := decodeResult(t, src)
	r := runOne(t, p, src, job.Variant{Format: job.FormatGIF})
	img, _ := decodeResult(t, r.Data)
	w, h := size(plain)
	var clear, visible int
	for y := range h {
		for x := range w {
			switch at(plain, x, y).A {
			case 0:
				clear++
				if c := at(img, x, y); c.A != 0 {
					t.Fatalf("transparent pixel (%d,%d) = %v in the GIF", x, y, c)
				}
			case 255:
				visible++
				if c := at(img, x, y); c.A != 255 {
					t.Fatalf("opaque pixel (%d,%d) = %v in the GIF", x, y, c)
				}
			}
		}
	}
	if clear == 0 || visible == 0 {
		t.Fatalf("%d transparent and %d opaque pixels; want both", clear, visible)
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

// BenchmarkEncodeWebP measures lossy WebP encoding of a 1800×1200 (2.2 MP) photo at
// each libwebp method, the trade-off Config.WebPMethod picks; run it with
// -tags nodynamic to measure the WASM build the binary ships.
func BenchmarkEncodeWebP(b *testing.B) {
	img, _, err := image.Decode(bytes.NewReader(readImage(b, "exif-orientation-1.jpg")))
	if err != nil {
		b.Fatal(err)
	}
	for _, method := range []int{0, 1, 2, 3, 4, 6} {
		b.Run(fmt.Sprintf("method=%d", method), func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.WebPMethod = method
			p, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			var n int
			for b.Loop() {
				data, err := p.encode(img, job.FormatWebP, job.Variant{})
				if err != nil {
					b.Fatal(err)
				}
				n = len(data)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

// TestEncodeStripsMetadata: outputs carry no EXIF (the orientation is applied to
// the pixels, so a kept tag would turn the image twice), nor ICC or XMP.
func TestEncodeStripsMetadata(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "exif-orientation-6.jpg")
	if !bytes.Contains(src, []byte("Exif\x00\x00")) {
		t.Fatal("the source has no EXIF to strip")
	}
	var spec job.Spec
	for _, f := range []job.Format{job.FormatJPEG, job.FormatPNG, job.FormatWebP, job.FormatTIFF} {
		spec.Variants = append(spec.Variants, job.Variant{
			Name: string(f), Ops: []job.Op{{Name: "resize", Width: 120, Filter: "nearest"}}, Format: f,
		})
	}
	res, err := p.Run(t.Context(), bytesReader(src), spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		f := r.Format
		for _, marker := range []string{"Exif", "EXIF", "ICC_PROFILE", "iCCP", "eXIf", "http://ns.adobe.com/xap"} {
			if bytes.Contains(r.Data, []byte(marker)) {
				t.Errorf("%s output contains %q", f, marker)
			}
		}
		if f == job.FormatJPEG {
			// No APP1 segment at all: markers follow SOI back to back up to SOS.
			for i := 2; i+4 <= len(r.Data) && r.Data[i] == 0xff && r.Data[i+1] != 0xda; {
				if r.Data[i+1] == 0xe1 {
					t.Errorf("JPEG output has an APP1 segment at %d", i)
				}
				i += 2 + int(binary.BigEndian.Uint16(r.Data[i+2:]))
			}
		}
	}
}
