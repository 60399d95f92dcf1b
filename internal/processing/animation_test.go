package processing

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/gif"
	"testing"

	"github.com/disintegration/imaging"
	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/job"
)

const animatedGIF = "gif-animated-42frames-local-palettes-245x245.gif"

// frames returns every frame of an encoded GIF composited as a viewer shows it.
func frames(t *testing.T, data []byte) (*gif.GIF, []image.Image) {
	t.Helper()
	g, err := gif.DecodeAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode gif: %v", err)
	}
	var out []image.Image
	if err := composite(g, func(_ int, f *image.NRGBA) error {
		out = append(out, imaging.Clone(f))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return g, out
}

// TestAnimatedGIF: GIF output keeps every frame (composited, then processed), the
// delays and the loop count; any other output is the first frame.
func TestAnimatedGIF(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, animatedGIF)
	srcGIF, srcFrames := frames(t, src)
	res, err := p.Run(context.Background(), bytes.NewReader(src), job.Spec{Variants: []job.Variant{
		{Name: "anim", Ops: []job.Op{{Name: "resize", Width: 100}}},
		{Name: "still", Format: job.FormatPNG},
		{Name: "same", Format: job.FormatGIF},
	}})
	if err != nil {
		t.Fatal(err)
	}

	anim := res[0]
	if anim.Format != job.FormatGIF || anim.Frames != 42 || anim.Width != 100 || anim.Height != 100 {
		t.Fatalf("anim: %s, %d frames, %dx%d; want gif, 42 frames, 100x100", anim.Format, anim.Frames, anim.Width, anim.Height)
	}
	g, got := frames(t, anim.Data)
	if len(got) != 42 {
		t.Fatalf("%d frames, want 42", len(got))
	}
	if diff := cmp.Diff(srcGIF.Delay, g.Delay); diff != "" {
		t.Errorf("delays (-source +output):\n%s", diff)
	}
	if g.LoopCount != srcGIF.LoopCount {
		t.Errorf("loop count %d, want %d", g.LoopCount, srcGIF.LoopCount)
	}
	var worst float64
	for i, f := range got {
		// Dithering to a fixed palette is noisy pixel by pixel; compare at a
		// quarter of the size, as the eye does.
		d := meanAbsDiff(t, imaging.Resize(f, 25, 25, imaging.Box), imaging.Resize(srcFrames[i], 25, 25, imaging.Box))
		worst = max(worst, d)
		if d > 6 {
			t.Errorf("frame %d differs from the resized source frame by %.2f", i+1, d)
		}
	}
	t.Logf("worst frame mean difference %.2f", worst)
	// The frames must differ (an animation, not one frame 42 times).
	if d := meanAbsDiff(t, got[0], got[20]); d < 1 {
		t.Errorf("frames 1 and 21 differ by only %.2f", d)
	}

	// Without ops the first frame has the colours of one palette and comes out
	// exact; later ones are composited over earlier ones' palettes (here, the
	// bottom rows of frame 1 stay), so they may need dithering.
	_, same := frames(t, res[2].Data)
	if len(same) != 42 {
		t.Fatalf("unprocessed: %d frames, want 42", len(same))
	}
	if d := meanAbsDiff(t, same[0], srcFrames[0]); d != 0 {
		t.Errorf("unprocessed frame 1 differs by %.2f", d)
	}
	for i, f := range same {
		small := func(img image.Image) image.Image { return imaging.Resize(img, 61, 61, imaging.Box) }
		if d := meanAbsDiff(t, small(f), small(srcFrames[i])); d > 6 {
			t.Errorf("unprocessed frame %d differs by %.2f", i+1, d)
		}
	}

	still := res[1]
	img, format := decodeResult(t, still.Data)
	if format != "png" || still.Frames != 1 || dims(img) != image.Pt(245, 245) {
		t.Fatalf("still: %s, %d frames, %v; want png, 1 frame, 245x245", format, still.Frames, dims(img))
	}
	if d := meanAbsDiff(t, img, srcFrames[0]); d != 0 {
		t.Errorf("still differs from the first frame by %.2f", d)
	}
}

