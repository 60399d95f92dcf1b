package processing

import (
	"encoding/binary"
	"image"
	"math"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/disintegration/imaging"
)

// resample is imaging.Resize to exactly w×h (both > 0), with a fixed-point fast
// path (resampleFast) for opaque *image.NRGBA, *image.RGBA and *image.RGBA64
// sources — what the libjpeg-turbo decode, and Go's decoders of RGB files,
// produce — and imaging for everything else.
func resample(img image.Image, w, h int, filter imaging.ResampleFilter) *image.NRGBA {
	var m *image.NRGBA
	switch src := img.(type) {
	case *image.NRGBA:
		m = src
	case *image.RGBA:
		// What Go's PNG, BMP and TIFF decoders give for RGB files. With every alpha
		// 255 (resampleFast checks), premultiplied and straight colour are the same
		// bytes: the pixels can be read as NRGBA without a copy.
		m = &image.NRGBA{Pix: src.Pix, Stride: src.Stride, Rect: src.Rect}
	case *image.RGBA64:
		// 16-bit PNGs and TIFFs. imaging reads only each sample's high byte, so an
		// NRGBA copy of those is the image its resampler would see. (Not for a
		// filter resampleFast leaves to imaging anyway.)
		if filter.Support > 0 {
			m = opaqueHighBytes(src)
		}
	}
	if m != nil {
		if out := resampleFast(m, w, h, filter); out != nil {
			return out
		}
	}
	return imaging.Resize(img, w, h, filter)
}

// opaqueHighBytes is src's samples' high bytes as an NRGBA image, or nil when any
// pixel is not opaque (premultiplied colour would then need dividing).
func opaqueHighBytes(src *image.RGBA64) *image.NRGBA {
	w, h := size(src)
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		row := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+y):][:w*8]
		out := dst.Pix[y*dst.Stride:][:w*4]
		for x := range w {
			p := row[x*8 : x*8+8 : x*8+8]
			if p[6] != 0xff || p[7] != 0xff {
				return nil
			}
			o := out[x*4 : x*4+4 : x*4+4]
			o[0], o[1], o[2], o[3] = p[0], p[2], p[4], 0xff
		}
	}
	return dst
}

// fixBits is the fraction of the fixed-point weights: a tap is int32 weight ×
// uint8 sample, and a sum of them stays far inside int32 (|Σw| < 2·2¹⁴, ×255).
const (
	fixBits = 14
	fixOne  = 1 << fixBits
)

// fixWeights are the taps of a 1-D resample: output i reads source samples
// start[i] … start[i]+n-1 with weights w[i*n:(i+1)*n] (padded with zeros, so
// every output has n taps), each row of weights summing to exactly fixOne.
type fixWeights struct {
	start     []int32
	n         int
	w         []int32
	fitsInt16 bool // every weight fits in an int16 (the C horizontal pass then takes two taps at a time)
}

// newFixWeights computes imaging's weights (precomputeWeights in its resize.go:
// the same centres, support and normalisation, in float64), rounds them to
// fixBits with the rounding remainder on the largest tap, and drops the taps that
// round to zero at either end (Lanczos's window is narrower than imaging's
// ⌈support⌉ span), so n is as small as the widest remaining span.
func newFixWeights(dst, src int, filter imaging.ResampleFilter) fixWeights {
	du := float64(src) / float64(dst)
	scale := max(du, 1)
	ru := math.Ceil(scale * filter.Support)
	first := make([]int, dst)
	taps := make([][]int32, dst)
	n := 1
	var fl []float64
	for v := range dst {
		fu := (float64(v)+0.5)*du - 0.5
		begin := max(int(math.Ceil(fu-ru)), 0)
		end := min(int(math.Floor(fu+ru)), src-1)
		fl = fl[:0]
		var sum float64
		for u := begin; u <= end; u++ {
			k := filter.Kernel((float64(u) - fu) / scale)
			fl = append(fl, k)
			sum += k
		}
		first[v] = begin
		if sum == 0 {
			continue // imaging leaves such a pixel transparent black; so do no taps
		}
		ws := make([]int32, len(fl))
		var total int32
		big := 0
		for i, k := range fl {
			ws[i] = int32(math.Round(k / sum * fixOne))
			total += ws[i]
			if ws[i] > ws[big] {
				big = i
			}
		}
		ws[big] += fixOne - total
		for len(ws) > 1 && ws[0] == 0 {
			ws = ws[1:]
			first[v]++
		}
		for len(ws) > 1 && ws[len(ws)-1] == 0 {
			ws = ws[:len(ws)-1]
		}
		taps[v] = ws
		n = max(n, len(ws))
	}
	fw := fixWeights{start: make([]int32, dst), n: n, w: make([]int32, dst*n)}
	for v, ws := range taps {
		start := min(first[v], src-n)
		fw.start[v] = int32(start)
		copy(fw.w[v*n+first[v]-start:], ws)
	}
	fw.fitsInt16 = true
	for _, w := range fw.w {
		if w < math.MinInt16 || w > math.MaxInt16 {
			fw.fitsInt16 = false
		}
	}
	return fw
}

