package job_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

var testLimits = job.Limits{MaxOps: 3, MaxVariants: 2, MaxDimension: 1000, MaxOutputPixels: 500_000}

// wantInvalid fails unless err is an *job.Error with CodeInvalid.
func wantInvalid(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error, want invalid_request")
	}
	var e *job.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *job.Error", err, err)
	}
	if got := job.ErrorCode(err); got != job.CodeInvalid {
		t.Errorf("code = %q, want %q (%v)", got, job.CodeInvalid, err)
	}
	if e.Message == "" {
		t.Error("empty client message")
	}
}

func TestOpValidateAccepts(t *testing.T) {
	tests := []job.Op{
		{Name: "resize", Width: 800},
		{Name: "resize", Height: 600},
		{Name: "resize", Width: 800, Height: 600, Filter: "nearest"},
		{Name: "resize", Width: 1000, Height: 500}, // exactly the pixel limit
		{Name: "fit", Width: 800, Height: 600},
		{Name: "fit", Width: 800, Height: 600, Filter: "lanczos"},
		{Name: "fill", Width: 100, Height: 100},
		{Name: "fill", Width: 100, Height: 100, Anchor: "bottom-right", Filter: "box"},
		{Name: "thumbnail", Width: 64, Height: 64},
		{Name: "crop", Width: 10, Height: 10},
		{Name: "crop", Width: 10, Height: 10, X: 5, Y: 7},
		{Name: "crop", Width: 10, Height: 10, Anchor: "center"},
		{Name: "rotate", Angle: 90},
		{Name: "rotate", Angle: -270},
		{Name: "rotate", Angle: 359.9},
		{Name: "rotate", Angle: 33, Background: "#fff"},
		{Name: "rotate", Angle: 33, Background: "ffffff"},
		{Name: "rotate", Angle: 33, Background: "00000080"},
		{Name: "rotate", Angle: 33, Background: "abcd"},
		{Name: "flip", Direction: "h"},
		{Name: "flip", Direction: "v"},
		{Name: "transpose"},
		{Name: "transverse"},
		{Name: "blur", Sigma: 0.1},
		{Name: "blur", Sigma: 50},
		{Name: "sharpen", Sigma: 1},
		{Name: "grayscale"},
		{Name: "invert"},
		{Name: "brightness", Percent: -100},
		{Name: "brightness", Percent: 100},
		{Name: "brightness"}, // zero percent is a no-op, not an error
		{Name: "contrast", Percent: 50},
		{Name: "gamma", Gamma: 10},
		{Name: "gamma", Gamma: 0.01},
		{Name: "saturation", Percent: 500},
		{Name: "saturation", Percent: -100},
		{Name: "watermark", Image: "logo"},
		{Name: "watermark", Image: "logo.v2_dark-1", Anchor: "top-left", Margin: 16, Opacity: 0.5, Scale: 0.25},
		{Name: "watermark", Image: "logo", Margin: 1000, Opacity: 1, Scale: 1}, // the upper bounds
		{Name: "watermark", Image: "logo", Opacity: 0.001, Scale: 0.001},
	}
	for _, op := range tests {
		if err := op.Validate(testLimits); err != nil {
			t.Errorf("%+v.Validate: %v", op, err)
		}
	}

	// Every filter and anchor in the published lists is accepted.
	for _, f := range job.Filters {
		if err := (job.Op{Name: "resize", Width: 10, Filter: f}).Validate(testLimits); err != nil {
			t.Errorf("filter %q: %v", f, err)
		}
	}
	for _, a := range job.Anchors {
		if err := (job.Op{Name: "fill", Width: 10, Height: 10, Anchor: a}).Validate(testLimits); err != nil {
			t.Errorf("anchor %q: %v", a, err)
		}
	}

	// Zero limits mean no limit.
	if err := (job.Op{Name: "resize", Width: 1 << 20, Height: 1 << 20}).Validate(job.Limits{}); err != nil {
		t.Errorf("huge resize with no limits: %v", err)
	}
}

