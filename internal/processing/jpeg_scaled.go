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

// decodeJPEG decodes a JPEG source for spec. A build with libjpeg-turbo
// (scaledJPEG) and ShrinkOnLoad on decodes it with libjpeg-turbo: at a reduced
// scale in the DCT domain when every variant shrinks it enough (jpegScale),
// with each first sizing op pinned in the returned spec to the size the full
// image would give; else at full size, which still costs 30% less CPU than Go's
// decoder, straight into NRGBA (docs/levers.md). Otherwise, and for every file
// libjpeg-turbo hands back, it is Go's full-size decode and spec unchanged.
// shrunk reports a reduced decode. late, when not 0, is the EXIF orientation
// img still has to be turned by: every variant's first op can run on it as stored
// (lateOrientable, sizeLate); img is otherwise upright.
func (p *Processor) decodeJPEG(body io.Reader, info Info, spec job.Spec) (img image.Image, _ job.Spec, shrunk bool, late int, err error) {
	if !scaledJPEG || !p.cfg.ShrinkOnLoad {
		img, err := decode(body, job.FormatJPEG)
		return img, spec, false, 0, err
	}
	buf := sourceBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledSource {
			buf.Reset()
			sourceBuffers.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(body); err != nil {
		return nil, spec, false, 0, decodeError(err)
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
			return img, spec, m < 8, o, nil
		}
		return orient(img, o), spec, m < 8, 0, nil
	}
	// Go's decoder decides about anything libjpeg did not decode cleanly.
	img, err = decode(bytes.NewReader(data), job.FormatJPEG)
	return img, spec, false, 0, err
}