// weightsKey identifies a set of weights: a filter by its support, its kernel's
// code and two of its values (a closure's code alone would not tell two captured
// parameters apart; imaging's filters are plain package variables).
type weightsKey struct {
	dst, src int
	support  float64
	kernel   uintptr
	at       [2]float64
}

// weightsCacheSize bounds the cached weight sets: a service resizes to a handful
// of sizes from a handful of source sizes, over and over.
const weightsCacheSize = 64

var weightsCache = struct {
	sync.Mutex
	m map[weightsKey]fixWeights
}{m: make(map[weightsKey]fixWeights)}

// cachedWeights is newFixWeights, computed once per size pair and filter (up to
// weightsCacheSize sets; past that the cache starts over). The weights are only
// read after they are made, so one set serves every goroutine.
func cachedWeights(dst, src int, filter imaging.ResampleFilter) fixWeights {
	k := weightsKey{dst: dst, src: src, support: filter.Support, kernel: reflect.ValueOf(filter.Kernel).Pointer(),
		at: [2]float64{filter.Kernel(0.3), filter.Kernel(1.7)}}
	weightsCache.Lock()
	fw, ok := weightsCache.m[k]
	weightsCache.Unlock()
	if ok {
		return fw
	}
	fw = newFixWeights(dst, src, filter)
	weightsCache.Lock()
	if len(weightsCache.m) >= weightsCacheSize {
		clear(weightsCache.m)
	}
	weightsCache.m[k] = fw
	weightsCache.Unlock()
	return fw
}

// resampleFast resizes an opaque NRGBA image to w×h like imaging.Resize with the
// same filter (horizontal pass, then vertical, each rounded to 8 bits), in
// fixed point. The vertical pass accumulates whole rows (for each output row, k
// input rows × weight into an int32 row), so both passes walk memory in order.
// Output rows are spread over GOMAXPROCS goroutines. It returns nil — the caller
// uses imaging — for a nearest-neighbour filter, an unchanged size, or an image
// with any alpha below 255: for opaque pixels imaging's alpha weighting reduces
// to a plain weighted sum (alpha stays 255 since the weights sum to one), which
// is all this computes; libjpeg-turbo's output is always opaque.
func resampleFast(src *image.NRGBA, w, h int, filter imaging.ResampleFilter) *image.NRGBA {
	sw, sh := size(src)
	if filter.Support <= 0 || w <= 0 || h <= 0 || sw <= 0 || sh <= 0 || (w == sw && h == sh) {
		return nil
	}
	tmp := src
	if w != sw {
		// The horizontal pass reads every source row: it checks the alpha itself.
		tmp = image.NewNRGBA(image.Rect(0, 0, w, sh))
		fw := cachedWeights(w, sw, filter)
		var transparent atomic.Bool
		parallelRows(sh, func(y0, y1 int) {
			if !hPass(tmp, src, y0, y1, fw) {
				transparent.Store(true)
			}
		})
		if transparent.Load() {
			return nil
		}
	} else if !opaque(src) {
		return nil
	}
	if h == sh {
		return tmp
	}
	dst := image.NewNRGBA(image.Rect(0, 0, w, h))
	fw := cachedWeights(h, sh, filter)
	parallelRows(h, func(y0, y1 int) { vPass(dst, tmp, y0, y1, fw) })
	return dst
}

// hPass and vPass are the two passes of resampleFast, each over rows [y0, y1) of
// its output: hPass resamples src's rows to dst's width (same rows), vPass makes
// dst's rows from tmp's (same width). Both have a Go implementation and, in builds
// with cgo and the jpegturbo tag, a vectorised C one (resample_cgo.go) that gives
// the same bytes.
var (
	hPass = hPassGo
	vPass = vPassGo
)

