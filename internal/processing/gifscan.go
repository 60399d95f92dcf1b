package processing

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/pixmill/pixmill/internal/job"
)

// GIF block introducers (GIF89a spec, appendix B).
const (
	gifExtension       = 0x21
	gifImageDescriptor = 0x2c
	gifTrailer         = 0x3b
	gifColorTableFlag  = 0x80
)

// scanGIF walks a GIF's block structure from its signature to its trailer and
// returns the logical screen size and the number of frames, without decompressing
// anything: colour tables and data sub-blocks are skipped, so memory stays at the
// reader's buffer whatever the file holds. It stops with CodeImageTooLarge as soon
// as the frames counted are over MaxFrames or, times the screen size, over
// MaxAnimationPixels. A structure that image/gif would reject (no trailer, an
// unknown block, no frames) is CodeCorruptImage.
func (p *Processor) scanGIF(r *bufio.Reader) (width, height, frames int, err error) {
	var hdr [13]byte // signature, version, logical screen descriptor
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, 0, gifError(err)
	}
	width = int(binary.LittleEndian.Uint16(hdr[6:8]))
	height = int(binary.LittleEndian.Uint16(hdr[8:10]))
	if err := p.checkSize(width, height); err != nil {
		return 0, 0, 0, err
	}
	if err := skipColorTable(r, hdr[10]); err != nil {
		return 0, 0, 0, gifError(err)
	}
	for {
		c, err := r.ReadByte()
		if err != nil {
			return 0, 0, 0, gifError(err)
		}
		switch c {
		case gifExtension:
			if _, err := r.ReadByte(); err != nil { // the label; every kind is skipped alike
				return 0, 0, 0, gifError(err)
			}
			if err := skipSubBlocks(r); err != nil {
				return 0, 0, 0, gifError(err)
			}
		case gifImageDescriptor:
			var d [9]byte // left, top, width, height, fields
			if _, err := io.ReadFull(r, d[:]); err != nil {
				return 0, 0, 0, gifError(err)
			}
			if err := skipColorTable(r, d[8]); err != nil {
				return 0, 0, 0, gifError(err)
			}
			if _, err := r.ReadByte(); err != nil { // LZW minimum code size
				return 0, 0, 0, gifError(err)
			}
			if err := skipSubBlocks(r); err != nil {
				return 0, 0, 0, gifError(err)
			}
			frames++
			if err := p.checkFrames(width, height, frames); err != nil {
				return 0, 0, 0, err
			}
		case gifTrailer:
			if frames == 0 {
				return 0, 0, 0, job.Errorf(job.CodeCorruptImage, "the GIF has no frames")
			}
			return width, height, frames, nil
		default:
			return 0, 0, 0, gifError(fmt.Errorf("gif: unknown block type 0x%02x", c))
		}
	}
}

// checkFrames applies the animation limits to a GIF of frames frames of w×h.
func (p *Processor) checkFrames(w, h, frames int) error {
	if frames > p.cfg.MaxFrames {
		return job.Errorf(job.CodeImageTooLarge,
			"the animation has more than %d frames, the limit", p.cfg.MaxFrames)
	}
	if int64(frames)*int64(w)*int64(h) > int64(p.cfg.MaxAnimationPixels) {
		return job.Errorf(job.CodeImageTooLarge,
			"the animation has over %d pixels in all its frames (%d×%d, %d frames so far), the limit",
			p.cfg.MaxAnimationPixels, w, h, frames)
	}
	return nil
}

// skipColorTable skips the colour table that fields (of a screen or image
// descriptor) announces, if any.
func skipColorTable(r *bufio.Reader, fields byte) error {
	if fields&gifColorTableFlag == 0 {
		return nil
	}
	_, err := r.Discard(3 << (fields&7 + 1))
	return err
}

// skipSubBlocks skips a chain of data sub-blocks up to its zero-length terminator.
func skipSubBlocks(r *bufio.Reader) error {
	for {
		n, err := r.ReadByte()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := r.Discard(int(n)); err != nil {
			return err
		}
	}
}

// gifError reports a GIF that ends early or is malformed as corrupt.
func gifError(err error) *job.Error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return job.Wrap(job.CodeCorruptImage, err, "image data is corrupt or truncated")
}
