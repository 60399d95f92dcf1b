//go:build cgo && jpegturbo

package processing

/*
#cgo CFLAGS: -O3
#include <stddef.h>
#include <stdint.h>

// The loops of resample.go's hPassGo and vPassGo, written so that the compiler
// vectorises them (GCC's vector extensions for the horizontal taps, plain loops
// over a row for the vertical ones), on x86-64 built twice, for AVX2 and for the
// baseline instruction set, picked at load time (PM_CLONES); on x86-64 the
// horizontal taps go two at a time through SSE2's pmaddwd (pm_taps16). The
// arithmetic is the Go code's, so the bytes are the same.

typedef int32_t pm_v4 __attribute__((vector_size(16)));

#if defined(__x86_64__)
#include <emmintrin.h>
#include <string.h>

// pm_taps16 is the sum over n taps of pixel p[i] × weight w[i] for each of the four
// channels, two taps per step: the two pixels' channels interleaved as int16
// (r0 r1 g0 g1 b0 b1 a0 a1) times the weight pair (w0 w1) repeated, added pairwise
// by pmaddwd into four int32 sums. SSE2, the x86-64 baseline. Exact as long as
// every weight fits in an int16: each product and sum is the int32 one.
static inline __m128i pm_taps16(const uint8_t *p, const int32_t *w, int n) {
	const __m128i zero = _mm_setzero_si128();
	__m128i acc = zero;
	int i = 0;
	for (; i + 1 < n; i += 2) {
		__m128i px = _mm_loadl_epi64((const __m128i *)(p + 4 * i));
		px = _mm_unpacklo_epi8(_mm_unpacklo_epi8(px, _mm_srli_si128(px, 4)), zero);
		__m128i wp = _mm_set1_epi32((int32_t)(((uint32_t)w[i + 1] << 16) | ((uint32_t)w[i] & 0xffff)));
		acc = _mm_add_epi32(acc, _mm_madd_epi16(px, wp));
	}
	if (i < n) { // the last, odd tap: (pixel, 0) × (weight, 0)
		int32_t v;
		memcpy(&v, p + 4 * i, 4);
		__m128i px = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(v), zero), zero);
		acc = _mm_add_epi32(acc, _mm_madd_epi16(px, _mm_set1_epi32((int32_t)((uint32_t)w[i] & 0xffff))));
	}
	return acc;
}
#endif

// AVX2 and baseline builds of a function, picked at load time, on x86-64 (GCC
// and Clang with glibc); elsewhere (arm64: NEON is the baseline) one build.
#if defined(__x86_64__) && defined(__GLIBC__)
#define PM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PM_CLONES
#endif

static inline uint8_t pm_clamp(int32_t v) {
	v = (v + (1 << 13)) >> 14; // fixBits: arithmetic shift, as Go's >> on int32
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

// pm_hpass: rows rows of dw RGBA pixels into dst from src (sw pixels a row);
// output x reads the n source pixels from start[x] with weights wt[x*n:]. Alpha
// is written as 255. It returns 0 as soon as a source row has an alpha below 255
// (the caller then resamples with alpha), else 1: the check reads each row just
// before the taps do, while it is in cache.
PM_CLONES
static int pm_hpass(const uint8_t *restrict src, ptrdiff_t sstride, int sw, uint8_t *restrict dst, ptrdiff_t dstride,
		int rows, int dw, const int32_t *restrict start, const int32_t *restrict wt, int n, int w16) {
	for (int y = 0; y < rows; y++) {
		const uint8_t *s = src + y * sstride;
		uint8_t alpha = 255;
		for (int x = 0; x < sw; x++) alpha &= s[4 * x + 3];
		if (alpha != 255) return 0;
		uint8_t *d = dst + y * dstride;
		for (int x = 0; x < dw; x++) {
			const uint8_t *p = s + (ptrdiff_t)start[x] * 4;
			const int32_t *w = wt + (ptrdiff_t)x * n;
#if defined(__x86_64__)
			if (w16) {
				int32_t sum[4];
				_mm_storeu_si128((__m128i *)sum, pm_taps16(p, w, n));
				d[4 * x] = pm_clamp(sum[0]);
				d[4 * x + 1] = pm_clamp(sum[1]);
				d[4 * x + 2] = pm_clamp(sum[2]);
				d[4 * x + 3] = 255;
				continue;
			}
#endif
			pm_v4 acc = {0, 0, 0, 0};
			for (int i = 0; i < n; i++) {
				pm_v4 px = {p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]};
				acc += px * w[i];
			}
			d[4 * x] = pm_clamp(acc[0]);
			d[4 * x + 1] = pm_clamp(acc[1]);
			d[4 * x + 2] = pm_clamp(acc[2]);
			d[4 * x + 3] = 255;
		}
	}
	return 1;
}

// pm_vpass: rows output rows of len bytes into dst; row y sums the n rows of src
// from start[y] with weights wt[y*n:], in acc (len int32s, scratch).
PM_CLONES
static void pm_vpass(const uint8_t *restrict src, ptrdiff_t sstride, uint8_t *restrict dst, ptrdiff_t dstride,
		int rows, int len, const int32_t *restrict start, const int32_t *restrict wt, int n, int32_t *restrict acc) {
	for (int y = 0; y < rows; y++) {
		const int32_t *w = wt + (ptrdiff_t)y * n;
		const uint8_t *s = src + (ptrdiff_t)start[y] * sstride;
		for (int j = 0; j < len; j++) acc[j] = 0;
		int i = 0;
		for (; i + 1 < n; i += 2) {
			const uint8_t *r0 = s + (ptrdiff_t)i * sstride, *r1 = r0 + sstride;
			const int32_t w0 = w[i], w1 = w[i + 1];
			for (int j = 0; j < len; j++) acc[j] += r0[j] * w0 + r1[j] * w1;
		}
		if (i < n) {
			const uint8_t *r0 = s + (ptrdiff_t)i * sstride;
			const int32_t w0 = w[i];
			for (int j = 0; j < len; j++) acc[j] += r0[j] * w0;
		}
		uint8_t *d = dst + y * dstride;
		for (int j = 0; j < len; j++) d[j] = pm_clamp(acc[j]);
	}
}
*/
import "C"

