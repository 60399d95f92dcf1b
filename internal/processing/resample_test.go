package processing

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// minResamplePSNR is the bar for resampleFast against imaging.Resize: stricter than
// minPSNR, since it replaces the reference filter itself.
const minResamplePSNR = 45.0

// photoNRGBA decodes a photo of testdata/images (Go's decoder, EXIF ignored) into
// an opaque NRGBA, as the libjpeg-turbo path hands it over.
func photoNRGBA(t *testing.T, name string) *image.NRGBA {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(readImage(t, name)))
	if err != nil {
		t.Fatal(err)
	}
	return imaging.Clone(img)
}

// TestResampleQuality: the fixed-point resampler against imaging.Resize on real
// photos, down and up, one side or both, with Lanczos; every other filter on a
// 600×400 cut of each photo (small, so that the test stays quick under -race).
func TestResampleQuality(t *testing.T) {
	sizes := [][2]int{{800, 0}, {200, 0}, {0, 100}, {123, 77}, {1500, 0}, {2345, 1001}, {-1, 500}, {640, -1}}
	for _, name := range []string{"exif-orientation-1.jpg", "jpeg-progressive-999x999.jpg"} {
		photo := photoNRGBA(t, name)
		worst := 100.0
		check := func(src *image.NRGBA, w, h int, fname string) {
			f := filters[fname]
			got := resampleFast(src, w, h, f)
			if got == nil {
				t.Fatalf("%s %dx%d %s: fast path not taken", name, w, h, fname)
			}
			want := imaging.Resize(src, w, h, f)
			if dims(got) != dims(want) {
				t.Fatalf("%s %dx%d %s: size %v, want %v", name, w, h, fname, dims(got), dims(want))
			}
			p := psnr(t, want, got)
			worst = min(worst, p)
			if p < minResamplePSNR {
				t.Errorf("%s %dx%d %s: PSNR %.1f dB < %.0f", name, w, h, fname, p, minResamplePSNR)
			}
			if d := maxDiff(want, got); d > 2 {
				t.Errorf("%s %dx%d %s: a channel differs by %d", name, w, h, fname, d)
			}
		}
		sw, sh := size(photo)
		for _, s := range sizes {
			w, h := s[0], s[1]
			switch {
			case w < 0:
				w = sw // vertical pass only
			case h < 0:
				h = sh // horizontal pass only
			}
			w, h = resizeSize(sw, sh, w, h)
			check(photo, w, h, "lanczos")
		}
		cut := imaging.Clone(photo.SubImage(image.Rect(100, 100, 700, 500)))
		for fname, f := range filters {
			if f.Support <= 0 {
				if resampleFast(cut, 300, 200, f) != nil {
					t.Errorf("%s: nearest took the fast path", fname)
				}
				continue
			}
			check(cut, 250, 167, fname)
			check(cut, 900, 600, fname)
		}
		t.Logf("%s: lowest PSNR %.1f dB", name, worst)
	}
}

func maxDiff(a, b *image.NRGBA) int {
	d := 0
	for i := range a.Pix {
		d = max(d, int(a.Pix[i])-int(b.Pix[i]), int(b.Pix[i])-int(a.Pix[i]))
	}
	return d
}

