package job

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
)

// DefaultVariant names the output of a job that did not ask for variants.
const DefaultVariant = "default"

// Spec is what a job must produce: one output per variant, each an ordered list of
// operations applied to the decoded source, encoded in a format.
type Spec struct {
	Variants []Variant `json:"variants"`
}

// Variant is one output of a job.
type Variant struct {
	Name    string `json:"name"`
	Ops     []Op   `json:"ops"`
	Format  Format `json:"format,omitempty"`  // "" keeps the input's format
	Quality int    `json:"quality,omitempty"` // 0 is the format's default
	// Lossless asks for lossless WebP; it needs Format webp and no Quality.
	Lossless bool `json:"lossless,omitempty"`
}

// Op is one operation with its parameters. The JSON names are part of the API
// contract; a parameter an operation does not use must be zero.
type Op struct {
	Name       string  `json:"op"`
	Width      int     `json:"width,omitempty"`
	Height     int     `json:"height,omitempty"`
	Anchor     string  `json:"anchor,omitempty"`
	Filter     string  `json:"filter,omitempty"`
	X          int     `json:"x,omitempty"`
	Y          int     `json:"y,omitempty"`
	Angle      float64 `json:"angle,omitempty"`
	Background string  `json:"background,omitempty"`
	Direction  string  `json:"direction,omitempty"`
	Sigma      float64 `json:"sigma,omitempty"`
	Percent    float64 `json:"percent,omitempty"`
	Gamma      float64 `json:"gamma,omitempty"`
	Image      string  `json:"image,omitempty"`   // watermark: a configured watermark's name
	Margin     int     `json:"margin,omitempty"`  // watermark: pixels from the anchored edges
	Opacity    float64 `json:"opacity,omitempty"` // watermark: (0, 1]; 0 means 1 (opaque)
	Scale      float64 `json:"scale,omitempty"`   // watermark: width as a fraction of the image's; 0 is natural size
}

// Limits bound what a Spec may ask for; they are checked before a job is accepted.
type Limits struct {
	MaxOps          int // per variant
	MaxVariants     int
	MaxDimension    int // any width or height asked for
	MaxOutputPixels int // width × height asked for, where both are given
}

// Anchors accepted by fill, crop and watermark.
var Anchors = []string{"center", "top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right"}

// Filters accepted by the resizing operations; "" is lanczos.
var Filters = []string{"lanczos", "nearest", "box", "linear", "hermite", "mitchell", "catmullrom", "bspline", "gaussian", "bartlett", "hann", "hamming", "blackman", "welch", "cosine"}

// param names which Op fields an operation reads.
type param uint32

const (
	pWidth param = 1 << iota
	pHeight
	pAnchor
	pFilter
	pX
	pY
	pAngle
	pBackground
	pDirection
	pSigma
	pPercent
	pGamma
	pImage
	pMargin
	pOpacity
	pScale
	pLast = pScale
)

var paramNames = map[param]string{
	pWidth: "width", pHeight: "height", pAnchor: "anchor", pFilter: "filter", pX: "x", pY: "y",
	pAngle: "angle", pBackground: "background", pDirection: "direction", pSigma: "sigma",
	pPercent: "percent", pGamma: "gamma", pImage: "image", pMargin: "margin", pOpacity: "opacity",
	pScale: "scale",
}

// opParams lists every operation and the parameters it takes.
var opParams = map[string]param{
	"resize":     pWidth | pHeight | pFilter,
	"fit":        pWidth | pHeight | pFilter,
	"fill":       pWidth | pHeight | pAnchor | pFilter,
	"thumbnail":  pWidth | pHeight | pFilter,
	"crop":       pWidth | pHeight | pX | pY | pAnchor,
	"rotate":     pAngle | pBackground,
	"flip":       pDirection,
	"transpose":  0,
	"transverse": 0,
	"blur":       pSigma,
	"sharpen":    pSigma,
	"grayscale":  0,
	"invert":     0,
	"brightness": pPercent,
	"contrast":   pPercent,
	"gamma":      pGamma,
	"saturation": pPercent,
	"watermark":  pImage | pAnchor | pMargin | pOpacity | pScale,
}

