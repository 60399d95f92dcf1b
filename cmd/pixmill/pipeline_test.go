package main

import (
	"bytes"
	"image"
	"image/gif"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/webp"
)

// TestPipelineEndToEnd runs the pipeline features through the real binary:
// WebP output with a configured watermark, several variants from one upload, a
// preset, and an animated GIF that stays animated.
func TestPipelineEndToEnd(t *testing.T) {
	logo, err := filepath.Abs(filepath.Join("..", "..", "testdata", "images", "png-rgba-transparency-200x150.png"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "pixmill.yaml")
	if err := os.WriteFile(cfg, []byte("processing:\n  watermarks:\n    logo: "+logo+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, t.TempDir(), "PIXMILL_CONFIG="+cfg)

	code, j, raw := n.upload(t, readImage(t, "exif-orientation-3.jpg"), "photo.jpg",
		"ops", "resize:w=400|watermark:image=logo,scale=0.25,opacity=0.8", "format", "webp")
	if code != http.StatusAccepted {
		t.Fatalf("webp upload: %d %s", code, raw)
	}
	j = n.waitDone(t, j.ID)
	if j.Status != "completed" {
		t.Fatalf("webp job: %+v", j)
	}
	_, b, h := n.get(t, j.Outputs[0].URL)
	if h.Get("Content-Type") != "image/webp" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	img, err := webp.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 400 || img.Bounds().Dy() != 267 {
		t.Errorf("webp result: %v %v", img.Bounds(), err)
	}

	code, j, raw = n.upload(t, readImage(t, "jpeg-progressive-999x999.jpg"), "sq.jpg",
		"variants", `{"thumb":{"ops":"fill:w=100,h=100","format":"png"},"small":{"ops":"fit:w=300,h=300"}}`)
	if code != http.StatusAccepted {
		t.Fatalf("variants upload: %d %s", code, raw)
	}
	j = n.waitDone(t, j.ID)
	if len(j.Outputs) != 2 {
		t.Fatalf("variants job: %+v", j)
	}
	for _, v := range []struct {
		name string
		w    int
	}{{"small", 300}, {"thumb", 100}} {
		code, b, _ := n.get(t, "/v1/jobs/"+j.ID+"/result/"+v.name)
		if code != http.StatusOK {
			t.Fatalf("variant %s: %d", v.name, code)
		}
		if img := decodeAny(t, b); img.Bounds().Dx() != v.w {
			t.Errorf("variant %s is %d wide, want %d", v.name, img.Bounds().Dx(), v.w)
		}
	}

	code, j, raw = n.upload(t, readImage(t, "jpeg-progressive-999x999.jpg"), "p.jpg", "preset", "thumbnail")
	if code != http.StatusAccepted {
		t.Fatalf("preset upload: %d %s", code, raw)
	}
	if b := n.download(t, n.waitDone(t, j.ID)).Bounds(); b.Dx() != 200 || b.Dy() != 200 {
		t.Errorf("thumbnail preset: %v", b)
	}

	code, j, raw = n.upload(t, readImage(t, "gif-animated-42frames-local-palettes-245x245.gif"), "a.gif", "ops", "resize:w=100")
	if code != http.StatusAccepted {
		t.Fatalf("gif upload: %d %s", code, raw)
	}
	j = n.waitDone(t, j.ID)
	_, b, _ = n.get(t, j.Outputs[0].URL)
	anim, err := gif.DecodeAll(bytes.NewReader(b))
	if err != nil || len(anim.Image) != 42 || anim.Config.Width != 100 {
		t.Errorf("animated gif result: frames %d width %d err %v", len(anim.Image), anim.Config.Width, err)
	}
	n.stop()
}

func decodeAny(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
