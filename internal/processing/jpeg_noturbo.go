//go:build !(cgo && jpegturbo)

package processing

import "image"

// scaledJPEG reports that this build has no scaled JPEG decoder: Run always
// decodes JPEGs at full size with Go's decoder. Build with the tags cgo and
// jpegturbo (make does, where libjpeg-turbo's headers are installed) for it.
const scaledJPEG = false

// decodeJPEGScaled is not available in this build.
func decodeJPEGScaled(_ []byte, _, _, _, _ int) (*image.NRGBA, error) {
	return nil, errScaledJPEG("not available: built without the jpegturbo tag")
}

// encodeJPEGTurbo is not available in this build: image/jpeg encodes.
func encodeJPEGTurbo(image.Image, int) ([]byte, bool, error) { return nil, false, nil }