import (
	"image"
	"unsafe"
)

func init() {
	hPass, vPass = hPassC, vPassC
}

// hPassC is hPassGo in C. Every buffer is Go memory without pointers, used only
// during the call (the cgo pointer rules).
func hPassC(dst, src *image.NRGBA, y0, y1 int, fw fixWeights) bool {
	if y0 >= y1 {
		return true
	}
	w := dst.Rect.Dx()
	d := dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y0):]
	s := src.Pix[src.PixOffset(src.Rect.Min.X, src.Rect.Min.Y+y0):]
	return C.pm_hpass((*C.uint8_t)(unsafe.Pointer(&s[0])), C.ptrdiff_t(src.Stride), C.int(src.Rect.Dx()),
		(*C.uint8_t)(unsafe.Pointer(&d[0])), C.ptrdiff_t(dst.Stride),
		C.int(y1-y0), C.int(w), (*C.int32_t)(unsafe.Pointer(&fw.start[0])), (*C.int32_t)(unsafe.Pointer(&fw.w[0])), C.int(fw.n),
		C.int(b2i(fw.fitsInt16))) != 0
}

// vPassC is vPassGo in C.
func vPassC(dst, tmp *image.NRGBA, y0, y1 int, fw fixWeights) {
	if y0 >= y1 {
		return
	}
	w := dst.Rect.Dx()
	acc := make([]int32, w*4)
	d := dst.Pix[dst.PixOffset(dst.Rect.Min.X, dst.Rect.Min.Y+y0):]
	s := tmp.Pix[tmp.PixOffset(tmp.Rect.Min.X, tmp.Rect.Min.Y):]
	C.pm_vpass((*C.uint8_t)(unsafe.Pointer(&s[0])), C.ptrdiff_t(tmp.Stride),
		(*C.uint8_t)(unsafe.Pointer(&d[0])), C.ptrdiff_t(dst.Stride),
		C.int(y1-y0), C.int(w*4), (*C.int32_t)(unsafe.Pointer(&fw.start[y0])), (*C.int32_t)(unsafe.Pointer(&fw.w[y0*fw.n])),
		C.int(fw.n), (*C.int32_t)(unsafe.Pointer(&acc[0])))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
