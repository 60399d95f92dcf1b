package job

// Format is an image file format pixmill reads or writes.
type Format string

// Formats. Which of them can be decoded or encoded is processing's business; this
// list is the vocabulary of the API.
const (
	FormatJPEG Format = "jpeg"
	FormatPNG  Format = "png"
	FormatGIF  Format = "gif"
	FormatTIFF Format = "tiff"
	FormatBMP  Format = "bmp"
	FormatWebP Format = "webp"
)

var formatInfo = map[Format]struct{ contentType, ext string }{
	FormatJPEG: {"image/jpeg", ".jpg"},
	FormatPNG:  {"image/png", ".png"},
	FormatGIF:  {"image/gif", ".gif"},
	FormatTIFF: {"image/tiff", ".tiff"},
	FormatBMP:  {"image/bmp", ".bmp"},
	FormatWebP: {"image/webp", ".webp"},
}

// ParseFormat parses an output format name; "jpg" and "tif" are accepted as aliases.
// "" means "the input's format" and is returned as is.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "jpg":
		return FormatJPEG, nil
	case "tif":
		return FormatTIFF, nil
	}
	if s == "" {
		return "", nil
	}
	if _, ok := formatInfo[Format(s)]; ok {
		return Format(s), nil
	}
	return "", Errorf(CodeInvalid, "unknown format %q (want jpeg, png, gif, tiff, bmp or webp)", s)
}

// ContentType is the MIME type of files in this format.
func (f Format) ContentType() string {
	if i, ok := formatInfo[f]; ok {
		return i.contentType
	}
	return "application/octet-stream"
}

// Ext is the usual file name extension, with the dot.
func (f Format) Ext() string {
	if i, ok := formatInfo[f]; ok {
		return i.ext
	}
	return ""
}