// OpNames lists the supported operations in a stable order.
func OpNames() []string {
	return slices.Sorted(maps.Keys(opParams))
}

func (o Op) set() param {
	var s param
	add := func(p param, ok bool) {
		if ok {
			s |= p
		}
	}
	add(pWidth, o.Width != 0)
	add(pHeight, o.Height != 0)
	add(pAnchor, o.Anchor != "")
	add(pFilter, o.Filter != "")
	add(pX, o.X != 0)
	add(pY, o.Y != 0)
	add(pAngle, o.Angle != 0)
	add(pBackground, o.Background != "")
	add(pDirection, o.Direction != "")
	add(pSigma, o.Sigma != 0)
	add(pPercent, o.Percent != 0)
	add(pGamma, o.Gamma != 0)
	add(pImage, o.Image != "")
	add(pMargin, o.Margin != 0)
	add(pOpacity, o.Opacity != 0)
	add(pScale, o.Scale != 0)
	return s
}

var hexColour = regexp.MustCompile(`^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)

// Validate checks o's name, that it sets only parameters it takes, and their ranges.
func (o Op) Validate(lim Limits) error {
	allowed, ok := opParams[o.Name]
	if !ok {
		return Errorf(CodeInvalid, "unknown op %q (want one of %v)", o.Name, OpNames())
	}
	if extra := o.set() &^ allowed; extra != 0 {
		for p := param(1); p <= pLast; p <<= 1 {
			if extra&p != 0 {
				return Errorf(CodeInvalid, "%s: parameter %s does not apply", o.Name, paramNames[p])
			}
		}
	}
	bad := func(format string, args ...any) error {
		return Errorf(CodeInvalid, "%s: %s", o.Name, fmt.Sprintf(format, args...))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

	if allowed&pWidth != 0 {
		if o.Width < 0 || o.Height < 0 {
			return bad("width and height must not be negative")
		}
		if lim.MaxDimension > 0 && (o.Width > lim.MaxDimension || o.Height > lim.MaxDimension) {
			return bad("width and height must be at most %d", lim.MaxDimension)
		}
		if lim.MaxOutputPixels > 0 && int64(o.Width)*int64(o.Height) > int64(lim.MaxOutputPixels) {
			return bad("%d×%d is over the output limit of %d pixels", o.Width, o.Height, lim.MaxOutputPixels)
		}
		switch o.Name {
		case "resize":
			if o.Width == 0 && o.Height == 0 {
				return bad("width or height is required")
			}
		default:
			if o.Width == 0 || o.Height == 0 {
				return bad("width and height are required")
			}
		}
	}
	if o.Filter != "" && !slices.Contains(Filters, o.Filter) {
		return bad("unknown filter %q (want one of %v)", o.Filter, Filters)
	}
	if o.Anchor != "" && !slices.Contains(Anchors, o.Anchor) {
		return bad("unknown anchor %q (want one of %v)", o.Anchor, Anchors)
	}
	if o.Name == "crop" {
		if o.X < 0 || o.Y < 0 {
			return bad("x and y must not be negative")
		}
		if lim.MaxDimension > 0 && (o.X > lim.MaxDimension || o.Y > lim.MaxDimension) {
			return bad("x and y must be at most %d", lim.MaxDimension)
		}
		if o.Anchor != "" && (o.X != 0 || o.Y != 0) {
			return bad("give either x and y or anchor, not both")
		}
	}
	switch o.Name {
	case "rotate":
		if !finite(o.Angle) || o.Angle <= -360 || o.Angle >= 360 {
			return bad("angle must be in (-360, 360) degrees")
		}
		if o.Angle == 0 {
			return bad("angle is required")
		}
		if o.Background != "" && !hexColour.MatchString(o.Background) {
			return bad("background must be a hex colour like ffffff or 00000080")
		}
	case "flip":
		if o.Direction != "h" && o.Direction != "v" {
			return bad("direction must be h or v")
		}
	case "blur", "sharpen":
		if !finite(o.Sigma) || o.Sigma <= 0 || o.Sigma > 50 {
			return bad("sigma must be in (0, 50]")
		}
	case "brightness", "contrast":
		if !finite(o.Percent) || o.Percent < -100 || o.Percent > 100 {
			return bad("percent must be in [-100, 100]")
		}
	case "saturation":
		if !finite(o.Percent) || o.Percent < -100 || o.Percent > 500 {
			return bad("percent must be in [-100, 500]")
		}
	case "gamma":
		if !finite(o.Gamma) || o.Gamma <= 0 || o.Gamma > 10 {
			return bad("gamma must be in (0, 10]")
		}
	case "watermark":
		// Which names exist is configuration, checked by processing; only the
		// shape is checked here.
		if o.Image == "" {
			return bad("image is required (the name of a configured watermark)")
		}
		if !watermarkName.MatchString(o.Image) {
			return bad("image %q: use 1-64 letters, digits, '.', '-' or '_'", o.Image)
		}
		if o.Margin < 0 {
			return bad("margin must not be negative")
		}
		if lim.MaxDimension > 0 && o.Margin > lim.MaxDimension {
			return bad("margin must be at most %d", lim.MaxDimension)
		}
		if !finite(o.Opacity) || o.Opacity < 0 || o.Opacity > 1 {
			return bad("opacity must be in (0, 1] (or left out for 1)")
		}
		if !finite(o.Scale) || o.Scale < 0 || o.Scale > 1 {
			return bad("scale must be in (0, 1] (or left out for the watermark's own size)")
		}
	}
	return nil
}

// watermarkName is what a watermark may be called in configuration and in an op.
var watermarkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$`)