func hPassGo(dst, src *image.NRGBA, y0, y1 int, fw fixWeights) bool {
	w, sw := dst.Rect.Dx(), src.Rect.Dx()
	for y := y0; y < y1; y++ {
		row := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+y):][:sw*4]
		if !opaqueRow(row) {
			return false
		}
		horizontalRow(dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y):][:w*4], row, fw)
	}
	return true
}

func vPassGo(dst, tmp *image.NRGBA, y0, y1 int, fw fixWeights) {
	w := dst.Rect.Dx()
	base := tmp.PixOffset(tmp.Rect.Min.X, tmp.Rect.Min.Y)
	acc := make([]int32, w*4)
	for y := y0; y < y1; y++ {
		clear(acc)
		ws := fw.w[y*fw.n : y*fw.n+fw.n]
		for i := 0; i < len(ws); i += 2 {
			o := base + (int(fw.start[y])+i)*tmp.Stride
			if i+1 == len(ws) {
				addRow(acc, tmp.Pix[o:o+len(acc)], ws[i])
			} else {
				addRows(acc, tmp.Pix[o:o+len(acc)], tmp.Pix[o+tmp.Stride:o+tmp.Stride+len(acc)], ws[i], ws[i+1])
			}
		}
		out := dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y):][:len(acc)]
		for j, v := range acc {
			out[j] = clampFix(v)
		}
	}
}

// horizontalRow resamples one row of opaque pixels (4 bytes each) from src into
// dst; alpha is 255 throughout, so only R, G and B are summed.
func horizontalRow(dst, src []uint8, fw fixWeights) {
	n := fw.n
	for x := range len(dst) / 4 {
		s := src[int(fw.start[x])*4 : int(fw.start[x])*4+n*4]
		ws := fw.w[x*n : x*n+n]
		var r, g, b int32
		for i, wt := range ws {
			p := s[i*4 : i*4+3 : i*4+3]
			r += int32(p[0]) * wt
			g += int32(p[1]) * wt
			b += int32(p[2]) * wt
		}
		d := dst[x*4 : x*4+4 : x*4+4]
		d[0], d[1], d[2], d[3] = clampFix(r), clampFix(g), clampFix(b), 255
	}
}

// addRow adds row × wt to acc.
func addRow(acc []int32, row []uint8, wt int32) {
	row = row[:len(acc)]
	for j, v := range row {
		acc[j] += int32(v) * wt
	}
}

// addRows adds r0 × w0 + r1 × w1 to acc: two taps per pass over the accumulator.
func addRows(acc []int32, r0, r1 []uint8, w0, w1 int32) {
	r0, r1 = r0[:len(acc)], r1[:len(acc)]
	for j := range acc {
		acc[j] += int32(r0[j])*w0 + int32(r1[j])*w1
	}
}

// clampFix rounds a fixed-point sample to 0…255.
func clampFix(v int32) uint8 {
	v = (v + fixOne/2) >> fixBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// alpha2 is the alpha bytes of two NRGBA pixels read as a little-endian uint64.
const alpha2 = 0xff000000_ff000000

// opaque reports whether every pixel of m has alpha 255.
func opaque(m *image.NRGBA) bool {
	w, h := size(m)
	var transparent atomic.Bool
	parallelRows(h, func(y0, y1 int) {
		for y := y0; y < y1 && !transparent.Load(); y++ {
			o := m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y+y)
			if !opaqueRow(m.Pix[o : o+w*4]) {
				transparent.Store(true)
			}
		}
	})
	return !transparent.Load()
}

// opaqueRow reports whether every pixel of a row of NRGBA bytes has alpha 255.
func opaqueRow(row []uint8) bool {
	for ; len(row) >= 8; row = row[8:] { // two pixels at a time
		if binary.LittleEndian.Uint64(row)&alpha2 != alpha2 {
			return false
		}
	}
	return len(row) < 4 || row[3] == 255
}

// parallelRows splits [0, n) into GOMAXPROCS contiguous chunks and calls fn on
// each, concurrently.
func parallelRows(n int, fn func(y0, y1 int)) {
	procs := min(runtime.GOMAXPROCS(0), n)
	if procs <= 1 {
		fn(0, n)
		return
	}
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() { fn(p*n/procs, (p+1)*n/procs) })
	}
	wg.Wait()
}
