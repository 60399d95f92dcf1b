package processing

import (
	"image"
	"math"
	"testing"
)

// ssim is the mean structural similarity (Wang, Bovik, Sheikh and Simoncelli,
// 2004) of b against a, on luma (BT.601 weights), with the paper's 11×11 Gaussian
// window (σ 1.5) and constants K1 0.01, K2 0.03 for 8-bit samples, over every
// position where the window fits inside the image. 1 means identical.
func ssim(t testing.TB, a, b image.Image) float64 {
	t.Helper()
	if dims(a) != dims(b) {
		t.Fatalf("sizes differ: %v vs %v", dims(a), dims(b))
	}
	w, h := size(a)
	const radius = 5
	if w <= 2*radius || h <= 2*radius {
		t.Fatalf("ssim needs images over %d pixels on each side, got %dx%d", 2*radius+1, w, h)
	}
	x, y := luma(a), luma(b)
	xx, yy, xy := make([]float64, len(x)), make([]float64, len(x)), make([]float64, len(x))
	for i := range x {
		xx[i], yy[i], xy[i] = x[i]*x[i], y[i]*y[i], x[i]*y[i]
	}
	k := gaussianKernel(radius, 1.5)
	mx, my := windowMean(x, w, h, k), windowMean(y, w, h, k)
	sxx, syy, sxy := windowMean(xx, w, h, k), windowMean(yy, w, h, k), windowMean(xy, w, h, k)
	const c1, c2 = (0.01 * 255) * (0.01 * 255), (0.03 * 255) * (0.03 * 255)
	var sum float64
	for i := range mx {
		vx, vy, cov := sxx[i]-mx[i]*mx[i], syy[i]-my[i]*my[i], sxy[i]-mx[i]*my[i]
		sum += (2*mx[i]*my[i] + c1) * (2*cov + c2) / ((mx[i]*mx[i] + my[i]*my[i] + c1) * (vx + vy + c2))
	}
	return sum / float64(len(mx))
}

// luma is img's BT.601 luma, row by row.
func luma(img image.Image) []float64 {
	w, h := size(img)
	out := make([]float64, 0, w*h)
	for y := range h {
		for x := range w {
			c := at(img, x, y)
			out = append(out, 0.299*float64(c.R)+0.587*float64(c.G)+0.114*float64(c.B))
		}
	}
	return out
}

// gaussianKernel is a normalised 1-D Gaussian of 2×radius+1 taps.
func gaussianKernel(radius int, sigma float64) []float64 {
	k := make([]float64, 2*radius+1)
	var sum float64
	for i := range k {
		d := float64(i - radius)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	return k
}

// windowMean is v (w×h) filtered by the separable window k, at every position
// where the window fits: (w−len(k)+1)×(h−len(k)+1) values.
func windowMean(v []float64, w, h int, k []float64) []float64 {
	n := len(k)
	ow, oh := w-n+1, h-n+1
	rows := make([]float64, ow*h)
	for y := range h {
		for x := range ow {
			var s float64
			for i, c := range k {
				s += c * v[y*w+x+i]
			}
			rows[y*ow+x] = s
		}
	}
	out := make([]float64, ow*oh)
	for y := range oh {
		for x := range ow {
			var s float64
			for i, c := range k {
				s += c * rows[(y+i)*ow+x]
			}
			out[y*ow+x] = s
		}
	}
	return out
}

func TestSSIM(t *testing.T) {
	a := halves(40, 30)
	if q := ssim(t, a, a); q != 1 {
		t.Errorf("ssim of an image with itself = %v, want 1", q)
	}
	noisy := halves(40, 30)
	for i := 0; i < len(noisy.Pix); i += 4 * 7 {
		noisy.Pix[i] ^= 0x40
	}
	q := ssim(t, a, noisy)
	if q >= 0.99 || q <= 0 {
		t.Errorf("ssim with every 7th pixel's red changed = %v, want in (0, 0.99)", q)
	}
	if r := ssim(t, noisy, a); math.Abs(r-q) > 1e-12 {
		t.Errorf("ssim not symmetric: %v vs %v", q, r)
	}
}
