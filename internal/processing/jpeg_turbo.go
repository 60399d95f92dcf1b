//go:build cgo && jpegturbo

package processing

/*
#cgo LDFLAGS: -l:libjpeg.a
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>

enum { PM_OK, PM_CORRUPT, PM_UNSUPPORTED, PM_TOO_LARGE, PM_SIZE, PM_SCANS };

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	int warnings;
	int code; // why the decode was abandoned, when it was by pixmill
} pm_error;

typedef struct {
	struct jpeg_progress_mgr pub;
	int max_scans;
} pm_progress;

// error_exit must not return (libjpeg would exit the process): jump back to
// pm_decode, which cleans up and reports the message.
static void pm_error_exit(j_common_ptr c) {
	longjmp(((pm_error *)c->err)->jump, 1);
}

// Warnings (level -1: corrupt data that libjpeg papered over) are counted, never
// printed; trace messages (level >= 0) are dropped.
static void pm_emit_message(j_common_ptr c, int level) {
	if (level < 0) ((pm_error *)c->err)->warnings++;
}

static void pm_output_message(j_common_ptr c) { (void)c; }

// A progressive file can have any number of scans, each costing up to a full
// decode: stop at max_scans (libjpeg-turbo's own advice for untrusted input).
static void pm_progress_monitor(j_common_ptr c) {
	j_decompress_ptr d = (j_decompress_ptr)c;
	if (c->is_decompressor && d->input_scan_number > ((pm_progress *)c->progress)->max_scans) {
		((pm_error *)c->err)->code = PM_SCANS;
		longjmp(((pm_error *)c->err)->jump, 1);
	}
}

// pm_error_init sets e up as a codec's error manager: errors jump back to the
// setjmp of the caller (which must call setjmp itself), nothing is printed.
static struct jpeg_error_mgr *pm_error_init(pm_error *e) {
	struct jpeg_error_mgr *m = jpeg_std_error(&e->pub);
	m->error_exit = pm_error_exit;
	m->emit_message = pm_emit_message;
	m->output_message = pm_output_message;
	e->warnings = 0;
	e->code = PM_CORRUPT;
	return m;
}

// pm_decode decodes the JPEG in data[0:size] at eighths/8 scale into out, out_w×out_h
// RGBA (alpha 255), rows packed. Nothing is written outside out; no pointer is
// kept after it returns. msg gets libjpeg's message when it returns PM_CORRUPT.
static int pm_decode(const unsigned char *data, unsigned long size, int eighths,
		unsigned char *out, int out_w, int out_h, long long max_pixels, int max_scans,
		int *warnings, char *msg) {
	struct jpeg_decompress_struct cinfo;
	pm_error jerr;
	pm_progress prog;

	memset(&cinfo, 0, sizeof cinfo);
	cinfo.err = pm_error_init(&jerr);
	msg[0] = 0;
	if (setjmp(jerr.jump)) {
		if (jerr.code == PM_CORRUPT) (*cinfo.err->format_message)((j_common_ptr)&cinfo, msg);
		*warnings = jerr.warnings;
		jpeg_destroy_decompress(&cinfo);
		return jerr.code;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, size);
	jpeg_read_header(&cinfo, TRUE);
	int code = PM_OK;
	if ((long long)cinfo.image_width * (long long)cinfo.image_height > max_pixels) {
		code = PM_TOO_LARGE;
	} else if (!(cinfo.num_components == 3 && (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB)) &&
			!(cinfo.num_components == 1 && cinfo.jpeg_color_space == JCS_GRAYSCALE)) {
		code = PM_UNSUPPORTED; // CMYK, YCCK and anything unusual: Go's decoder
	}
	if (code == PM_OK) {
		cinfo.scale_num = eighths;
		cinfo.scale_denom = 8;
		cinfo.out_color_space = JCS_EXT_RGBA;
		jpeg_calc_output_dimensions(&cinfo);
		if ((int)cinfo.output_width != out_w || (int)cinfo.output_height != out_h || cinfo.output_components != 4) {
			code = PM_SIZE;
		}
	}
	if (code != PM_OK) {
		*warnings = jerr.warnings;
		jpeg_destroy_decompress(&cinfo);
		return code;
	}
	prog.pub.progress_monitor = pm_progress_monitor;
	prog.max_scans = max_scans;
	cinfo.progress = &prog.pub;
	jpeg_start_decompress(&cinfo);
	JSAMPROW rows[16];
	while (cinfo.output_scanline < cinfo.output_height) {
		int n = 0;
		for (; n < 16 && cinfo.output_scanline + n < cinfo.output_height; n++) {
			rows[n] = out + (size_t)(cinfo.output_scanline + n) * (size_t)out_w * 4;
		}
		jpeg_read_scanlines(&cinfo, rows, n);
	}
	jpeg_finish_decompress(&cinfo);
	*warnings = jerr.warnings;
	jpeg_destroy_decompress(&cinfo);
	return PM_OK;
}

// pm_encode compresses the w×h image at pix (rows stride bytes apart; 4 bytes a
// pixel, RGBX, or 1, grayscale, as components says) into a baseline JPEG at
// quality: libjpeg's defaults, which are image/jpeg's choices too (4:2:0 for
// colour, the standard Huffman tables, the IJG quality scaling), plus a JFIF
// header. *out is malloc'ed (jpeg_mem_dest) and must be freed by the caller, also
// after an error; msg gets libjpeg's message when it returns PM_CORRUPT.
static int pm_encode(const unsigned char *pix, int w, int h, int stride, int components,
		int quality, unsigned char **out, unsigned long *out_size, char *msg) {
	struct jpeg_compress_struct cinfo;
	pm_error jerr;

	memset(&cinfo, 0, sizeof cinfo);
	cinfo.err = pm_error_init(&jerr);
	msg[0] = 0;
	*out = NULL;
	*out_size = 0;
	if (setjmp(jerr.jump)) {
		(*cinfo.err->format_message)((j_common_ptr)&cinfo, msg);
		jpeg_destroy_compress(&cinfo);
		return PM_CORRUPT;
	}
	jpeg_create_compress(&cinfo);
	jpeg_mem_dest(&cinfo, out, out_size);
	cinfo.image_width = w;
	cinfo.image_height = h;
	cinfo.input_components = components;
	cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_EXT_RGBX;
	jpeg_set_defaults(&cinfo);
	jpeg_set_quality(&cinfo, quality, TRUE);
	jpeg_start_compress(&cinfo, TRUE);
	JSAMPROW rows[16];
	while (cinfo.next_scanline < cinfo.image_height) {
		int n = 0;
		for (; n < 16 && cinfo.next_scanline + n < cinfo.image_height; n++) {
			rows[n] = (JSAMPROW)(pix + (size_t)(cinfo.next_scanline + n) * (size_t)stride);
		}
		jpeg_write_scanlines(&cinfo, rows, n);
	}
	jpeg_finish_compress(&cinfo);
	jpeg_destroy_compress(&cinfo);
	return PM_OK;
}
*/
import "C"

