package processing

import (
	"bytes"
	"context"
	"image"
	"image/gif"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

// fuzzSeeds are the small files of testdata/images (the large photos would slow
// every fuzz iteration down without reaching new code).
var fuzzSeeds = []string{
	"jpeg-grayscale-128x128.jpg",
	"jpeg-cmyk-adobe-ycck-100x100.jpg",
	"jpeg-arithmetic-coded-10x10.jpg",
	"png-palette-interlaced-trns-162x150.png",
	"png-rgba-transparency-200x150.png",
	"tiff-rgb-150x103.tiff",
	"tiff-lzw-rgb.tiff",
	"bmp-8bit-palette.bmp",
	"webp-lossy-yellow-rose.webp",
	"webp-lossy-alpha-yellow-rose.webp",
}

// FuzzProbe is the decode guard's fuzz test: Probe must never panic and may only
// refuse with unsupported_media_type or image_too_large; when it accepts a source,
// Run (a resize to PNG and to GIF, so animations are decoded whole, and a Lanczos
// one to JPEG, which takes the shrink-on-load, resampler and encoder fast paths in
// builds with libjpeg-turbo) must not panic,
// may only fail with an image-fault code, and must stay within an allocation
// budget derived from the limits. Run the seed corpus with go test; fuzz with
//
//	go test -tags nodynamic -run '^$' -fuzz '^FuzzProbe$' -fuzztime 30s ./internal/processing/
func FuzzProbe(f *testing.F) {
	for _, name := range fuzzSeeds {
		b := readImage(f, name)
		f.Add(b)
		f.Add(b[:min(len(b), 64)])
		f.Add(b[:len(b)/2])
	}
	f.Add(pngHeader(65536, 65536))
	f.Add(tinyAnimatedGIF(f))
	rose := readImage(f, "webp-lossy-yellow-rose.webp")
	f.Add(animatedWebPOf(f, rose, 400, 301))

	cfg := DefaultConfig()
	cfg.MaxPixels = 1 << 20
	cfg.MaxOutputPixels = 1 << 20
	cfg.MaxFrames = 64
	cfg.MaxAnimationPixels = 4 << 20
	p, err := New(cfg)
	if err != nil {
		f.Fatal(err)
	}
	spec := job.Spec{Variants: []job.Variant{
		{Name: "png", Ops: []job.Op{{Name: "resize", Width: 16, Filter: "box"}}, Format: job.FormatPNG},
		{Name: "gif", Ops: []job.Op{{Name: "resize", Width: 16, Filter: "box"}}, Format: job.FormatGIF},
		{Name: "jpeg", Ops: []job.Op{{Name: "resize", Width: 16}}, Format: job.FormatJPEG},
	}}

	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := p.Probe(bytes.NewReader(data))
		if err != nil {
			if c := job.ErrorCode(err); c != job.CodeUnsupportedMedia && c != job.CodeImageTooLarge {
				t.Fatalf("Probe error code %s: %v", c, err)
			}
			return
		}
		w, h := info.Width, info.Height
		if w <= 0 || h <= 0 || w*h > cfg.MaxPixels || info.Frames < 1 || info.Frames > cfg.MaxFrames ||
			info.Frames*w*h > cfg.MaxAnimationPixels {
			t.Fatalf("Probe accepted %+v, over the limits", info)
		}
		var res []Result
		n := allocated(func() { res, err = p.Run(context.Background(), bytes.NewReader(data), spec) })
		// Decoding, compositing and one resize of every frame, with the decoders'
		// own copies: a few NRGBA images of the source's size per frame at most.
		budget := uint64(32<<20) + 48*uint64(info.Frames)*uint64(w*h)
		if n > budget {
			t.Errorf("Run allocated %d bytes for %+v; budget %d", n, info, budget)
		}
		if err != nil {
			switch c := job.ErrorCode(err); c {
			case job.CodeCorruptImage, job.CodeUnsupportedImage, job.CodeImageTooLarge:
			default:
				t.Fatalf("Run error code %s: %v", c, err)
			}
			return
		}
		for _, r := range res {
			if r.Width != 16 || r.Height < 1 || len(r.Data) == 0 {
				t.Fatalf("result %s: %dx%d, %d bytes", r.Variant, r.Width, r.Height, len(r.Data))
			}
		}
	})
}

// tinyAnimatedGIF is a 3-frame 8×8 GIF with partial frames and every disposal.
func tinyAnimatedGIF(t testing.TB) []byte {
	g := &gif.GIF{Config: image.Config{Width: 8, Height: 8}, LoopCount: 2}
	for i, r := range []image.Rectangle{image.Rect(0, 0, 8, 8), image.Rect(2, 2, 6, 6), image.Rect(0, 4, 8, 8)} {
		m := image.NewPaletted(r, gifPaletteAlpha[:16])
		for j := range m.Pix {
			m.Pix[j] = uint8((i*5 + j) % 16)
		}
		g.Image = append(g.Image, m)
		g.Delay = append(g.Delay, 10*(i+1))
		g.Disposal = append(g.Disposal, []byte{gif.DisposalNone, gif.DisposalBackground, gif.DisposalPrevious}[i])
	}
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