// TestResampleEdges: tiny and degenerate sizes, sub-images, and the cases that
// must go to imaging.
func TestResampleEdges(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := func(w, h int) *image.NRGBA {
		m := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := range m.Pix {
			m.Pix[i] = uint8(rnd.IntN(256))
			if i%4 == 3 {
				m.Pix[i] = 255
			}
		}
		return m
	}
	for _, c := range [][4]int{
		{1, 1, 5, 3}, {1, 1, 1, 7}, {3, 1, 1, 1}, {2, 2, 1000, 1}, {7, 5, 3, 2},
		{5, 7, 2, 3}, {64, 48, 64, 47}, {64, 48, 63, 48}, {1000, 3, 17, 3}, {300, 200, 1, 1},
	} {
		src := noise(c[0], c[1])
		for _, fname := range []string{"lanczos", "box", "linear", "mitchell"} {
			f := filters[fname]
			got := resampleFast(src, c[2], c[3], f)
			want := imaging.Resize(src, c[2], c[3], f)
			if got == nil || dims(got) != dims(want) {
				t.Fatalf("%v %s: got %v, want %v", c, fname, got, dims(want))
			}
			if d := maxDiff(want, got); d > 2 {
				t.Errorf("%v %s: a channel differs by %d", c, fname, d)
			}
			for i := 3; i < len(got.Pix); i += 4 {
				if got.Pix[i] != 255 {
					t.Fatalf("%v %s: alpha %d", c, fname, got.Pix[i])
				}
			}
		}
	}

	// A sub-image (offset, stride of the parent) gives what a copy of it gives.
	big := noise(300, 200)
	sub := big.SubImage(image.Rect(37, 21, 250, 180)).(*image.NRGBA)
	for _, wh := range [][2]int{{91, 55}, {213, 55}, {91, 159}} { // both passes, vertical only, horizontal only
		a, b := resampleFast(sub, wh[0], wh[1], imaging.Lanczos), resampleFast(imaging.Clone(sub), wh[0], wh[1], imaging.Lanczos)
		if !bytes.Equal(a.Pix, b.Pix) {
			t.Errorf("%v: sub-image differs from its copy", wh)
		}
	}

	// opaque sees every alpha byte, for odd and even widths.
	for w := 1; w < 6; w++ {
		m := solid(w, 3, color.NRGBA{1, 2, 3, 255})
		if !opaque(m) {
			t.Fatalf("%d wide: opaque image reported transparent", w)
		}
		for i := 3; i < len(m.Pix); i += 4 {
			m.Pix[i] = 254
			if opaque(m) {
				t.Fatalf("%d wide: alpha at %d missed", w, i)
			}
			m.Pix[i] = 255
		}
	}

	// Not taken: same size, nearest, transparency; resample then is imaging.Resize.
	src := noise(40, 30)
	if resampleFast(src, 40, 30, imaging.Lanczos) != nil {
		t.Error("same size took the fast path")
	}
	// A translucent pixel anywhere, found by the horizontal pass (20 wide) and by
	// the scan before a vertical-only resize (40 wide).
	for _, at := range []image.Point{{0, 0}, {39, 0}, {17, 14}, {0, 29}, {39, 29}} {
		m := noise(40, 30)
		m.SetNRGBA(at.X, at.Y, color.NRGBA{1, 2, 3, 254})
		for _, w := range []int{20, 40} {
			if resampleFast(m, w, 15, imaging.Lanczos) != nil {
				t.Errorf("alpha 254 at %v: the %d-wide resize took the fast path", at, w)
			}
		}
	}
	src.SetNRGBA(39, 29, color.NRGBA{1, 2, 3, 254})
	if got, want := resample(src, 20, 15, imaging.Lanczos), imaging.Resize(src, 20, 15, imaging.Lanczos); !bytes.Equal(got.Pix, want.Pix) {
		t.Error("fallback differs from imaging.Resize")
	}
}

// TestFillFastSameAsImaging: fill on an NRGBA photo (the fast path) cuts the same
// rectangle as imaging.Fill, for every anchor and both crop directions.
func TestFillFastSameAsImaging(t *testing.T) {
	src := photoNRGBA(t, "jpeg-progressive-999x999.jpg")
	for aname, a := range anchors {
		for _, box := range [][2]int{{300, 100}, {90, 400}} { // crops height, width
			op := fmt.Sprintf("%s %v", aname, box)
			got, err := fill(src, job.Op{Name: "fill", Width: box[0], Height: box[1], Anchor: aname}, 1e8)
			if err != nil {
				t.Fatal(err)
			}
			want := imaging.Fill(src, box[0], box[1], a, imaging.Lanczos)
			if p := psnr(t, want, got); p < minResamplePSNR {
				t.Errorf("%s: PSNR %.1f dB", op, p)
			}
		}
	}
}

// BenchmarkResample: the resize step alone, imaging against the fixed-point path,
// on W3's and W1's sizes (an opaque NRGBA of noise; the cost does not depend on
// the content).
func BenchmarkResample(b *testing.B) {
	rnd := rand.New(rand.NewPCG(3, 4))
	for _, c := range [][4]int{{1920, 1080, 800, 450}, {1200, 675, 800, 450}, {2016, 1512, 1067, 800}, {4032, 3024, 1067, 800}} {
		src := image.NewNRGBA(image.Rect(0, 0, c[0], c[1]))
		for i := range src.Pix {
			src.Pix[i] = uint8(rnd.IntN(256)) | uint8(255*(i%4/3))
		}
		name := fmt.Sprintf("%dx%d-%dx%d", c[0], c[1], c[2], c[3])
		b.Run(name+"/imaging", func(b *testing.B) {
			for b.Loop() {
				imaging.Resize(src, c[2], c[3], imaging.Lanczos)
			}
		})
		b.Run(name+"/fixed", func(b *testing.B) {
			for b.Loop() {
				resampleFast(src, c[2], c[3], imaging.Lanczos)
			}
		})
	}
}