func TestOpValidateRejects(t *testing.T) {
	nan := math.NaN()
	inf := math.Inf(1)
	tests := []struct {
		name string
		op   job.Op
		msg  string // part of the message
	}{
		{"unknown op", job.Op{Name: "explode"}, "unknown op"},
		{"empty op", job.Op{}, "unknown op"},
		{"op name case", job.Op{Name: "Resize", Width: 1}, "unknown op"},
		{"negative width", job.Op{Name: "resize", Width: -1}, "negative"},
		{"negative height", job.Op{Name: "fit", Width: 10, Height: -1}, "negative"},
		{"resize without size", job.Op{Name: "resize"}, "required"},
		{"resize with filter only", job.Op{Name: "resize", Filter: "box"}, "required"},
		{"fit without height", job.Op{Name: "fit", Width: 10}, "required"},
		{"fill without width", job.Op{Name: "fill", Height: 10}, "required"},
		{"thumbnail without height", job.Op{Name: "thumbnail", Width: 10}, "required"},
		{"crop without size", job.Op{Name: "crop", X: 1, Y: 1}, "required"},
		{"width over MaxDimension", job.Op{Name: "resize", Width: 1001}, "at most 1000"},
		{"height over MaxDimension", job.Op{Name: "fit", Width: 10, Height: 1001}, "at most 1000"},
		{"over MaxOutputPixels", job.Op{Name: "resize", Width: 1000, Height: 501}, "output limit"},
		{"unknown filter", job.Op{Name: "resize", Width: 10, Filter: "sinc"}, "unknown filter"},
		{"unknown anchor", job.Op{Name: "fill", Width: 10, Height: 10, Anchor: "middle"}, "unknown anchor"},
		{"crop x with anchor", job.Op{Name: "crop", Width: 10, Height: 10, X: 1, Anchor: "top"}, "not both"},
		{"crop y with anchor", job.Op{Name: "crop", Width: 10, Height: 10, Y: 1, Anchor: "top"}, "not both"},
		{"crop negative x", job.Op{Name: "crop", Width: 10, Height: 10, X: -1}, "negative"},
		{"crop negative y", job.Op{Name: "crop", Width: 10, Height: 10, Y: -1}, "negative"},
		{"rotate angle 0", job.Op{Name: "rotate"}, "required"},
		{"rotate angle 360", job.Op{Name: "rotate", Angle: 360}, "angle"},
		{"rotate angle -360", job.Op{Name: "rotate", Angle: -360}, "angle"},
		{"rotate angle 1000", job.Op{Name: "rotate", Angle: 1000}, "angle"},
		{"rotate angle NaN", job.Op{Name: "rotate", Angle: nan}, "angle"},
		{"rotate angle Inf", job.Op{Name: "rotate", Angle: inf}, "angle"},
		{"rotate bad background", job.Op{Name: "rotate", Angle: 45, Background: "white"}, "background"},
		{"rotate background length", job.Op{Name: "rotate", Angle: 45, Background: "fffff"}, "background"},
		{"rotate background two hashes", job.Op{Name: "rotate", Angle: 45, Background: "##fff"}, "background"},
		{"flip without direction", job.Op{Name: "flip"}, "direction"},
		{"flip bad direction", job.Op{Name: "flip", Direction: "x"}, "direction"},
		{"flip long direction", job.Op{Name: "flip", Direction: "horizontal"}, "direction"},
		{"blur sigma 0", job.Op{Name: "blur"}, "sigma"},
		{"blur sigma negative", job.Op{Name: "blur", Sigma: -1}, "sigma"},
		{"blur sigma too big", job.Op{Name: "blur", Sigma: 50.01}, "sigma"},
		{"blur sigma NaN", job.Op{Name: "blur", Sigma: nan}, "sigma"},
		{"sharpen sigma Inf", job.Op{Name: "sharpen", Sigma: inf}, "sigma"},
		{"brightness over 100", job.Op{Name: "brightness", Percent: 100.5}, "percent"},
		{"contrast under -100", job.Op{Name: "contrast", Percent: -101}, "percent"},
		{"contrast NaN", job.Op{Name: "contrast", Percent: nan}, "percent"},
		{"saturation over 500", job.Op{Name: "saturation", Percent: 501}, "percent"},
		{"saturation under -100", job.Op{Name: "saturation", Percent: -101}, "percent"},
		{"gamma 0", job.Op{Name: "gamma"}, "gamma"},
		{"gamma negative", job.Op{Name: "gamma", Gamma: -1}, "gamma"},
		{"gamma over 10", job.Op{Name: "gamma", Gamma: 10.5}, "gamma"},
		{"gamma NaN", job.Op{Name: "gamma", Gamma: nan}, "gamma"},
		{"blur with width", job.Op{Name: "blur", Sigma: 1, Width: 10}, "width does not apply"},
		{"grayscale with percent", job.Op{Name: "grayscale", Percent: 10}, "percent does not apply"},
		{"grayscale with NaN percent", job.Op{Name: "grayscale", Percent: nan}, "percent does not apply"},
		{"resize with anchor", job.Op{Name: "resize", Width: 10, Anchor: "top"}, "anchor does not apply"},
		{"crop with filter", job.Op{Name: "crop", Width: 10, Height: 10, Filter: "box"}, "filter does not apply"},
		{"fit with x", job.Op{Name: "fit", Width: 10, Height: 10, X: 1}, "x does not apply"},
		{"rotate with direction", job.Op{Name: "rotate", Angle: 90, Direction: "h"}, "direction does not apply"},
		{"flip with angle", job.Op{Name: "flip", Direction: "h", Angle: 90}, "angle does not apply"},
		{"invert with background", job.Op{Name: "invert", Background: "fff"}, "background does not apply"},
		{"transpose with sigma", job.Op{Name: "transpose", Sigma: 1}, "sigma does not apply"},
		{"brightness with gamma", job.Op{Name: "brightness", Gamma: 1}, "gamma does not apply"},
		{"gamma with y", job.Op{Name: "gamma", Gamma: 1, Y: 3}, "y does not apply"},
		{"transverse with height", job.Op{Name: "transverse", Height: 3}, "height does not apply"},
		{"watermark without image", job.Op{Name: "watermark"}, "image is required"},
		{"watermark with options but no image", job.Op{Name: "watermark", Opacity: 0.5}, "image is required"},
		{"watermark image with slash", job.Op{Name: "watermark", Image: "../logo"}, "image"},
		{"watermark image with space", job.Op{Name: "watermark", Image: "my logo"}, "image"},
		{"watermark image too long", job.Op{Name: "watermark", Image: strings.Repeat("a", 65)}, "image"},
		{"watermark unknown anchor", job.Op{Name: "watermark", Image: "logo", Anchor: "middle"}, "unknown anchor"},
		{"watermark negative margin", job.Op{Name: "watermark", Image: "logo", Margin: -1}, "margin"},
		{"watermark margin over MaxDimension", job.Op{Name: "watermark", Image: "logo", Margin: 1001}, "margin must be at most 1000"},
		{"watermark negative opacity", job.Op{Name: "watermark", Image: "logo", Opacity: -0.1}, "opacity"},
		{"watermark opacity over 1", job.Op{Name: "watermark", Image: "logo", Opacity: 1.01}, "opacity"},
		{"watermark opacity NaN", job.Op{Name: "watermark", Image: "logo", Opacity: nan}, "opacity"},
		{"watermark negative scale", job.Op{Name: "watermark", Image: "logo", Scale: -0.5}, "scale"},
		{"watermark scale over 1", job.Op{Name: "watermark", Image: "logo", Scale: 2}, "scale"},
		{"watermark scale Inf", job.Op{Name: "watermark", Image: "logo", Scale: inf}, "scale"},
		{"watermark with width", job.Op{Name: "watermark", Image: "logo", Width: 10}, "width does not apply"},
		{"watermark with x", job.Op{Name: "watermark", Image: "logo", X: 10}, "x does not apply"},
		{"resize with image", job.Op{Name: "resize", Width: 10, Image: "logo"}, "image does not apply"},
		{"crop with margin", job.Op{Name: "crop", Width: 10, Height: 10, Margin: 2}, "margin does not apply"},
		{"invert with opacity", job.Op{Name: "invert", Opacity: 0.5}, "opacity does not apply"},
		{"fit with scale", job.Op{Name: "fit", Width: 10, Height: 10, Scale: 0.5}, "scale does not apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op.Validate(testLimits)
			wantInvalid(t, err)
			if msg := job.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not mention %q", msg, tt.msg)
			}
		})
	}
}

