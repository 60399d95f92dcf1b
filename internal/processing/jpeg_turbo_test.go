//go:build cgo && jpegturbo

package processing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

func TestDecodeJPEGScaledSizes(t *testing.T) {
	for _, tt := range []struct {
		file string
		w, h int
	}{
		{"exif-orientation-1.jpg", 1800, 1200},
		{"jpeg-progressive-999x999.jpg", 999, 999},
		{"jpeg-grayscale-128x128.jpg", 128, 128},
	} {
		for m := 1; m <= 8; m++ {
			t.Run(fmt.Sprintf("%s/%d-8", tt.file, m), func(t *testing.T) {
				img, err := decodeJPEGScaled(readImage(t, tt.file), m, tt.w, tt.h, 50_000_000)
				if err != nil {
					t.Fatal(err)
				}
				if want := image.Pt((tt.w*m+7)/8, (tt.h*m+7)/8); dims(img) != want {
					t.Fatalf("size %v, want %v", dims(img), want)
				}
				if !img.Opaque() || flat(img) {
					t.Errorf("not an opaque picture")
				}
			})
		}
	}
}

// TestDecodeJPEGScaledMatchesGo: at 1/1 libjpeg-turbo and Go decode the same
// pixels, up to their different chroma upsampling.
func TestDecodeJPEGScaledMatchesGo(t *testing.T) {
	src := readImage(t, "exif-orientation-1.jpg")
	got, err := decodeJPEGScaled(src, 8, 1800, 1200, 50_000_000)
	if err != nil {
		t.Fatal(err)
	}
	want, err := decode(bytes.NewReader(src), job.FormatJPEG)
	if err != nil {
		t.Fatal(err)
	}
	if q := psnr(t, want, got); q < 35 {
		t.Errorf("PSNR %.1f dB against Go's decode, want >= 35", q)
	}
}

// TestDecodeJPEGScaledRefuses: every file libjpeg does not decode cleanly is an
// error, never a crash or a message on stderr, so that Run can hand it to Go's
// decoder.
func TestDecodeJPEGScaledRefuses(t *testing.T) {
	photo := readImage(t, "exif-orientation-1.jpg")
	prog := readImage(t, "jpeg-progressive-999x999.jpg")
	garbled := bytes.Clone(photo)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := len(garbled) / 4; i < len(garbled); i += 97 {
		garbled[i] = byte(rng.IntN(256))
	}
	tests := []struct {
		name string
		data []byte
		w, h int
		code job.Code // "" for a hand-back to Go's decoder that is not a verdict
	}{
		{"CMYK (YCCK)", readImage(t, "jpeg-cmyk-adobe-ycck-100x100.jpg"), 100, 100, ""},
		{"truncated in the scan", photo[:len(photo)/2], 1800, 1200, ""},
		{"truncated progressive", prog[:len(prog)/3], 999, 999, ""},
		{"garbled entropy data", garbled, 1800, 1200, ""},
		{"header only", photo[:600], 1800, 1200, ""},
		{"not a JPEG", []byte("this is not a jpeg at all, just text"), 10, 10, job.CodeCorruptImage},
		{"empty", nil, 10, 10, ""},
		{"size disagrees with the header", photo, 1801, 1200, ""},
		{"over the pixel limit", photo, 1800, 1200, job.CodeImageTooLarge},
	}
	for _, tt := range tests {
		// Every scale the planner uses, and 8/8: each has IDCTs of its own.
		for _, m := range append(slices.Clone(jpegScales), 8) {
			t.Run(fmt.Sprintf("%s/%d-8", tt.name, m), func(t *testing.T) {
				limit := 50_000_000
				w, h := tt.w, tt.h
				if tt.code == job.CodeImageTooLarge {
					limit = 1_000_000
					w, h = 100, 100 // the caller's view may be within the limit
				}
				img, err := decodeJPEGScaled(tt.data, m, w, h, limit)
				if err == nil {
					t.Fatalf("decoded a %v image, want an error", dims(img))
				}
				var hand errScaledJPEG
				switch {
				case tt.code != "":
					wantCode(t, err, tt.code)
				case !errors.As(err, &hand):
					// A hard libjpeg error is a corrupt image too; Run asks Go anyway.
					wantCode(t, err, job.CodeCorruptImage)
				}
			})
		}
	}
}

