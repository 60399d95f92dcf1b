package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSweepTemp(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "sources/a", strings.NewReader("keep")); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "sources", TempPrefix+"crashed")
	fresh := filepath.Join(dir, "sources", TempPrefix+"writing")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	n, err := s.SweepTemp(t.Context(), time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want 1", n, err)
	}
	for p, want := range map[string]bool{old: false, fresh: true, filepath.Join(dir, "sources", "a"): true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", p, err == nil, want)
		}
	}
}