// TestEveryOpHasAValidCase keeps TestOpValidateAccepts honest when an op is added.
func TestEveryOpHasAValidCase(t *testing.T) {
	valid := map[string]job.Op{
		"resize": {Width: 1}, "fit": {Width: 1, Height: 1}, "fill": {Width: 1, Height: 1},
		"thumbnail": {Width: 1, Height: 1}, "crop": {Width: 1, Height: 1}, "rotate": {Angle: 90},
		"flip": {Direction: "v"}, "blur": {Sigma: 1}, "sharpen": {Sigma: 1}, "gamma": {Gamma: 1},
		"brightness": {}, "contrast": {}, "saturation": {},
		"transpose": {}, "transverse": {}, "grayscale": {}, "invert": {},
		"watermark": {Image: "logo"},
	}
	names := job.OpNames()
	if !slices.IsSorted(names) {
		t.Errorf("OpNames() = %v, not sorted", names)
	}
	for _, name := range names {
		op, ok := valid[name]
		if !ok {
			t.Errorf("op %q has no test case", name)
			continue
		}
		op.Name = name
		if err := op.Validate(testLimits); err != nil {
			t.Errorf("%+v: %v", op, err)
		}
	}
	if len(names) != len(valid) {
		t.Errorf("OpNames() has %d ops, the test knows %d", len(names), len(valid))
	}
}

