package processing

import (
	"fmt"
	"image"
	"io"

	"github.com/disintegration/imaging"
	xwebp "golang.org/x/image/webp"

	"github.com/pixmill/pixmill/internal/job"
)

// decode decodes the image (a GIF's first frame) from r, turning it upright by its
// EXIF orientation; f is what header found r to be. A decoder panic (crafted input
// can cause one) is reported as a corrupt image rather than taking the worker down.
func decode(r io.Reader, f job.Format) (img image.Image, err error) {
	defer func() {
		if v := recover(); v != nil {
			img, err = nil, decodeError(fmt.Errorf("decoder panic: %v", v))
		}
	}()
	if f == job.FormatWebP {
		// Not through the image registry: see header.
		img, err = xwebp.Decode(r)
		if err == nil {
			img = vp8ToNRGBA(img)
		}
	} else {
		img, err = imaging.Decode(r, imaging.AutoOrientation(true))
	}
	if err != nil {
		return nil, decodeError(err)
	}
	return img, nil
}