// TestRunScaledFallsBack: through Run, what the scaled decoder refuses gets the
// pure-Go build's verdict (corrupt) or result (CMYK decodes).
func TestRunScaledFallsBack(t *testing.T) {
	p := newTestProcessor(t, nil)
	small := job.Variant{Ops: []job.Op{{Name: "resize", Width: 20}}, Format: job.FormatPNG}
	photo := readImage(t, "exif-orientation-1.jpg")
	_, err := p.Run(t.Context(), bytes.NewReader(photo[:len(photo)/2]), job.Spec{Variants: []job.Variant{{Name: "v", Ops: small.Ops, Format: small.Format}}})
	wantCode(t, err, job.CodeCorruptImage)
	r := runOne(t, p, readImage(t, "jpeg-cmyk-adobe-ycck-100x100.jpg"), small)
	if r.Width != 20 || r.Height != 20 {
		t.Errorf("CMYK: %dx%d, want 20x20", r.Width, r.Height)
	}
}

// TestEXIFOrientationScaled: every orientation, decoded at 1/4 by libjpeg-turbo
// and turned upright by jpegOrientation and orient, looks like orientation 1
// decoded at full size by Go and resized the same, and so does Run's output.
func TestEXIFOrientationScaled(t *testing.T) {
	p := newTestProcessor(t, nil)
	v := job.Variant{Ops: []job.Op{{Name: "resize", Width: 180}}, Format: job.FormatPNG}
	if m := jpegScale(job.Spec{Variants: []job.Variant{v}}, 1800, 1200); m != 2 {
		t.Fatalf("planner picks %d/8, want 2/8", m)
	}
	ref := reference(t, readImage(t, "exif-orientation-1.jpg"), v.Ops[0])
	for o := 0; o <= 8; o++ {
		name := fmt.Sprintf("exif-orientation-%d.jpg", o)
		if o == 0 {
			name = "exif-orientation-0-no-tag.jpg"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := readImage(t, name)
			if got := jpegOrientation(src); got != o {
				t.Fatalf("orientation %d, want %d", got, o)
			}
			r := runOne(t, p, src, v)
			got, _ := decodeResult(t, r.Data)
			if dims(got) != image.Pt(180, 120) {
				t.Fatalf("size %v, want 180x120 (upright)", dims(got))
			}
			// The files are the same photo re-encoded per orientation: the
			// differences of the encodes themselves stay well above this bar,
			// a wrong turn or mirror far below it.
			if q := psnr(t, ref, got); q < 25 {
				t.Errorf("PSNR %.1f dB against orientation 1, want >= 25 (wrong turn?)", q)
			}
		})
	}
}

// TestEncodeJPEGTurbo: libjpeg-turbo's JPEG of a photo decodes (by Go) to the same
// size and pixels as close to the source as image/jpeg's at the same quality, for
// NRGBA, RGBA, a sub-image with an offset and grayscale; other image kinds are
// left to image/jpeg.
func TestEncodeJPEGTurbo(t *testing.T) {
	photo, err := decode(bytes.NewReader(readImage(t, "exif-orientation-1.jpg")), job.FormatJPEG)
	if err != nil {
		t.Fatal(err)
	}
	nrgba := imaging.Resize(photo, 300, 200, imaging.Lanczos)
	rgba := image.NewRGBA(nrgba.Rect)
	copy(rgba.Pix, nrgba.Pix)
	gray := image.NewGray(nrgba.Rect)
	draw.Draw(gray, gray.Rect, nrgba, image.Point{}, draw.Src)
	for _, tt := range []struct {
		name string
		img  image.Image
	}{
		{"nrgba", nrgba},
		{"rgba", rgba},
		{"sub-image", nrgba.SubImage(image.Rect(50, 20, 250, 180))},
		{"gray", gray},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data, ok, err := encodeJPEGTurbo(tt.img, 85)
			if !ok || err != nil {
				t.Fatalf("ok %v, err %v", ok, err)
			}
			got, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if dims(got) != dims(tt.img) {
				t.Fatalf("size %v, want %v", dims(got), dims(tt.img))
			}
			if _, isGray := got.(*image.Gray); isGray != (tt.name == "gray") {
				t.Errorf("decoded as %T", got)
			}
			var ref bytes.Buffer
			if err := jpeg.Encode(&ref, tt.img, &jpeg.Options{Quality: 85}); err != nil {
				t.Fatal(err)
			}
			refLen := ref.Len()
			want, err := jpeg.Decode(&ref)
			if err != nil {
				t.Fatal(err)
			}
			q, qGo := psnr(t, tt.img, got), psnr(t, tt.img, want)
			t.Logf("%d bytes (image/jpeg %d), PSNR %.1f dB (image/jpeg %.1f)", len(data), refLen, q, qGo)
			if q < qGo-0.5 || len(data) > refLen*11/10 {
				t.Errorf("PSNR %.1f dB in %d bytes, image/jpeg's %.1f dB in %d", q, len(data), qGo, refLen)
			}
		})
	}
	if _, ok, _ := encodeJPEGTurbo(image.NewCMYK(image.Rect(0, 0, 8, 8)), 80); ok {
		t.Error("CMYK: want image/jpeg to handle it")
	}
	if _, ok, _ := encodeJPEGTurbo(image.NewNRGBA(image.Rect(0, 0, 0, 8)), 80); ok {
		t.Error("empty image: want image/jpeg to report it")
	}
}

