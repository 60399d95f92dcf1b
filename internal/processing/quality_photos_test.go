//go:build cgo && jpegturbo

package processing

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

// TestQualityPhotosAllScales checks the shrink-on-load planner's rule itself on
// the large reference photos (not in the repository: it runs when
// $PIXMILL_BENCH_IMAGES names the shared image folder, and takes about a minute):
// for sizing ops from 800 px wide down to 100 px high, every scale of jpegScales
// that sizing.fitsAt allows — not only the one jpegScale picks — stays within
// minPSNR of single-pass Lanczos on Go's full-size decode. The log is the table
// behind jpegMargin in docs/levers.md.
func TestQualityPhotosAllScales(t *testing.T) {
	dir := os.Getenv("PIXMILL_BENCH_IMAGES")
	if dir == "" {
		t.Skip("set PIXMILL_BENCH_IMAGES to the shared image folder")
	}
	files := []string{
		"photo-12mp-4032x3024-iphone-displayp3-orient6.jpg", "photo-24mp-4000x6000-milkyway-srgb.jpg",
		"photo-2mp-1920x1080-road.jpg", "photo-2mp-2000x1072-adobergb-icc.jpg", "jpeg-prophoto-icc-1680x1050.jpg",
		"exif-orientation-1.jpg", "exif-orientation-6.jpg", "jpeg-progressive-999x999.jpg",
	}
	var ops []job.Op
	for _, w := range []int{800, 700, 600, 500, 450, 400, 350, 300, 250, 200, 150} {
		ops = append(ops, job.Op{Name: "resize", Width: w})
	}
	ops = append(ops, job.Op{Name: "resize", Height: 100},
		job.Op{Name: "fill", Width: 200, Height: 200, Anchor: "center"},
		job.Op{Name: "fill", Width: 200, Height: 200, Anchor: "top-left"},
		job.Op{Name: "fit", Width: 240, Height: 240})
	p := &Processor{cfg: DefaultConfig()}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			info, err := p.Probe(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			o := jpegOrientation(data)
			w, h := orientedSize(info.Width, info.Height, o)
			for _, op := range ops {
				spec := job.Spec{Variants: []job.Variant{{Ops: []job.Op{op}}}}
				s, ok := planSizing(spec.Variants[0].Ops, w, h)
				if !ok {
					continue
				}
				want := reference(t, data, op)
				pinned := pinSizes(spec, w, h).Variants[0].Ops[0]
				for _, m := range slices.Backward(jpegScales) {
					if !s.fitsAt(m) {
						continue
					}
					img, err := decodeJPEGScaled(data, m, info.Width, info.Height, p.cfg.MaxPixels)
					if err != nil {
						t.Fatal(err)
					}
					got, err := steps[pinned.Name](orient(img, o), pinned, p.cfg.MaxPixels)
					if err != nil {
						t.Fatal(err)
					}
					left := min(float64(s.w*m/8)/float64(s.tw), float64(s.h*m/8)/float64(s.th))
					q := psnr(t, want, got)
					t.Logf("%-9s %4dx%-4d %d/8, %.2f× left: PSNR %4.1f dB, SSIM %.4f", op.Name+"/"+op.Anchor, op.Width, op.Height, m, left, q, ssim(t, want, got))
					if q < minPSNR {
						t.Errorf("%s %dx%d at %d/8: PSNR %.1f dB, want >= %.0f", op.Name, op.Width, op.Height, m, q, minPSNR)
					}
				}
			}
		})
	}
}