import (
	"fmt"
	"image"
	"unsafe"

	"github.com/pixmill/pixmill/internal/job"
)

// scaledJPEG reports that this build decodes JPEGs at a reduced scale: libjpeg-
// turbo, linked statically (build tags cgo and jpegturbo; make sets jpegturbo when
// /usr/include/jpeglib.h exists).
const scaledJPEG = true

// maxJPEGScans bounds the scans of a progressive JPEG; real encoders write about 10.
const maxJPEGScans = 100

// newPooledNRGBA returns a w×h image whose pixels come from pixelBuffers: not
// zeroed, so the caller must write every byte.
func newPooledNRGBA(w, h int) *image.NRGBA {
	n := 4 * w * h
	var pix []byte
	if b, _ := pixelBuffers.Get().(*[]byte); b != nil && cap(*b) >= n {
		pix = (*b)[:n]
	} else {
		pix = make([]byte, n) // a smaller buffer is left to the garbage collector
	}
	return &image.NRGBA{Pix: pix, Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
}

// decodeJPEGScaled decodes the w×h (as stored) JPEG in data at eighths/8 scale, not
// turned by its EXIF orientation. It returns an error, and the caller must use
// Go's decoder, whenever libjpeg did not decode the file cleanly: a libjpeg error
// (CodeCorruptImage), a warning (libjpeg fills damaged data in where Go's decoder
// refuses), a colour model other than YCbCr, RGB or grayscale (CMYK, YCCK), more
// than maxJPEGScans scans, or a header libjpeg reads differently from Go's. So
// which files are accepted, and what damaged ones look like, is the pure-Go
// build's decision. The image's pixels come from pixelBuffers (recycle).
func decodeJPEGScaled(data []byte, eighths, w, h, maxPixels int) (*image.NRGBA, error) {
	if len(data) == 0 || w <= 0 || h <= 0 || int64(w)*int64(h) > int64(maxPixels) {
		return nil, errScaledJPEG("size out of range")
	}
	if eighths < 1 || eighths > 8 {
		return nil, fmt.Errorf("jpeg scale %d/8: want 1/8 to 8/8", eighths)
	}
	// libjpeg's scaled size: ceil(w × eighths / 8), ceil(h × eighths / 8).
	ow, oh := (w*eighths+7)/8, (h*eighths+7)/8
	img := newPooledNRGBA(ow, oh) // libjpeg writes every row whole, or fails
	ok := false
	defer func() {
		if !ok {
			recycle(img)
		}
	}()
	var (
		warnings C.int
		msg      [C.JMSG_LENGTH_MAX]C.char
	)
	// Both buffers are Go memory without pointers in them, used only during
	// the call: allowed by the cgo pointer rules.
	rc := C.pm_decode((*C.uchar)(unsafe.Pointer(&data[0])), C.ulong(len(data)), C.int(eighths),
		(*C.uchar)(unsafe.Pointer(&img.Pix[0])), C.int(ow), C.int(oh),
		C.longlong(maxPixels), C.int(maxJPEGScans), &warnings, &msg[0])
	switch rc {
	case C.PM_OK:
		if warnings > 0 {
			return nil, errScaledJPEG(fmt.Sprintf("libjpeg: %d warnings (damaged data)", warnings))
		}
		ok = true
		return img, nil
	case C.PM_CORRUPT:
		return nil, job.Wrap(job.CodeCorruptImage, fmt.Errorf("libjpeg: %s", C.GoString(&msg[0])),
			"image data is corrupt or truncated")
	case C.PM_UNSUPPORTED:
		return nil, errScaledJPEG("colour model not handled by the scaled decoder")
	case C.PM_TOO_LARGE:
		return nil, job.Errorf(job.CodeImageTooLarge, "image is over the limit of %d pixels", maxPixels)
	case C.PM_SIZE:
		return nil, errScaledJPEG("libjpeg reads a different size from the header")
	case C.PM_SCANS:
		return nil, errScaledJPEG(fmt.Sprintf("more than %d progressive scans", maxJPEGScans))
	}
	return nil, fmt.Errorf("libjpeg: unexpected result %d", int(rc))
}

// encodeJPEGTurbo compresses an opaque image with libjpeg-turbo at quality (1–100)
// and reports ok; ok is false, and the caller uses image/jpeg, for any other kind
// of image than *image.NRGBA or *image.RGBA (taken as opaque: alpha is ignored)
// and *image.Gray. It is about 4× faster than image/jpeg with the same settings.
func encodeJPEGTurbo(img image.Image, quality int) (data []byte, ok bool, err error) {
	var (
		pix                []uint8
		stride, components int
		r                  image.Rectangle
	)
	switch m := img.(type) {
	case *image.NRGBA:
		pix, stride, components, r = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4, m.Rect
	case *image.RGBA:
		pix, stride, components, r = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 4, m.Rect
	case *image.Gray:
		pix, stride, components, r = m.Pix[m.PixOffset(m.Rect.Min.X, m.Rect.Min.Y):], m.Stride, 1, m.Rect
	default:
		return nil, false, nil
	}
	w, h := r.Dx(), r.Dy()
	if w <= 0 || h <= 0 || w > 65500 || h > 65500 {
		return nil, false, nil // image/jpeg reports the error
	}
	var (
		out  *C.uchar
		size C.ulong
		msg  [C.JMSG_LENGTH_MAX]C.char
	)
	// pix is Go memory without pointers, read only during the call.
	rc := C.pm_encode((*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(stride),
		C.int(components), C.int(quality), &out, &size, &msg[0])
	defer C.free(unsafe.Pointer(out))
	if rc != C.PM_OK {
		return nil, true, fmt.Errorf("libjpeg: %s", C.GoString(&msg[0]))
	}
	return C.GoBytes(unsafe.Pointer(out), C.int(size)), true, nil
}