// TestAnimatedGIFFirstFrameOnly: without a GIF output, only the first frame is
// decoded (a frame that does not cover the screen shows the transparent canvas).
func TestAnimatedGIFFirstFrameOnly(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, animatedGIF)
	_, srcFrames := frames(t, src)
	r := runOne(t, p, src, job.Variant{Ops: []job.Op{{Name: "flip", Direction: "h"}}, Format: job.FormatPNG})
	img, _ := decodeResult(t, r.Data)
	if d := meanAbsDiff(t, img, imaging.FlipH(srcFrames[0])); d != 0 {
		t.Errorf("differs from the flipped first frame by %.2f", d)
	}
}

// TestComposite follows each disposal method on a 4×4 screen.
func TestComposite(t *testing.T) {
	clearC := color.NRGBA{}
	green := color.NRGBA{G: 255, A: 255}
	pal := color.Palette{color.RGBA{}, red, blue, green, white}
	frame := func(r image.Rectangle, idx uint8) *image.Paletted {
		f := image.NewPaletted(r, pal)
		for i := range f.Pix {
			f.Pix[i] = idx
		}
		return f
	}
	hole := frame(image.Rect(1, 0, 4, 1), 4) // white with a transparent pixel at (2,0)
	hole.SetColorIndex(2, 0, 0)
	g := &gif.GIF{
		Image: []*image.Paletted{
			frame(image.Rect(0, 0, 4, 4), 1), // red everywhere
			frame(image.Rect(0, 0, 2, 2), 2), // blue, then cleared
			frame(image.Rect(3, 3, 4, 4), 3), // green, then restored to what was there
			hole,
		},
		Delay:    []int{1, 2, 3, 4},
		Disposal: []byte{gif.DisposalNone, gif.DisposalBackground, gif.DisposalPrevious, gif.DisposalNone},
		Config:   image.Config{Width: 4, Height: 4},
	}
	want := []map[image.Point]color.NRGBA{
		{{0, 0}: red, {3, 3}: red},
		{{0, 0}: blue, {1, 1}: blue, {2, 2}: red},
		{{0, 0}: clearC, {1, 1}: clearC, {3, 3}: green, {2, 2}: red},
		{{0, 0}: clearC, {3, 3}: red, {1, 0}: white, {2, 0}: red, {3, 0}: white},
	}
	n := 0
	err := composite(g, func(i int, f *image.NRGBA) error {
		n++
		for pt, c := range want[i] {
			if got := at(f, pt.X, pt.Y); got != c {
				t.Errorf("frame %d pixel %v = %v, want %v", i+1, pt, got, c)
			}
		}
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("composite: %v after %d frames", err, n)
	}

	// Through Run unchanged, the output shows the same pictures, transparency
	// included: each frame disposes to transparent when the next has any.
	var buf bytes.Buffer
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	p := newTestProcessor(t, nil)
	r := runOne(t, p, buf.Bytes(), job.Variant{})
	_, got := frames(t, r.Data)
	_, src := frames(t, buf.Bytes())
	if len(got) != 4 {
		t.Fatalf("%d frames, want 4", len(got))
	}
	for i := range got {
		for y := range 4 {
			for x := range 4 {
				if a, b := at(got[i], x, y), at(src[i], x, y); a != b {
					t.Errorf("frame %d pixel (%d,%d) = %v, want %v", i+1, x, y, a, b)
				}
			}
		}
	}
}

func TestGIFLimits(t *testing.T) {
	src := readImage(t, animatedGIF)
	const pixels = 245 * 245 * 42
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"defaults", nil, true},
		{"frames at the limit", func(c *Config) { c.MaxFrames = 42 }, true},
		{"one frame too many", func(c *Config) { c.MaxFrames = 41 }, false},
		{"pixels at the limit", func(c *Config) { c.MaxAnimationPixels = pixels }, true},
		{"one pixel too many", func(c *Config) { c.MaxAnimationPixels = pixels - 1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProcessor(t, tt.edit)
			info, err := p.Probe(bytes.NewReader(src))
			_, runErr := p.Run(context.Background(), bytes.NewReader(src), job.Spec{Variants: []job.Variant{
				{Name: "default", Format: job.FormatPNG, Ops: []job.Op{{Name: "resize", Width: 8, Filter: "box"}}},
			}})
			if tt.ok {
				if err != nil || info.Frames != 42 || runErr != nil {
					t.Fatalf("Probe = %+v, %v; Run: %v", info, err, runErr)
				}
				return
			}
			wantCode(t, err, job.CodeImageTooLarge)
			wantCode(t, runErr, job.CodeImageTooLarge)
		})
	}

	// The output animation is held to the same limit: 42 frames of 300×300 are
	// more than 42 frames of 245×245.
	p := newTestProcessor(t, func(c *Config) { c.MaxAnimationPixels = pixels })
	_, err := p.Run(context.Background(), bytes.NewReader(src), job.Spec{Variants: []job.Variant{
		{Name: "default", Ops: []job.Op{{Name: "resize", Width: 300}}},
	}})
	wantCode(t, err, job.CodeImageTooLarge)
}

