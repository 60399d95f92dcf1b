package processing

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pixmill/pixmill/internal/job"
)

// sources lists one real file per input kind pixmill must read (testdata/images).
var sources = []struct {
	file          string
	format        job.Format
	width, height int
}{
	{"exif-orientation-1.jpg", job.FormatJPEG, 1800, 1200}, // baseline 4:2:0
	{"jpeg-progressive-999x999.jpg", job.FormatJPEG, 999, 999},
	{"jpeg-grayscale-128x128.jpg", job.FormatJPEG, 128, 128},
	{"jpeg-cmyk-adobe-ycck-100x100.jpg", job.FormatJPEG, 100, 100},
	{"png-16bit-rgb-iccp-149x227.png", job.FormatPNG, 149, 227},
	{"png-palette-interlaced-trns-162x150.png", job.FormatPNG, 162, 150},
	{"png-rgba-transparency-200x150.png", job.FormatPNG, 200, 150},
	{"gif-animated-42frames-local-palettes-245x245.gif", job.FormatGIF, 245, 245},
	{"tiff-rgb-150x103.tiff", job.FormatTIFF, 150, 103},
	{"tiff-lzw-rgb.tiff", job.FormatTIFF, 150, 100},
	{"tiff-rgb-16bit-150x103.tiff", job.FormatTIFF, 150, 103},
	{"bmp-24bit-150x103.bmp", job.FormatBMP, 150, 103},
	{"bmp-8bit-palette.bmp", job.FormatBMP, 150, 103},
	{"webp-lossy-yellow-rose.webp", job.FormatWebP, 400, 301},
	{"webp-lossless-yellow-rose.webp", job.FormatWebP, 400, 301},
	{"webp-lossy-alpha-yellow-rose.webp", job.FormatWebP, 400, 301},
}

func TestProbe(t *testing.T) {
	p := newTestProcessor(t, nil)
	for _, s := range sources {
		t.Run(s.file, func(t *testing.T) {
			info, err := p.Probe(bytes.NewReader(readImage(t, s.file)))
			if err != nil {
				t.Fatal(err)
			}
			frames := 1
			if s.format == job.FormatGIF {
				frames = 42 // the only GIF in the table
			}
			want := Info{Format: s.format, Width: s.width, Height: s.height, Frames: frames}
			if info != want {
				t.Errorf("Probe = %+v, want %+v", info, want)
			}
		})
	}
}

func TestProbeRejects(t *testing.T) {
	p := newTestProcessor(t, nil)
	tests := []struct {
		name string
		data []byte
		code job.Code
	}{
		{"empty", nil, job.CodeUnsupportedMedia},
		{"text", []byte("hello, this is not an image\n"), job.CodeUnsupportedMedia},
		{"html", []byte("<!doctype html><html><body>hi</body></html>"), job.CodeUnsupportedMedia},
		{"png signature only", []byte("\x89PNG\r\n\x1a\n"), job.CodeUnsupportedMedia},
		{"arithmetic-coded jpeg", readImage(t, "jpeg-arithmetic-coded-10x10.jpg"), job.CodeUnsupportedMedia},
		{"65536x65536 png", pngHeader(65536, 65536), job.CodeImageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Probe(bytes.NewReader(tt.data))
			wantCode(t, err, tt.code)
		})
	}
}

func TestProbeMaxPixels(t *testing.T) {
	p := newTestProcessor(t, func(c *Config) { c.MaxPixels = 128 * 128 })
	if _, err := p.Probe(bytes.NewReader(readImage(t, "jpeg-grayscale-128x128.jpg"))); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err := p.Probe(bytes.NewReader(readImage(t, "png-rgba-transparency-200x150.png")))
	wantCode(t, err, job.CodeImageTooLarge)
}

func TestProbeReadsHeaderOnly(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, "exif-orientation-1.jpg") // 1800×1200: 8.6 MB as NRGBA
	if n := allocated(func() {
		if _, err := p.Probe(bytes.NewReader(src)); err != nil {
			t.Error(err)
		}
	}); n > 1<<20 {
		t.Errorf("Probe allocated %d bytes, want no pixel buffers", n)
	}
}

