package processing

import (
	"bytes"
	"image"
	"io"
	"sync"

	"github.com/pixmill/pixmill/internal/job"
)

// sourceBuffers are the buffers a JPEG file is read into for libjpeg-turbo (which
// wants it whole), reused so that a busy worker reads each file into memory it
// already has instead of growing a new buffer, and zeroing it, every time.
var sourceBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledSource is the largest buffer kept for reuse.
const maxPooledSource = 16 << 20

// errScaledJPEG says why the scaled JPEG decoder gave a file back to Go's.
type errScaledJPEG string

func (e errScaledJPEG) Error() string { return "scaled jpeg decode: " + string(e) }

// pixelBuffers recycle the pixels of JPEGs decoded by libjpeg-turbo between jobs:
// a worker decodes each photo into memory it already has, instead of a fresh
// allocation that Go zeroes first (libjpeg then writes every byte again) and the
// garbage collector has to come back for. Run hands a buffer back once every
// output is encoded.
var pixelBuffers sync.Pool // of *[]byte

// maxPooledPixels is the largest pixel buffer kept for reuse (a 24 MP photo at
// 5/8 scale, 9.4 MP, is 38 MB).
const maxPooledPixels = 64 << 20

// recycle hands m's pixels to pixelBuffers; nothing may use m afterwards.
func recycle(m *image.NRGBA) {
	if m != nil && cap(m.Pix) <= maxPooledPixels {
		pix := m.Pix[:0]
		pixelBuffers.Put(&pix)
	}
}

// decodedJPEG is what decodeJPEG returns.
type decodedJPEG struct {
	img    image.Image
	spec   job.Spec // with each first sizing op pinned when shrunk
	shrunk bool     // decoded smaller than stored
	late   int      // when not 0, the EXIF orientation img still has to be turned by
	pooled bool     // img's pixels come from pixelBuffers: recycle it when done
}

// decodeJPEG decodes a JPEG source for spec. A build with libjpeg-turbo
// (scaledJPEG) and ShrinkOnLoad on decodes it with libjpeg-turbo: at a reduced
// scale in the DCT domain when every variant shrinks it enough (jpegScale),
// with each first sizing op pinned in the returned spec to the size the full
// image would give; else at full size, which still costs 30% less CPU than Go's
// decoder, straight into NRGBA (docs/levers.md). Otherwise, and for every file
// libjpeg-turbo hands back, it is Go's full-size decode and spec unchanged.
// late, when not 0, is the EXIF orientation img still has to be turned by: every
// variant's first op can run on it as stored (lateOrientable, sizeLate); img is
// otherwise upright.
func (p *Processor) decodeJPEG(body io.Reader, info Info, spec job.Spec) (decodedJPEG, error) {
	if !scaledJPEG || !p.cfg.ShrinkOnLoad {
		img, err := decode(body, job.FormatJPEG)
		return decodedJPEG{img: img, spec: spec}, err
	}
	buf := sourceBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledSource {
			buf.Reset()
			sourceBuffers.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(body); err != nil {
		return decodedJPEG{}, decodeError(err)
	}
	// Nothing returned refers to data: libjpeg-turbo and Go's decoder copy out.
	data := buf.Bytes()
	o := jpegOrientation(data)
	w, h := orientedSize(info.Width, info.Height, o)
	m := jpegScale(spec, w, h)
	if img, err := decodeJPEGScaled(data, m, info.Width, info.Height, p.cfg.MaxPixels); err == nil {
		if m < 8 {
			spec = pinSizes(spec, w, h)
		}
		if !p.earlyOrient && lateOrientable(img, spec, o) {
			return decodedJPEG{img: img, spec: spec, shrunk: m < 8, late: o, pooled: true}, nil
		}
		if o < 2 || o > 8 {
			return decodedJPEG{img: img, spec: spec, shrunk: m < 8, pooled: true}, nil
		}
		upright := orient(img, o) // a new image
		recycle(img)
		return decodedJPEG{img: upright, spec: spec, shrunk: m < 8}, nil
	}
	// Go's decoder decides about anything libjpeg did not decode cleanly.
	img, err := decode(bytes.NewReader(data), job.FormatJPEG)
	return decodedJPEG{img: img, spec: spec}, err
}