// TestProbeGIFStreams: counting frames reads the whole file but keeps no pixels.
func TestProbeGIFStreams(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, animatedGIF)
	if n := allocated(func() {
		if _, err := p.Probe(bytes.NewReader(src)); err != nil {
			t.Error(err)
		}
	}); n > 64<<10 {
		t.Errorf("Probe of a %d-byte GIF allocated %d bytes", len(src), n)
	}
}

func TestGIFStructureErrors(t *testing.T) {
	p := newTestProcessor(t, nil)
	src := readImage(t, animatedGIF)
	tests := []struct {
		name string
		data []byte
	}{
		{"truncated in a frame", src[:len(src)/2]},
		{"no trailer", src[:len(src)-1]},
		{"header only", src[:13]},
		{"unknown block", append(append([]byte{}, src[:len(src)-1]...), 0x99)},
		{"no frames", append(append([]byte{}, src[:13]...), gifTrailer)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Probe(bytes.NewReader(tt.data))
			wantCode(t, err, job.CodeUnsupportedMedia)
			_, err = p.Run(context.Background(), bytes.NewReader(tt.data), job.Spec{Variants: []job.Variant{{Name: "default"}}})
			wantCode(t, err, job.CodeCorruptImage)
		})
	}
}

// TestGIFPartialFirstFrame: a first frame smaller than the screen is shown on the
// full (transparent) screen, as a viewer shows it, for any output.
func TestGIFPartialFirstFrame(t *testing.T) {
	pal := color.Palette{color.RGBA{}, red}
	m := image.NewPaletted(image.Rect(2, 2, 4, 4), pal)
	for i := range m.Pix {
		m.Pix[i] = 1
	}
	var buf bytes.Buffer
	g := &gif.GIF{Image: []*image.Paletted{m}, Delay: []int{0}, Config: image.Config{Width: 6, Height: 6, ColorModel: pal}}
	if err := gif.EncodeAll(&buf, g); err != nil {
		t.Fatal(err)
	}
	p := newTestProcessor(t, nil)
	img, _ := decodeResult(t, runOne(t, p, buf.Bytes(), job.Variant{Format: job.FormatPNG}).Data)
	if dims(img) != image.Pt(6, 6) || at(img, 2, 2) != red || at(img, 0, 0).A != 0 {
		t.Errorf("got %v, (2,2) %v, (0,0) %v; want 6x6, red, transparent", dims(img), at(img, 2, 2), at(img, 0, 0))
	}
}