// TestCachedWeights: the cache hands back exactly newFixWeights' result, keeps
// filters with the same support apart, and stays bounded.
func TestCachedWeights(t *testing.T) {
	for _, f := range []imaging.ResampleFilter{imaging.Lanczos, imaging.CatmullRom, imaging.MitchellNetravali, imaging.Box} {
		for range 2 { // the second time from the cache
			if got, want := cachedWeights(200, 540, f), newFixWeights(200, 540, f); !reflect.DeepEqual(got, want) {
				t.Fatalf("support %v: cached weights differ from newFixWeights", f.Support)
			}
		}
	}
	for i := range 3 * weightsCacheSize {
		cachedWeights(10+i, 1000, imaging.Lanczos)
	}
	weightsCache.Lock()
	n := len(weightsCache.m)
	weightsCache.Unlock()
	if n > weightsCacheSize {
		t.Errorf("%d weight sets cached, bound %d", n, weightsCacheSize)
	}
}

// TestResampleRGBA: an opaque *image.RGBA (Go's PNG, BMP and TIFF decoders' RGB
// output) takes the fast path with exactly the bytes of the same NRGBA pixels, a
// sub-image included; one with any alpha below 255 is imaging's.
func TestResampleRGBA(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	nrgba := image.NewNRGBA(image.Rect(0, 0, 301, 203))
	for i := range nrgba.Pix {
		nrgba.Pix[i] = uint8(rnd.IntN(256))
		if i%4 == 3 {
			nrgba.Pix[i] = 255
		}
	}
	rgba := image.NewRGBA(nrgba.Rect)
	copy(rgba.Pix, nrgba.Pix)
	if got, want := resample(rgba, 120, 80, imaging.Lanczos), resampleFast(nrgba, 120, 80, imaging.Lanczos); !bytes.Equal(got.Pix, want.Pix) {
		t.Error("opaque RGBA: not the NRGBA fast path's bytes")
	}
	sub := image.Rect(10, 7, 250, 190)
	got := resample(rgba.SubImage(sub), 100, 60, imaging.CatmullRom)
	want := resampleFast(nrgba.SubImage(sub).(*image.NRGBA), 100, 60, imaging.CatmullRom)
	if !bytes.Equal(got.Pix, want.Pix) {
		t.Error("opaque RGBA sub-image: not the NRGBA fast path's bytes")
	}
	rgba.Pix[3] = 128 // one translucent pixel (premultiplied: colour ≤ alpha)
	rgba.Pix[0], rgba.Pix[1], rgba.Pix[2] = 10, 20, 30
	if got, want := resample(rgba, 120, 80, imaging.Lanczos), imaging.Resize(rgba, 120, 80, imaging.Lanczos); !bytes.Equal(got.Pix, want.Pix) {
		t.Error("translucent RGBA: not imaging's result")
	}
}

// TestResampleRGBA64: an opaque 16-bit image takes the fast path on its high
// bytes — what imaging reads of it — and stays within 2 of imaging's result; a
// translucent one is imaging's.
func TestResampleRGBA64(t *testing.T) {
	rnd := rand.New(rand.NewPCG(9, 10))
	src := image.NewRGBA64(image.Rect(0, 0, 257, 190))
	for i := range src.Pix {
		src.Pix[i] = uint8(rnd.IntN(256))
		if i%8 >= 6 {
			src.Pix[i] = 0xff
		}
	}
	got, want := resample(src, 100, 70, imaging.Lanczos), imaging.Resize(src, 100, 70, imaging.Lanczos)
	if d := maxDiff(got, want); d > 2 {
		t.Errorf("opaque RGBA64: differs from imaging by %d", d)
	}
	if opaqueHighBytes(src) == nil {
		t.Fatal("opaque image reported translucent")
	}
	src.Pix[6] = 0x80 // one translucent pixel
	if opaqueHighBytes(src) != nil {
		t.Fatal("translucent image reported opaque")
	}
	if got, want := resample(src, 100, 70, imaging.Lanczos), imaging.Resize(src, 100, 70, imaging.Lanczos); !bytes.Equal(got.Pix, want.Pix) {
		t.Error("translucent RGBA64: not imaging's result")
	}
}