// TestResamplePassesC: the C passes give exactly the Go passes' bytes, for
// shrinks and enlargements, odd sizes and sub-images.
func TestResamplePassesC(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	for _, c := range [][4]int{{640, 480, 200, 150}, {333, 517, 101, 77}, {97, 89, 300, 250}, {1000, 7, 31, 3}, {5, 900, 2, 400}} {
		full := image.NewNRGBA(image.Rect(0, 0, c[0]+3, c[1]+2))
		for i := range full.Pix {
			full.Pix[i] = uint8(rnd.IntN(256))
			if i%4 == 3 {
				full.Pix[i] = 255
			}
		}
		src := full.SubImage(image.Rect(3, 2, c[0]+3, c[1]+2)).(*image.NRGBA)
		for _, f := range []imaging.ResampleFilter{imaging.Lanczos, imaging.CatmullRom, imaging.Box} {
			t.Run(fmt.Sprintf("%dx%d-%dx%d", c[0], c[1], c[2], c[3]), func(t *testing.T) {
				hGo, hC := image.NewNRGBA(image.Rect(0, 0, c[2], c[1])), image.NewNRGBA(image.Rect(0, 0, c[2], c[1]))
				fw := newFixWeights(c[2], c[0], f)
				hPassGo(hGo, src, 0, c[1], fw)
				hPassC(hC, src, 0, c[1]/2, fw)
				hPassC(hC, src, c[1]/2, c[1], fw)
				if !bytes.Equal(hGo.Pix, hC.Pix) {
					t.Fatal("horizontal pass: C differs from Go")
				}
				if !fw.fitsInt16 {
					t.Fatal("weights do not fit in int16: the two-taps path is not tested")
				}
				wide := fw // the one-tap path, which weights beyond int16 would take
				wide.fitsInt16 = false
				hWide := image.NewNRGBA(hC.Rect)
				hPassC(hWide, src, 0, c[1], wide)
				if !bytes.Equal(hGo.Pix, hWide.Pix) {
					t.Fatal("horizontal pass, one tap at a time: C differs from Go")
				}
				// Both stop at a translucent source row.
				at := src.PixOffset(c[0]-1, c[1]*2/3+2) + 3
				src.Pix[at] = 254
				goOK, cOK := hPassGo(hGo, src, 0, c[1], fw), hPassC(hC, src, 0, c[1]/2, fw) && hPassC(hC, src, c[1]/2, c[1], fw)
				src.Pix[at] = 255
				if goOK || cOK {
					t.Fatalf("translucent pixel: Go pass says opaque %v, C pass %v", goOK, cOK)
				}
				vGo, vC := image.NewNRGBA(image.Rect(0, 0, c[2], c[3])), image.NewNRGBA(image.Rect(0, 0, c[2], c[3]))
				fv := newFixWeights(c[3], c[1], f)
				vPassGo(vGo, hGo, 0, c[3], fv)
				vPassC(vC, hGo, 0, c[3]/3, fv)
				vPassC(vC, hGo, c[3]/3, c[3], fv)
				if !bytes.Equal(vGo.Pix, vC.Pix) {
					t.Fatal("vertical pass: C differs from Go")
				}
			})
		}
	}
}

// TestResamplePassesCWideWeights: a kernel whose weights overflow an int16 (lobes
// that nearly cancel) is marked so, and the C pass still gives the Go pass's bytes.
func TestResamplePassesCWideWeights(t *testing.T) {
	spiky := imaging.ResampleFilter{Support: 2, Kernel: func(x float64) float64 {
		if math.Abs(x) < 0.5 {
			return 1
		}
		return -0.3
	}}
	fw := newFixWeights(40, 100, spiky)
	if fw.fitsInt16 {
		t.Fatal("weights of a nearly cancelling kernel reported to fit in int16")
	}
	rnd := rand.New(rand.NewPCG(9, 10))
	src := image.NewNRGBA(image.Rect(0, 0, 100, 9))
	for i := range src.Pix {
		src.Pix[i] = uint8(rnd.IntN(256)) | uint8(255*(i%4/3))
	}
	hGo, hC := image.NewNRGBA(image.Rect(0, 0, 40, 9)), image.NewNRGBA(image.Rect(0, 0, 40, 9))
	hPassGo(hGo, src, 0, 9, fw)
	hPassC(hC, src, 0, 9, fw)
	if !bytes.Equal(hGo.Pix, hC.Pix) {
		t.Fatal("C differs from Go")
	}
}
