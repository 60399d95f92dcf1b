package main

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The photos of the shared image set the reference workloads use.
const (
	photo12MP = "photo-12mp-4032x3024-iphone-displayp3-orient6.jpg"
	photo2MP  = "photo-2mp-1920x1080-road.jpg"
)

// workload is a reference workload: one source file, one request, a default job
// count sized so that `make bench` stays well under ten minutes on two cores.
type workload struct {
	name  string
	title string
	file  string  // in the images folder
	png   bool    // the source is file decoded and re-encoded as PNG (W5)
	req   request // the form fields of every upload
	jobs  int     // default number of measured jobs
}

// workloads are the reference workloads of the performance issue.
var workloads = []workload{
	{"W1", "12 MP JPEG (orientation 6) → resize w=800, JPEG q80", photo12MP, false,
		request{Ops: "resize:w=800", Format: "jpeg", Quality: 80}, 40},
	{"W2", "12 MP JPEG (orientation 6) → fill 200×200 centre, JPEG q80", photo12MP, false,
		request{Ops: "fill:w=200,h=200,anchor=center", Format: "jpeg", Quality: 80}, 50},
	{"W3", "2 MP JPEG → resize w=800, JPEG q80", photo2MP, false,
		request{Ops: "resize:w=800", Format: "jpeg", Quality: 80}, 200},
	{"W4", "2 MP JPEG → fill 200×200 centre, JPEG q80", photo2MP, false,
		request{Ops: "fill:w=200,h=200,anchor=center", Format: "jpeg", Quality: 80}, 250},
	{"W5", "2 MP PNG (made from W3's JPEG) → resize w=800, PNG", photo2MP, true,
		request{Ops: "resize:w=800"}, 80},
}

// findWorkloads returns the named workloads, in the order given.
func findWorkloads(names []string) ([]workload, error) {
	var out []workload
	for _, n := range names {
		i := slices.IndexFunc(workloads, func(w workload) bool { return strings.EqualFold(w.name, n) })
		if i < 0 {
			return nil, fmt.Errorf("unknown workload %q (want W1 to W5)", n)
		}
		out = append(out, workloads[i])
	}
	return out, nil
}

// makePNG decodes the JPEG src with the standard library and writes it to dir as a
// PNG with the default compression. Both steps are deterministic, so every run
// gets the same file.
func makePNG(src, dir string) (string, error) {
	raw, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("make PNG source: %w", err)
	}
	img, err := jpeg.Decode(bytes.NewReader(raw))
	if err != nil {
		return "", fmt.Errorf("make PNG source: decode %s: %w", src, err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", fmt.Errorf("make PNG source: encode: %w", err)
	}
	name := strings.TrimSuffix(filepath.Base(src), filepath.Ext(src)) + ".png"
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("make PNG source: %w", err)
	}
	return out, nil
}

// imageExts are the file name endings --images picks up in a custom run.
var imageExts = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp"}

// listImages returns the image files directly in dir, sorted by name.
func listImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.Type().IsRegular() && slices.Contains(imageExts, strings.ToLower(filepath.Ext(e.Name()))) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image files in %s", dir)
	}
	return out, nil
}
