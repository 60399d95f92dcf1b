package processing

import (
	"bytes"
	"context"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
)

// BenchmarkLevers runs the reference workloads W1–W5 two at a time (b.RunParallel
// with GOMAXPROCS goroutines; 2 on the reference machines), so images/s is the
// throughput of a busy 2-core worker. docs/levers.md has the numbers and the
// commands. The photos are read from $PIXMILL_BENCH_IMAGES (default
// ../../../shared/testdata/images); a benchmark whose photo is absent is skipped.
func BenchmarkLevers(b *testing.B) {
	resize800 := []job.Op{{Name: "resize", Width: 800}}
	fill200 := []job.Op{{Name: "fill", Width: 200, Height: 200, Anchor: "center"}}
	for _, w := range []struct {
		name, file string
		ops        []job.Op
		format     job.Format
	}{
		{"W1", "photo-12mp-4032x3024-iphone-displayp3-orient6.jpg", resize800, job.FormatJPEG},
		{"W2", "photo-12mp-4032x3024-iphone-displayp3-orient6.jpg", fill200, job.FormatJPEG},
		{"W3", "photo-2mp-1920x1080-road.jpg", resize800, job.FormatJPEG},
		{"W4", "photo-2mp-1920x1080-road.jpg", fill200, job.FormatJPEG},
		{"W5", "png:photo-2mp-1920x1080-road.jpg", resize800, ""},
	} {
		for _, lv := range leverSets {
			b.Run(w.name+"/"+lv.name, func(b *testing.B) {
				benchWorkload(b, w.file, w.ops, w.format, lv.shrink, lv.twoStage)
			})
		}
	}
}

// leverSets are the lever combinations compared: none is the code before them.
var leverSets = []struct {
	name             string
	shrink, twoStage bool
}{
	{"none", false, false},
	{"shrink-on-load", true, false}, // DefaultConfig
	{"two-stage", false, true},
	{"both", true, true},
}

func benchWorkload(b *testing.B, file string, ops []job.Op, format job.Format, shrink, twoStage bool) {
	src := leverSource(b, file)
	cfg := DefaultConfig()
	cfg.ShrinkOnLoad, cfg.TwoStageResize = shrink, twoStage
	p, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	spec := job.Spec{Variants: []job.Variant{{Name: "default", Ops: ops, Format: format}}}
	if format == job.FormatJPEG {
		spec.Variants[0].Quality = 80
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(src)))
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Run(context.Background(), bytes.NewReader(src), spec); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	// CPU time is what a shared, busy machine disturbs least.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

var leverSources sync.Map // name → []byte

// leverSource reads a large photo; "png:<photo>" is the photo re-encoded as PNG
// by image/png at its default compression (W5's source, as cmd/pixmill-bench makes).
func leverSource(b *testing.B, name string) []byte {
	b.Helper()
	if v, ok := leverSources.Load(name); ok {
		return v.([]byte)
	}
	dir := os.Getenv("PIXMILL_BENCH_IMAGES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "testdata", "images")
	}
	file, toPNG := name, false
	if len(name) > 4 && name[:4] == "png:" {
		file, toPNG = name[4:], true
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		b.Skipf("%v (set PIXMILL_BENCH_IMAGES to the shared image folder)", err)
	}
	if toPNG {
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if err := png.Encode(&out, img); err != nil {
			b.Fatal(err)
		}
		data = out.Bytes()
	}
	leverSources.Store(name, data)
	return data
}