// TestDecompressionBomb: the header claims 65536×65536 (16 GiB as NRGBA); Run must
// refuse it from the header without allocating.
func TestDecompressionBomb(t *testing.T) {
	p := newTestProcessor(t, nil)
	bomb := pngHeader(65536, 65536)
	var err error
	n := allocated(func() {
		_, err = p.Run(context.Background(), bytes.NewReader(bomb), job.Spec{Variants: []job.Variant{{Name: "default"}}})
	})
	wantCode(t, err, job.CodeImageTooLarge)
	if n > 1<<20 {
		t.Errorf("Run allocated %d bytes refusing the bomb", n)
	}
}

func TestRunRejects(t *testing.T) {
	p := newTestProcessor(t, nil)
	jpg := readImage(t, "jpeg-progressive-999x999.jpg")
	gray := readImage(t, "jpeg-grayscale-128x128.jpg")
	tests := []struct {
		name string
		data []byte
		code job.Code
	}{
		{"text", []byte(strings.Repeat("not an image ", 10)), job.CodeUnsupportedImage},
		{"empty", nil, job.CodeUnsupportedImage},
		{"arithmetic-coded jpeg", readImage(t, "jpeg-arithmetic-coded-10x10.jpg"), job.CodeUnsupportedImage},
		{"truncated progressive jpeg", jpg[:len(jpg)/2], job.CodeCorruptImage},
		{"truncated baseline jpeg", gray[:len(gray)/2], job.CodeCorruptImage},
		{"65536x65536 png", pngHeader(65536, 65536), job.CodeImageTooLarge},
		{"png without pixel data", pngHeader(10, 10), job.CodeCorruptImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Run(context.Background(), bytes.NewReader(tt.data), job.Spec{Variants: []job.Variant{{Name: "default", Format: job.FormatPNG}}})
			wantCode(t, err, tt.code)
		})
	}
}

func TestTruncatedJPEGProbesButFailsToDecode(t *testing.T) {
	p := newTestProcessor(t, nil)
	jpg := readImage(t, "jpeg-progressive-999x999.jpg")
	truncated := jpg[:len(jpg)/2]
	if _, err := p.Probe(bytes.NewReader(truncated)); err != nil {
		t.Fatalf("Probe of a truncated JPEG (intact header): %v", err)
	}
	_, err := p.Run(context.Background(), bytes.NewReader(truncated), job.Spec{Variants: []job.Variant{{Name: "default"}}})
	wantCode(t, err, job.CodeCorruptImage)
	if msg := job.ErrorMessage(err); !strings.Contains(msg, "corrupt or truncated") {
		t.Errorf("message = %q", msg)
	}
}

// pngHeader builds a PNG signature and IHDR chunk (8-bit RGBA) with a correct CRC
// and no image data.
func pngHeader(w, h uint32) []byte {
	var ihdr bytes.Buffer
	ihdr.WriteString("IHDR")
	_ = binary.Write(&ihdr, binary.BigEndian, w)
	_ = binary.Write(&ihdr, binary.BigEndian, h)
	ihdr.Write([]byte{8, 6, 0, 0, 0}) // depth, colour type RGBA, compression, filter, interlace
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	_ = binary.Write(&b, binary.BigEndian, uint32(ihdr.Len()-4))
	b.Write(ihdr.Bytes())
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(ihdr.Bytes()))
	return b.Bytes()
}

// allocated returns how many bytes f allocated on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReadErrorIsNotCorruptImage(t *testing.T) {
	p := newTestProcessor(t, nil)
	boom := errors.New("connection reset")
	src := readImage(t, "jpeg-progressive-999x999.jpg")
	failing := func(n int) io.Reader { return io.MultiReader(bytes.NewReader(src[:n]), iotest.ErrReader(boom)) }

	if _, err := p.Probe(failing(10)); !errors.Is(err, boom) {
		t.Errorf("Probe = %v, want the read error", err)
	}
	for _, n := range []int{10, len(src) / 2} {
		_, err := p.Run(context.Background(), failing(n), job.Spec{Variants: []job.Variant{{Name: "default"}}})
		if !errors.Is(err, boom) {
			t.Errorf("Run failing after %d bytes = %v, want the read error", n, err)
		}
		if code := job.ErrorCode(err); code == job.CodeCorruptImage || code == job.CodeUnsupportedImage {
			t.Errorf("Run failing after %d bytes: code %s, want no image-fault code", n, code)
		}
	}
}
