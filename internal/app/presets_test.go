package app

import (
	"strings"
	"testing"

	"github.com/pixmill/pixmill/internal/config"
	"github.com/pixmill/pixmill/internal/job"
)

func TestPresetsAreCheckedAtStart(t *testing.T) {
	lim := job.Limits{MaxOps: 5, MaxDimension: 1000}
	good, err := presets(map[string]config.Preset{"t": {Ops: "thumbnail:w=200,h=200", Format: "jpg", Quality: 80}}, lim)
	if err != nil || good["t"].Format != job.FormatJPEG || len(good["t"].Ops) != 1 {
		t.Fatalf("valid preset: %+v %v", good, err)
	}
	for name, p := range map[string]config.Preset{
		"bad ops":    {Ops: "explode"},
		"bad format": {Ops: "blur:sigma=1", Format: "heic"},
		"too big":    {Ops: "resize:w=5000"},
		"bad params": {Ops: "resize:w=abc"},
	} {
		if _, err := presets(map[string]config.Preset{"x": p}, lim); err == nil || !strings.Contains(err.Error(), "presets.x") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
