package processing

import (
	"bytes"
	"fmt"
	"image"
	"math"
	"testing"

	"github.com/disintegration/imaging"

	"github.com/pixmill/pixmill/internal/job"
)

// minPSNR is the quality bar of every speed lever: the output may differ from a
// single-pass Lanczos resample of a full-size decode by an RMS error of at most
// 255/10^(40/20) ≈ 2.55 levels of 255, which is not visible in a photo. PSNR and
// not SSIM: it is a few lines, has no window or constants to choose, and is the
// stricter of the two on the smooth, low-error differences these levers make
// (docs/levers.md).
const minPSNR = 40.0

// psnr is the peak signal-to-noise ratio of b against a over the RGB channels, in
// dB (+Inf when they are equal). Both must be the same size.
func psnr(t testing.TB, a, b image.Image) float64 {
	t.Helper()
	if dims(a) != dims(b) {
		t.Fatalf("sizes differ: %v vs %v", dims(a), dims(b))
	}
	w, h := size(a)
	var sum float64
	for y := range h {
		for x := range w {
			p, q := at(a, x, y), at(b, x, y)
			for _, d := range [3]float64{float64(p.R) - float64(q.R), float64(p.G) - float64(q.G), float64(p.B) - float64(q.B)} {
				sum += d * d
			}
		}
	}
	mse := sum / float64(w*h*3)
	if mse == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/mse)
}

// qualityCase is a real photo and the sizing op of a quality check.
type qualityCase struct {
	file string
	op   job.Op
}

// qualityCases are resizes and fills of real photos (1800×1200, stored sideways
// for orientation 6; 999×999 progressive) at every JPEG scale the planner picks
// and with shrink factors from 4.5 to 18.
func qualityCases() []qualityCase {
	ops := []job.Op{
		{Name: "resize", Width: 800},
		{Name: "resize", Width: 400},
		{Name: "resize", Width: 200},
		{Name: "resize", Height: 100},
		{Name: "fill", Width: 200, Height: 200, Anchor: "center"},
		{Name: "thumbnail", Width: 100, Height: 100},
		{Name: "fit", Width: 240, Height: 240},
	}
	var cs []qualityCase
	for _, f := range []string{"exif-orientation-1.jpg", "exif-orientation-6.jpg", "jpeg-progressive-999x999.jpg"} {
		for _, op := range ops {
			cs = append(cs, qualityCase{f, op})
		}
	}
	return cs
}

func (c qualityCase) String() string {
	return fmt.Sprintf("%s/%s-%dx%d", c.file, c.op.Name, c.op.Width, c.op.Height)
}

// reference is the single-pass Lanczos result: Go's full-size decode, EXIF
// orientation applied, and the op with neither lever.
func reference(t *testing.T, src []byte, op job.Op) image.Image {
	t.Helper()
	full, err := decode(bytes.NewReader(src), job.FormatJPEG)
	if err != nil {
		t.Fatal(err)
	}
	want, err := steps[op.Name](full, op, 1e8)
	if err != nil {
		t.Fatal(err)
	}
	return want
}

// leverOutput runs op through Run with the levers edit switches on, to PNG
// (lossless, so the pixels compared are the pipeline's).
func leverOutput(t *testing.T, src []byte, op job.Op, edit func(*Config)) image.Image {
	t.Helper()
	p := newTestProcessor(t, func(c *Config) {
		c.ShrinkOnLoad, c.TwoStageResize = false, false
		edit(c)
	})
	r := runOne(t, p, src, job.Variant{Ops: []job.Op{op}, Format: job.FormatPNG})
	img, _ := decodeResult(t, r.Data)
	return img
}

// TestQualityTwoStage: the two-stage resize stays within minPSNR of single-pass
// Lanczos, and does run (the output is not identical) where it applies.
func TestQualityTwoStage(t *testing.T) {
	for _, c := range qualityCases() {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			src := readImage(t, c.file)
			want := reference(t, src, c.op)
			got := leverOutput(t, src, c.op, func(c *Config) { c.TwoStageResize = true })
			q := psnr(t, want, got)
			t.Logf("two-stage: PSNR %.1f dB", q)
			if q < minPSNR {
				t.Errorf("two-stage: PSNR %.1f dB, want >= %.0f", q, minPSNR)
			}
		})
	}
}

// TestQualityShrinkOnLoad: libjpeg-turbo's decode (builds with it only), at 1/2,
// 1/4 or 1/8 or at full size where the planner keeps it, alone and with the
// two-stage resize, stays within minPSNR of a single-pass Lanczos resample of Go's
// full-size decode.
func TestQualityShrinkOnLoad(t *testing.T) {
	if !scaledJPEG {
		t.Skip("built without the scaled JPEG decoder (tags cgo and jpegturbo)")
	}
	for _, c := range qualityCases() {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			src := readImage(t, c.file)
			cfg, err := (&Processor{cfg: DefaultConfig()}).Probe(bytes.NewReader(src))
			if err != nil {
				t.Fatal(err)
			}
			w, h := orientedSize(cfg.Width, cfg.Height, jpegOrientation(src))
			m := jpegScale(job.Spec{Variants: []job.Variant{{Ops: []job.Op{c.op}}}}, w, h)
			want := reference(t, src, c.op)
			for _, lv := range []struct {
				name string
				edit func(*Config)
			}{
				{"shrink-on-load", func(c *Config) { c.ShrinkOnLoad = true }},
				{"both levers", func(c *Config) { c.ShrinkOnLoad, c.TwoStageResize = true, true }},
			} {
				got := leverOutput(t, src, c.op, lv.edit)
				q := psnr(t, want, got)
				t.Logf("%s (%d/8): PSNR %.1f dB, SSIM %.4f", lv.name, m, q, ssim(t, want, got))
				if q < minPSNR {
					t.Errorf("%s (%d/8): PSNR %.1f dB, want >= %.0f", lv.name, m, q, minPSNR)
				}
			}
		})
	}
}

// TestQualityBoxShrink: the two-stage resize on NRGBA input, whose first stage is
// boxShrink's integer k×k average, stays within minPSNR of single-pass Lanczos.
func TestQualityBoxShrink(t *testing.T) {
	for _, c := range qualityCases() {
		t.Run(c.String(), func(t *testing.T) {
			t.Parallel()
			src := readImage(t, c.file)
			full, err := decode(bytes.NewReader(src), job.FormatJPEG)
			if err != nil {
				t.Fatal(err)
			}
			small, op := preshrink(imaging.Clone(full), c.op)
			got, err := steps[op.Name](small, op, 1e8)
			if err != nil {
				t.Fatal(err)
			}
			q := psnr(t, reference(t, src, c.op), got)
			t.Logf("box %v → %v: PSNR %.1f dB", dims(full), dims(small), q)
			if q < minPSNR {
				t.Errorf("box shrink: PSNR %.1f dB, want >= %.0f", q, minPSNR)
			}
		})
	}
}
