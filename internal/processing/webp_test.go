package processing

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/gen2brain/webp"

	"github.com/pixmill/pixmill/internal/job"
)

// animatedWebPOf wraps a still lossy WebP (RIFF, WEBP, one VP8 chunk) into a
// two-frame animated WebP: VP8X with the animation flag, ANIM, and two ANMF
// frames holding that VP8 chunk.
func animatedWebPOf(t testing.TB, still []byte, w, h int) []byte {
	t.Helper()
	if string(still[12:16]) != "VP8 " {
		t.Fatalf("not a simple lossy WebP: %q", still[12:16])
	}
	vp8 := still[12:]
	chunk := func(id string, data []byte) []byte {
		b := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
		b = append(b, data...)
		if len(data)%2 == 1 {
			b = append(b, 0)
		}
		return b
	}
	u24 := func(v int) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16)} }
	vp8x := append([]byte{1 << 1, 0, 0, 0}, append(u24(w-1), u24(h-1)...)...)
	anim := []byte{0, 0, 0, 0, 0, 0} // background colour, loop forever
	frame := append(append(append(append(u24(0), u24(0)...), u24(w-1)...), u24(h-1)...), u24(100)...)
	frame = append(append(frame, 0), vp8...)
	body := append([]byte("WEBP"), chunk("VP8X", vp8x)...)
	body = append(body, chunk("ANIM", anim)...)
	body = append(body, chunk("ANMF", frame)...)
	body = append(body, chunk("ANMF", frame)...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func TestAnimatedWebPRefused(t *testing.T) {
	data := animatedWebPOf(t, readImage(t, "webp-lossy-yellow-rose.webp"), 400, 301)
	// The file is a real animation: libwebp reads two frames from it.
	if all, err := webp.DecodeAll(bytes.NewReader(data)); err != nil || len(all.Image) != 2 {
		t.Fatalf("test file: libwebp DecodeAll = %v frames, %v; want 2 frames", all, err)
	}
	p := newTestProcessor(t, nil)
	_, err := p.Probe(bytes.NewReader(data))
	wantCode(t, err, job.CodeUnsupportedMedia)
	if msg := job.ErrorMessage(err); msg != "animated WebP is not supported" {
		t.Errorf("Probe message = %q", msg)
	}
	_, err = p.Run(context.Background(), bytes.NewReader(data), job.Spec{Variants: []job.Variant{{Name: "default", Format: job.FormatPNG}}})
	wantCode(t, err, job.CodeUnsupportedImage)
	if msg := job.ErrorMessage(err); msg != "animated WebP is not supported" {
		t.Errorf("Run message = %q", msg)
	}
}
