package processing

import (
	"encoding/binary"
	"image"

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
