package processing

import (
	"image"
	"math/rand/v2"
	"testing"
)

// TestBoxShrink: boxShrink is the alpha-weighted mean of each k×k block (partial
// blocks at the right and bottom edges), rounded, for opaque and translucent
// images of sizes that k divides and does not.
func TestBoxShrink(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct{ w, h, k int }{{8, 8, 2}, {9, 7, 2}, {31, 17, 3}, {50, 43, 7}, {5, 3, 8}, {130, 70, 64}} {
		for _, opaque := range []bool{true, false} {
			src := image.NewNRGBA(image.Rect(0, 0, c.w, c.h))
			for i := range src.Pix {
				src.Pix[i] = uint8(rng.IntN(256))
				if i%4 == 3 && (opaque || rng.IntN(8) == 0) {
					src.Pix[i] = 255 * uint8(rng.IntN(8)/7) // opaque, or now and then fully transparent
					if opaque {
						src.Pix[i] = 255
					}
				}
			}
			got := boxShrink(src, c.k)
			dw, dh := (c.w+c.k-1)/c.k, (c.h+c.k-1)/c.k
			if w, h := size(got); w != dw || h != dh {
				t.Fatalf("%v: size %d×%d, want %d×%d", c, w, h, dw, dh)
			}
			for dy := range dh {
				for dx := range dw {
					var r, g, b, a, n int
					for y := dy * c.k; y < min(dy*c.k+c.k, c.h); y++ {
						for x := dx * c.k; x < min(dx*c.k+c.k, c.w); x++ {
							p := src.NRGBAAt(x, y)
							r += int(p.R) * int(p.A)
							g += int(p.G) * int(p.A)
							b += int(p.B) * int(p.A)
							a += int(p.A)
							n++
						}
					}
					var want [4]int
					if a != 0 {
						want = [4]int{(r + a/2) / a, (g + a/2) / a, (b + a/2) / a, (a + n/2) / n}
					}
					p := got.NRGBAAt(dx, dy)
					if [4]int{int(p.R), int(p.G), int(p.B), int(p.A)} != want {
						t.Fatalf("%v opaque=%v: pixel %d,%d = %v, want %v", c, opaque, dx, dy, p, want)
					}
				}
			}
		}
	}
}
