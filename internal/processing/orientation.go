package processing

import (
	"encoding/binary"
	"image"
	"unsafe"

	"github.com/disintegration/imaging"
)

// jpegOrientation reads the EXIF Orientation tag (1–8) of a JPEG held in memory;
// 0 means none or unreadable. It reads exactly what imaging.Decode's reader does
// (the first APP1 segment only, IFD0's first Orientation entry), so a JPEG is
// turned the same way by both decode paths; unlike that reader it never reads
// past data or past the APP1 segment it parses.
func jpegOrientation(data []byte) int {
	if len(data) < 2 || data[0] != 0xff || data[1] != 0xd8 {
		return 0
	}
	pos := 2
	var seg []byte
	for {
		if pos+4 > len(data) || data[pos] != 0xff {
			return 0
		}
		marker, n := data[pos+1], int(binary.BigEndian.Uint16(data[pos+2:]))
		if marker == 0xe1 {
			// The segment length includes its own two bytes; a short or
			// overlong one leaves whatever the file has, as imaging reads it.
			end := min(pos+2+max(n, 2), len(data))
			seg = data[pos+4 : end]
			break
		}
		if n < 2 {
			return 0
		}
		pos += 2 + n
	}
	if len(seg) < 6 || string(seg[:4]) != "Exif" {
		return 0
	}
	tiff := seg[6:]
	if len(tiff) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(tiff[:2]) {
	case "MM":
		order = binary.BigEndian
	case "II":
		order = binary.LittleEndian
	default:
		return 0
	}
	ifd := int64(order.Uint32(tiff[4:]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 0
	}
	count := int(order.Uint16(tiff[ifd:]))
	entries := tiff[ifd+2:]
	for i := range count {
		e := entries[min(12*i, len(entries)):]
		if len(e) < 2 {
			return 0
		}
		if order.Uint16(e) != 0x0112 {
			continue
		}
		if len(e) < 10 {
			return 0
		}
		if v := int(order.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// orientedSize is the size of a w×h stored image once turned upright by EXIF
// orientation o: 5–8 turn it sideways.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// orient turns img upright by EXIF orientation o, as imaging.Decode does.
func orient(img image.Image, o int) image.Image {
	if m, ok := img.(*image.NRGBA); ok && o >= 2 && o <= 8 {
		return orientNRGBA(m, o)
	}
	switch o {
	case 2:
		return imaging.FlipH(img)
	case 3:
		return imaging.Rotate180(img)
	case 4:
		return imaging.FlipV(img)
	case 5:
		return imaging.Transpose(img)
	case 6:
		return imaging.Rotate270(img)
	case 7:
		return imaging.Transverse(img)
	case 8:
		return imaging.Rotate90(img)
	}
	return img
}

// orientNRGBA is orient for an NRGBA image, with imaging's bytes: every output
// pixel is a source pixel. It copies whole pixels and walks the output in square
// tiles, so that a turn's column-wise reads of the source stay in cache; imaging
// goes through its generic row scanner and whole columns. A quarter turn of an
// 800×1067 image took 1.6 ms instead of 3.4, of a 12 MP one 27 ms instead of 84.
func orientNRGBA(src *image.NRGBA, o int) *image.NRGBA {
	sw, sh := size(src)
	dw, dh := sw, sh
	if o >= 5 {
		dw, dh = sh, sw
	}
	dst := image.NewNRGBA(image.Rect(0, 0, dw, dh))
	if dw == 0 || dh == 0 {
		return dst
	}
	// The source pixel of output (x, y) is (sx + x·xx + y·yx, sy + x·xy + y·yy).
	var sx, sy, xx, xy, yx, yy int
	switch o {
	case 2: // flip horizontally
		sx, xx, yy = sw-1, -1, 1
	case 3: // rotate 180°
		sx, sy, xx, yy = sw-1, sh-1, -1, -1
	case 4: // flip vertically
		sy, xx, yy = sh-1, 1, -1
	case 5: // transpose
		xy, yx = 1, 1
	case 6: // rotate 90° clockwise
		sy, xy, yx = sh-1, -1, 1
	case 7: // transverse
		sx, sy, xy, yx = sw-1, sh-1, -1, -1
	case 8: // rotate 90° counter-clockwise
		sx, xy, yx = sw-1, 1, -1
	}
	// Pixels as uint32s: NRGBA rows and strides are whole pixels.
	sp := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(src.Pix))), len(src.Pix)/4)
	dp := unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(dst.Pix))), len(dst.Pix)/4)
	base := src.PixOffset(src.Rect.Min.X+sx, src.Rect.Min.Y+sy) / 4
	dx, dy := xx+xy*src.Stride/4, yx+yy*src.Stride/4 // source pixels per output step
	const tile = 32
	tiles := (dh + tile - 1) / tile
	parallelRows(tiles, func(t0, t1 int) {
		for ty := t0 * tile; ty < min(t1*tile, dh); ty += tile {
			for tx := 0; tx < dw; tx += tile {
				xe := min(tx+tile, dw)
				for y := ty; y < min(ty+tile, dh); y++ {
					d := dp[y*dst.Stride/4+tx : y*dst.Stride/4+xe]
					s := base + y*dy + tx*dx
					for i := range d {
						d[i] = sp[s]
						s += dx
					}
				}
			}
		}
	})
	return dst
}