func TestSpecValidate(t *testing.T) {
	resize := job.Op{Name: "resize", Width: 100}
	variant := func(name string, ops ...job.Op) job.Variant { return job.Variant{Name: name, Ops: ops} }

	valid := []struct {
		name string
		spec job.Spec
	}{
		{"default variant, no ops", job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant}}}},
		{"one op", job.Spec{Variants: []job.Variant{variant("default", resize)}}},
		{"MaxOps ops", job.Spec{Variants: []job.Variant{variant("a", resize, resize, resize)}}},
		{"MaxVariants variants", job.Spec{Variants: []job.Variant{variant("a"), variant("b")}}},
		{"format and quality", job.Spec{Variants: []job.Variant{{Name: "a", Format: job.FormatWebP, Quality: 100}}}},
		{"quality 1", job.Spec{Variants: []job.Variant{{Name: "a", Format: job.FormatJPEG, Quality: 1}}}},
		{"name characters", job.Spec{Variants: []job.Variant{variant("Thumb_2x-small")}}},
		{"name of 64", job.Spec{Variants: []job.Variant{variant(strings.Repeat("a", 64))}}},
		{"name starting with a digit", job.Spec{Variants: []job.Variant{variant("2x")}}},
		{"lossless webp", job.Spec{Variants: []job.Variant{{Name: "a", Format: job.FormatWebP, Lossless: true}}}},
	}
	for _, tt := range valid {
		t.Run("valid/"+tt.name, func(t *testing.T) {
			if err := tt.spec.Validate(testLimits); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}

	invalid := []struct {
		name string
		spec job.Spec
		msg  string
	}{
		{"no variants", job.Spec{}, "no output"},
		{"too many variants", job.Spec{Variants: []job.Variant{variant("a"), variant("b"), variant("c")}}, "variants"},
		{"too many ops", job.Spec{Variants: []job.Variant{variant("a", resize, resize, resize, resize)}}, "ops"},
		{"empty name", job.Spec{Variants: []job.Variant{variant("")}}, "variant name"},
		{"name with slash", job.Spec{Variants: []job.Variant{variant("a/b")}}, "variant name"},
		{"name with dots", job.Spec{Variants: []job.Variant{variant("..")}}, "variant name"},
		{"name starting with dash", job.Spec{Variants: []job.Variant{variant("-a")}}, "variant name"},
		{"name with space", job.Spec{Variants: []job.Variant{variant("a b")}}, "variant name"},
		{"name too long", job.Spec{Variants: []job.Variant{variant(strings.Repeat("a", 65))}}, "variant name"},
		{"name not ASCII", job.Spec{Variants: []job.Variant{variant("größe")}}, "variant name"},
		{"duplicate variant", job.Spec{Variants: []job.Variant{variant("a"), variant("a")}}, "twice"},
		{"bad format", job.Spec{Variants: []job.Variant{{Name: "a", Format: "avif"}}}, "format"},
		{"format case", job.Spec{Variants: []job.Variant{{Name: "a", Format: "PNG"}}}, "format"},
		{"quality over 100", job.Spec{Variants: []job.Variant{{Name: "a", Quality: 101}}}, "quality"},
		{"quality negative", job.Spec{Variants: []job.Variant{{Name: "a", Quality: -1}}}, "quality"},
		{"lossless png", job.Spec{Variants: []job.Variant{{Name: "a", Format: job.FormatPNG, Lossless: true}}}, "lossless applies to format webp only"},
		{"lossless jpeg", job.Spec{Variants: []job.Variant{{Name: "a", Format: job.FormatJPEG, Lossless: true}}}, "webp only"},
		{"lossless without format", job.Spec{Variants: []job.Variant{{Name: "a", Lossless: true}}}, "webp only"},
		{"lossless with quality", job.Spec{Variants: []job.Variant{{Name: "a", Format: job.FormatWebP, Lossless: true, Quality: 90}}}, "not both"},
		{"bad op", job.Spec{Variants: []job.Variant{variant("a", resize, job.Op{Name: "blur"})}}, "op 2: blur: sigma"},
		{"bad op in second variant", job.Spec{Variants: []job.Variant{variant("a"), variant("b", job.Op{Name: "nope"})}}, "op 1: unknown op"},
	}
	for _, tt := range invalid {
		t.Run("invalid/"+tt.name, func(t *testing.T) {
			err := tt.spec.Validate(testLimits)
			wantInvalid(t, err)
			if msg := job.ErrorMessage(err); !strings.Contains(msg, tt.msg) {
				t.Errorf("message %q does not mention %q", msg, tt.msg)
			}
		})
	}

	// Zero limits mean no limit on counts.
	many := job.Spec{}
	for _, n := range []string{"a", "b", "c", "d"} {
		many.Variants = append(many.Variants, variant(n, resize, resize, resize, resize, resize))
	}
	if err := many.Validate(job.Limits{}); err != nil {
		t.Errorf("many variants and ops with no limits: %v", err)
	}
}

// TestSpecValidateIsRepeatable checks that Validate does not change what a second
// call reports (it prefixes op errors with the op's position).
func TestSpecValidateIsRepeatable(t *testing.T) {
	spec := job.Spec{Variants: []job.Variant{{Name: "a", Ops: []job.Op{{Name: "blur"}}}}}
	first := job.ErrorMessage(spec.Validate(testLimits))
	second := job.ErrorMessage(spec.Validate(testLimits))
	if first != second {
		t.Errorf("messages differ: %q then %q", first, second)
	}
}
