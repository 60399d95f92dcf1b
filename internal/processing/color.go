package processing

import (
	"fmt"
	"image/color"
	"strconv"
	"strings"
)

// parseHexColor parses rgb, rgba, rrggbb or rrggbbaa, with or without a leading '#'.
// Missing alpha is opaque.
func parseHexColor(s string) (color.NRGBA, error) {
	h := strings.TrimPrefix(s, "#")
	if len(h) == 3 || len(h) == 4 {
		var b strings.Builder
		for _, c := range h {
			b.WriteRune(c)
			b.WriteRune(c)
		}
		h = b.String()
	}
	if len(h) == 6 {
		h += "ff"
	}
	if len(h) != 8 {
		return color.NRGBA{}, fmt.Errorf("%q is not a hex colour like ffffff or 00000080", s)
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return color.NRGBA{}, fmt.Errorf("%q is not a hex colour like ffffff or 00000080", s)
	}
	return color.NRGBA{R: uint8(v >> 24), G: uint8(v >> 16), B: uint8(v >> 8), A: uint8(v)}, nil
}
