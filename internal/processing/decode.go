package processing

import (
	"fmt"
	"image"
	"io"

	"github.com/disintegration/imaging"
)

// decode decodes the whole image from r, turning it upright by its EXIF orientation.
// r must already have passed header. A decoder panic (crafted input can cause one)
// is reported as a corrupt image rather than taking the worker down.
func decode(r io.Reader) (img image.Image, err error) {
	defer func() {
		if v := recover(); v != nil {
			img, err = nil, decodeError(fmt.Errorf("decoder panic: %v", v))
		}
	}()
	img, err = imaging.Decode(r, imaging.AutoOrientation(true))
	if err != nil {
		return nil, decodeError(err)
	}
	return img, nil
}