// variantName is what a variant may be called: it becomes part of a URL and a key.
var variantName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`)

// Validate checks every variant and operation of s against lim.
func (s Spec) Validate(lim Limits) error {
	if len(s.Variants) == 0 {
		return Errorf(CodeInvalid, "no output asked for")
	}
	if lim.MaxVariants > 0 && len(s.Variants) > lim.MaxVariants {
		return Errorf(CodeInvalid, "%d variants asked for; at most %d", len(s.Variants), lim.MaxVariants)
	}
	seen := make(map[string]bool, len(s.Variants))
	for _, v := range s.Variants {
		if !variantName.MatchString(v.Name) {
			return Errorf(CodeInvalid, "variant name %q: use 1-64 letters, digits, '-' or '_'", v.Name)
		}
		if seen[v.Name] {
			return Errorf(CodeInvalid, "variant %q given twice", v.Name)
		}
		seen[v.Name] = true
		if f, err := ParseFormat(string(v.Format)); err != nil {
			return err
		} else if f != v.Format {
			return Errorf(CodeInvalid, "format %q: write %q", v.Format, f)
		}
		if v.Quality < 0 || v.Quality > 100 {
			return Errorf(CodeInvalid, "quality must be from 1 to 100 (or left out for the default)")
		}
		if v.Lossless && v.Format != FormatWebP {
			return Errorf(CodeInvalid, "lossless applies to format webp only")
		}
		if v.Lossless && v.Quality != 0 {
			return Errorf(CodeInvalid, "give either quality or lossless, not both")
		}
		if lim.MaxOps > 0 && len(v.Ops) > lim.MaxOps {
			return Errorf(CodeInvalid, "%d ops asked for; at most %d", len(v.Ops), lim.MaxOps)
		}
		for i, op := range v.Ops {
			if err := op.Validate(lim); err != nil {
				return Errorf(CodeInvalid, "op %d: %s", i+1, ErrorMessage(err))
			}
		}
	}
	return nil
}
