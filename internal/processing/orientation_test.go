package processing

import (
	"bytes"
	"fmt"
	"image"
	"math/rand/v2"
	"testing"

	"github.com/disintegration/imaging"
)

func TestJPEGOrientation(t *testing.T) {
	for n := 0; n <= 8; n++ {
		name := fmt.Sprintf("exif-orientation-%d.jpg", n)
		if n == 0 {
			name = "exif-orientation-0-no-tag.jpg"
		}
		t.Run(name, func(t *testing.T) {
			data := readImage(t, name)
			if got := jpegOrientation(data); got != n {
				t.Errorf("orientation = %d, want %d", got, n)
			}
			// Every truncation is read without a panic and never invents a tag.
			for i := range len(data) {
				if i > 4096 {
					break
				}
				if got := jpegOrientation(data[:i]); got != 0 && got != n {
					t.Fatalf("first %d bytes: orientation %d", i, got)
				}
			}
		})
	}
	exif := func(order string, ifd uint32, count uint16, entries ...byte) []byte {
		tiff := []byte(order)
		if order == "MM" {
			tiff = append(tiff, 0, 42, byte(ifd>>24), byte(ifd>>16), byte(ifd>>8), byte(ifd))
			tiff = append(tiff, make([]byte, max(0, int(ifd)-8))...)
			tiff = append(tiff, byte(count>>8), byte(count))
		} else {
			tiff = append(tiff, 42, 0, byte(ifd), byte(ifd>>8), byte(ifd>>16), byte(ifd>>24))
			tiff = append(tiff, make([]byte, max(0, int(ifd)-8))...)
			tiff = append(tiff, byte(count), byte(count>>8))
		}
		seg := append([]byte("Exif\x00\x00"), append(tiff, entries...)...)
		n := len(seg) + 2
		return append([]byte{0xff, 0xd8, 0xff, 0xe1, byte(n >> 8), byte(n)}, seg...)
	}
	be := []byte{0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0}
	le := []byte{0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0}
	other := []byte{0x01, 0x0f, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0}
	tests := []struct {
		name string
		data []byte
		want int
	}{
		{"big endian", exif("MM", 8, 1, be...), 6},
		{"little endian", exif("II", 8, 1, le...), 8},
		{"after another tag", exif("MM", 8, 2, append(other, be...)...), 6},
		{"IFD further on", exif("MM", 20, 1, be...), 6},
		{"value 9", exif("MM", 8, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 9, 0, 0), 0},
		{"value 0", exif("MM", 8, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0), 0},
		{"count past the data", exif("MM", 8, 60000, other...), 0},
		{"IFD offset past the data", exif("MM", 4000, 1, be...)[:40], 0},
		{"IFD offset under 8", exif("MM", 4, 1, be...), 0},
		{"bad byte order", exif("XX", 8, 1, be...), 0},
		{"entry cut short", exif("MM", 8, 1, be[:9]...), 0},
		{"not exif", []byte("\xff\xd8\xff\xe1\x00\x10http://ns.adobe"), 0},
		{"not a jpeg", []byte("GIF89a"), 0},
		{"empty", nil, 0},
		{"zero-length segment", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xe1}, 0},
		{"not a marker", []byte{0xff, 0xd8, 0x00, 0xe1, 0, 8}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jpegOrientation(tt.data); got != tt.want {
				t.Errorf("orientation = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOrientedSize(t *testing.T) {
	for o := 0; o <= 8; o++ {
		w, h := orientedSize(30, 20, o)
		if sideways := o >= 5; (w == 20) != sideways || w*h != 600 {
			t.Errorf("orientation %d: %dx%d", o, w, h)
		}
	}
}

// FuzzJPEGOrientation: the EXIF reader never panics and only reports 0–8.
func FuzzJPEGOrientation(f *testing.F) {
	for _, n := range []string{"1", "3", "6", "8", "0-no-tag"} {
		b := readImage(f, "exif-orientation-"+n+".jpg")
		f.Add(b[:min(len(b), 2048)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := jpegOrientation(data); o < 0 || o > 8 {
			t.Fatalf("orientation %d", o)
		}
	})
}

// TestOrientNRGBA: the tiled turn gives imaging's bytes for all eight
// orientations, odd sizes, thin strips, tile edges and sub-images.
func TestOrientNRGBA(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	for _, wh := range [][2]int{{1, 1}, {1, 9}, {9, 1}, {31, 33}, {64, 32}, {65, 97}, {200, 3}} {
		full := image.NewNRGBA(image.Rect(0, 0, wh[0]+5, wh[1]+4))
		for i := range full.Pix {
			full.Pix[i] = uint8(rnd.IntN(256))
		}
		for _, src := range []*image.NRGBA{
			image.NewNRGBA(image.Rect(0, 0, wh[0], wh[1])),
			full.SubImage(image.Rect(3, 2, wh[0]+3, wh[1]+2)).(*image.NRGBA),
		} {
			if src.Rect.Min.X == 0 {
				copy(src.Pix, full.Pix)
			}
			for o, want := range map[int]func(image.Image) *image.NRGBA{
				2: imaging.FlipH, 3: imaging.Rotate180, 4: imaging.FlipV, 5: imaging.Transpose,
				6: imaging.Rotate270, 7: imaging.Transverse, 8: imaging.Rotate90,
			} {
				got, exp := orientNRGBA(src, o), want(src)
				if got.Rect != exp.Rect || !bytes.Equal(got.Pix, exp.Pix) {
					t.Errorf("%v at %v, orientation %d: differs from imaging", wh, src.Rect.Min, o)
				}
			}
		}
	}
}
